import type { TaskRegistry } from '../../jobs/index.js';
import type { ThrottlingService } from './throttling.service.js';

export const PRUNE_TASK = 'throttling.prune';

/** `throttling.prune` {}: drops the counters of windows that ended days ago (hourly). */
export function throttlingTasks(deps: { throttling: Pick<ThrottlingService, 'prune'> }): TaskRegistry {
  return {
    [PRUNE_TASK]: async () => {
      await deps.throttling.prune();
    },
  };
}
