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
export { createWebhookIntake, SNS_SUBSCRIBE_URL, type WebhookIntake } from './webhook-intake.js';
