export {
  type BeaconAnswer,
  type BeaconRequest,
  type Beacons,
  createBeacons,
  PIXEL_GIF,
} from './beacons.js';
export {
  type ClassifiableHit,
  type ClassifierOptions,
  classifyHit,
  classifySequence,
  createSequenceClassifier,
  DEFAULT_CLASSIFIER_OPTIONS,
  isMachine,
  type Label,
  labelByItself,
} from './classification.js';
export { createHitWriter, type HitWriter, type HitWriterStats } from './hit-writer.js';
export { anonymizeIp } from './ip-address.js';
export {
  destinationUrl,
  prepareTracking,
  scanTemplate,
  type TemplateScan,
  type Tracker,
  type TrackingIds,
  UTM_KEYS,
} from './link-tracking.js';
export { RECLASSIFY_TASK, trackingTasks } from './tracking.jobs.js';
export { trackingBeaconRoutes, trackingRoutes } from './tracking.routes.js';
export {
  type BeaconOutcome,
  createTrackingService,
  ipAnonymizationOf,
  type TrackingService,
  type TrackingStats,
} from './tracking.service.js';
