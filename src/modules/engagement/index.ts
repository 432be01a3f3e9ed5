export {
  ENGAGEMENT_REFRESH_TASK,
  ENGAGEMENT_TRAIN_TASK,
  engagementTasks,
} from './engagement.jobs.js';
export { predictedOpenBelow } from './engagement.repository.js';
export { engagementRoutes } from './engagement.routes.js';
export { ContactEngagementSchema } from './engagement.schemas.js';
export {
  type ContactEngagement,
  createEngagementService,
  type EngagementService,
} from './engagement.service.js';
export { AT_RISK, isAtRisk, SCORE_HALF_LIFE_DAYS, SCORE_WEIGHTS } from './engagement-score.js';
export { hourOfWeek } from './send-time.js';
