export {
  type CampaignSender,
  type CampaignSenderOptions,
  createCampaignSender,
  type IncludedAudience,
  type PreparedCampaign,
  type SendingPorts,
} from './campaign-sender.js';
export { campaignsRoutes } from './campaigns.routes.js';
export {
  type Campaign,
  type CampaignService,
  type CampaignSettings,
  createCampaignService,
} from './campaigns.service.js';
export { experimentTasks } from './experiments.jobs.js';
export { experimentsRoutes } from './experiments.routes.js';
export {
  type AbTestReport,
  createExperimentService,
  DECIDE_TASK,
  type ExperimentService,
} from './experiments.service.js';
export type { ClaimedRecipient } from './sends.repository.js';
