export {
  EVENT_MAX_BYTES,
  type NormalizedEvent,
  normalizeEvent,
  RESERVED_EVENT_NAMES,
} from './event-payloads.js';
export { eventTasks, MAINTAIN_TASK } from './events.jobs.js';
export { eventsRoutes } from './events.routes.js';
export { BATCH_MAX_EVENTS } from './events.schemas.js';
export {
  type BatchOutcome,
  createEventService,
  type EventService,
  type RecordedEvent,
} from './events.service.js';
