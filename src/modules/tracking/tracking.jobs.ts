import type { TaskRegistry } from '../../jobs/index.js';
import type { TrackingService } from './tracking.service.js';

export const RECLASSIFY_TASK = 'tracking.reclassify';

/** `tracking.reclassify` {workspaceId, campaignId}: re-runs the classification over a campaign's stored hits. */
export function trackingTasks(deps: { tracking: Pick<TrackingService, 'reclassify'> }): TaskRegistry {
  return {
    [RECLASSIFY_TASK]: async (payload) => {
      const p = payload as { workspaceId?: unknown; campaignId?: unknown };
      if (typeof p?.workspaceId !== 'string' || typeof p.campaignId !== 'string') {
        throw new Error(`${RECLASSIFY_TASK}: malformed payload`);
      }
      await deps.tracking.reclassify(p.workspaceId, p.campaignId);
    },
  };
}
