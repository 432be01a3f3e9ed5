import type { TaskRegistry } from '../../jobs/index.js';
import type { EventService } from './events.service.js';

export const MAINTAIN_TASK = 'events.maintain';

/** `events.maintain` {}: partitions for the coming months, retention, and forgetting old message ids. */
export function eventTasks(deps: { events: Pick<EventService, 'maintain'> }): TaskRegistry {
  return {
    [MAINTAIN_TASK]: async () => {
      await deps.events.maintain();
    },
  };
}
