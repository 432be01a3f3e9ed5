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
export type { ClaimedRecipient } from './sends.repository.js';
