import type { TaskRegistry } from '../../jobs/index.js';
import { CRM_RUN_TASK, CRM_SYNC_TASK, type CrmRunPayload, type CrmService } from './crm.service.js';

function isPayload(payload: unknown): payload is CrmRunPayload {
  const p = payload as Partial<CrmRunPayload> | null;
  return typeof p?.workspaceId === 'string' && typeof p.runId === 'string';
}

/** The CRM connectors' background tasks, merged into the runner's registry by the container. */
export function crmTasks(deps: { crm: CrmService }): TaskRegistry {
  return {
    [CRM_RUN_TASK]: {
      run: async (payload, context) => {
        if (!isPayload(payload)) throw new Error(`${CRM_RUN_TASK}: malformed payload`);
        await deps.crm.execute(payload, context.signal);
      },
      onGiveUp: async (payload, reason) => {
        if (isPayload(payload)) await deps.crm.abandon(payload, reason);
      },
    },
    [CRM_SYNC_TASK]: async () => {
      await deps.crm.scheduleSyncs();
    },
  };
}
