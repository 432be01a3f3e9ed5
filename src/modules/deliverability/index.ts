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
export { createWebhookIntake, SNS_SUBSCRIBE_URL, type WebhookIntake } from './webhook-intake.js';
