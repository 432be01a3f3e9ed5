export { ConnectorError, realSleep, retryAfterMs, type Sleep } from './connector-http.js';
export { crmTasks } from './crm.jobs.js';
export { crmRoutes } from './crm.routes.js';
export {
  CRM_RUN_TASK,
  CRM_SYNC_TASK,
  type CrmService,
  createCrmService,
  type RunView,
  shareUnlessDoNotSell,
} from './crm.service.js';
export { type CrmMapping, createCrmMapping, type FieldMapping } from './crm-mapping.service.js';
export { createMailgunEventsFetcher, type MailgunEventsFetcher } from './mailgun-events.js';
export { createSendgridStatsFetcher, type SendgridStatsFetcher } from './sendgrid-stats.js';
