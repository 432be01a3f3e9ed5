import type { TaskRegistry } from '../../jobs/index.js';
import { CONFIRMATION_TASK, type ConfirmationService } from './confirmations.service.js';

export function confirmationTasks(deps: { confirmations: ConfirmationService }): TaskRegistry {
  return {
    [CONFIRMATION_TASK]: async (payload) => {
      const p = payload as { workspaceId?: unknown; listId?: unknown; contactId?: unknown };
      if (
        typeof p?.workspaceId !== 'string' ||
        typeof p.listId !== 'string' ||
        typeof p.contactId !== 'string'
      ) {
        throw new Error(`${CONFIRMATION_TASK}: malformed payload`);
      }
      await deps.confirmations.sendConfirmation(p.workspaceId, p.listId, p.contactId);
    },
  };
}
