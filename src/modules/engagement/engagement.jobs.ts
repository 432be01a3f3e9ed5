import type { TaskRegistry } from '../../jobs/index.js';
import type { EngagementService } from './engagement.service.js';

export const ENGAGEMENT_REFRESH_TASK = 'engagement.refresh';
export const ENGAGEMENT_TRAIN_TASK = 'engagement.train';

/**
 * `engagement.refresh` {}: recomputes every contact of every workspace.
 * `engagement.train` {}: trains both models of every workspace, then
 * refreshes the workspaces that got a new model, so predictions never lag a
 * model by a refresh period.
 */
export function engagementTasks(deps: {
  engagement: Pick<EngagementService, 'refresh' | 'train'>;
}): TaskRegistry {
  return {
    [ENGAGEMENT_REFRESH_TASK]: async () => {
      await deps.engagement.refresh();
    },
    [ENGAGEMENT_TRAIN_TASK]: async () => {
      for (const summary of await deps.engagement.train()) {
        if (summary.results.some((r) => r.status === 'trained'))
          await deps.engagement.refresh(summary.workspace_id);
      }
    },
  };
}
