export { readState as readRollupState, restartLedgerCount } from './analytics.repository.js';
export { type AnalyticsRollup, createAnalyticsRollup, uuidv7Floor } from './analytics.rollup.js';
export { analyticsRoutes } from './analytics.routes.js';
export {
  type AnalyticsService,
  type CampaignReport,
  type Conversion,
  createAnalyticsService,
  formatAmount,
} from './analytics.service.js';
