export { ConnectorError, realSleep, retryAfterMs, type Sleep } from './connector-http.js';
export { crmTasks } from './crm.jobs.js';
export { crmRoutes } from './crm.routes.js';
export {
  CRM_RUN_TASK,
  type CrmService,
  createCrmService,
  MAILCHIMP_SYNC_TASK,
  type RunView,
  shareUnlessDoNotSell,
} from './crm.service.js';
export { type CrmMapping, createCrmMapping, type FieldMapping } from './crm-mapping.service.js';
