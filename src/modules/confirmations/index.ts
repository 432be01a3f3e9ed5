export { confirmationTasks } from './confirmations.jobs.js';
export { confirmationsRoutes } from './confirmations.routes.js';
export {
  CONFIRM_TOKEN_TTL_MS,
  CONFIRMATION_TASK,
  type ConfirmationService,
  type ConfirmationSuppressions,
  createConfirmationService,
  enqueueConfirmations,
} from './confirmations.service.js';
