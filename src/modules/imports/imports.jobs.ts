import type { TaskRegistry } from '../../jobs/index.js';
import { IMPORT_TASK, type ImportJobPayload, type ImportService } from './imports.service.js';

function isPayload(payload: unknown): payload is ImportJobPayload {
  const p = payload as Partial<ImportJobPayload> | null;
  return (
    typeof p?.importId === 'string' &&
    (p.listId === null || typeof p.listId === 'string') &&
    (p.memberStatus === 'confirmed' || p.memberStatus === 'unconfirmed') &&
    typeof p.statusAsserted === 'boolean'
  );
}

/** The imports module's background tasks, merged into the runner's registry by the container. */
export function importTasks(deps: { imports: ImportService }): TaskRegistry {
  return {
    [IMPORT_TASK]: {
      run: async (payload, context) => {
        // A malformed payload can never succeed: failing loudly beats retrying it.
        if (!isPayload(payload)) throw new Error(`${IMPORT_TASK}: malformed payload`);
        await deps.imports.run(payload, { attempt: context.attempt, signal: context.signal });
      },
      onGiveUp: async (payload) => {
        if (isPayload(payload)) await deps.imports.abandon(payload.importId);
      },
    },
  };
}
