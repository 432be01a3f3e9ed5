import type { TaskRegistry } from '../../jobs/index.js';
import type { SegmentMembership } from './segment-membership.js';

export const REFRESH_TASK = 'segments.refresh';

/** `segments.refresh` {}: records who entered and left each saved segment since the last round. */
export function segmentTasks(deps: { membership: Pick<SegmentMembership, 'refresh'> }): TaskRegistry {
  return {
    [REFRESH_TASK]: async () => {
      await deps.membership.refresh();
    },
  };
}
