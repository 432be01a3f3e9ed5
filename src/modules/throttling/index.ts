export { PRUNE_TASK, throttlingTasks } from './throttling.jobs.js';
export { throttlingRoutes } from './throttling.routes.js';
export {
  createThrottlingService,
  type Envelope,
  type ThrottleRule,
  type ThrottlingService,
  type WarmupSchedule,
} from './throttling.service.js';
