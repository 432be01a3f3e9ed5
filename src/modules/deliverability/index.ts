export { deliverabilityTasks, IMAP_POLL_TASK } from './deliverability.jobs.js';
export { deliverabilityRoutes, webhookRoutes } from './deliverability.routes.js';
export {
  type AppliedReport,
  type BounceReport,
  createDeliverabilityService,
  type DeliverabilityService,
  digest,
  emailKey,
  refusalReport,
  reportFromProviderEvent,
  reportsFromParsed,
  type SendRefusal,
} from './deliverability.service.js';
export { createImapPoller, describeImapError, type ImapPoller, type PollSummary } from './imap-poller.js';
export { candidates as sunsetCandidates, type SunsetCriteria } from './sunset.repository.js';
export { sunsetRoutes } from './sunset.routes.js';
export {
  createSunsetPolicy,
  SUNSET_TASK,
  type SunsetPolicy,
  sunsetTasks,
} from './sunset-policy.js';
export type { MailtoUnsubscribePort, UnsubscribeMailResult } from './unsubscribe-mail.js';
export { createWebhookIntake, SNS_SUBSCRIBE_URL, type WebhookIntake } from './webhook-intake.js';
