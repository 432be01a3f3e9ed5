export {
  type CompiledSegment,
  compileSegment,
  matchingContactsSql,
  propertyFiltersSql,
  type SegmentContext,
} from './segment-compiler.js';
export {
  type Condition,
  checkAttributeTypes,
  checkDefinition,
  references as conditionReferences,
} from './segment-definition.js';
export { createSegmentMembership, type SegmentMembership } from './segment-membership.js';
export { REFRESH_TASK, segmentTasks } from './segments.jobs.js';
export { segmentsRoutes } from './segments.routes.js';
export {
  compileSavedSegment,
  contactMatches,
  createSegmentService,
  type Segment,
  type SegmentService,
} from './segments.service.js';
