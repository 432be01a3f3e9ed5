import type { TaskRegistry } from '../../jobs/index.js';
import { DECIDE_TASK, type ExperimentService } from './experiments.service.js';

/** `campaigns.ab_decide` {}: decides the A/B tests whose window has ended (periodic). */
export function experimentTasks(deps: { experiments: Pick<ExperimentService, 'decideDue'> }): TaskRegistry {
  return {
    [DECIDE_TASK]: async () => {
      await deps.experiments.decideDue();
    },
  };
}
