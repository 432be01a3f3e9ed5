import type { Db } from '../../db/index.js';
import type { TaskRegistry } from '../../jobs/index.js';
import type { Clock } from '../../lib/clock.js';
import { eraseEverywhere } from './erasure.repository.js';
import * as repo from './retention.repository.js';
import { RETENTION_KINDS, type RetentionDays } from './retention.repository.js';

export const RETENTION_TASK = 'privacy.retention';
const DAY_MS = 86_400_000;

export interface RetentionSettings extends RetentionDays {
  last_run_at: Date | null;
  last_run_deleted: Record<string, number> | null;
}

export interface RetentionPolicyDeps {
  db: Db;
  clock: Clock;
  logger: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Rows per deleting statement. */
  batchSize?: number;
  /** Statements per kind and run: the rest waits for the next run, so one run stays short. */
  maxBatches?: number;
}

const NONE: RetentionDays = {
  events_days: null,
  tracking_hits_days: null,
  send_ledger_days: null,
  message_bodies_days: null,
  bounce_details_days: null,
  consent_records_days: null,
  unsubscribed_contacts_days: null,
};

function settingsOf(row: repo.RetentionRow | undefined): RetentionSettings {
  if (!row) return { ...NONE, last_run_at: null, last_run_deleted: null };
  const days = Object.fromEntries(
    RETENTION_KINDS.map((kind) => [`${kind}_days`, row[`${kind}_days`]]),
  ) as RetentionDays;
  return { ...days, last_run_at: row.last_run_at, last_run_deleted: row.last_run_deleted ?? null };
}

/**
 * Retention per workspace and kind of data: what is older than its period is
 * deleted (or, for message payloads and bounce details, cleared) by the
 * periodic `privacy.retention` job, in batches. Nothing is deleted by default.
 */
export function createRetentionPolicy(deps: RetentionPolicyDeps) {
  const { db, clock, logger } = deps;
  const batchSize = deps.batchSize ?? 5000;
  const maxBatches = deps.maxBatches ?? 20;

  async function purgeUnsubscribed(workspaceId: string, cutoff: Date): Promise<number> {
    let deleted = 0;
    for (let batch = 0; batch < maxBatches; batch++) {
      const stale = await repo.staleUnsubscribed(db, workspaceId, cutoff, Math.min(batchSize, 500));
      for (const contact of stale) {
        // Everything about the contact goes, as in an erasure, but no erased entry stays:
        // the person may subscribe again.
        await db.transaction().execute((trx) =>
          eraseEverywhere(trx, {
            workspaceId,
            contactId: contact.id,
            externalId: contact.external_id,
            emailKey: contact.email_key,
          }),
        );
        deleted++;
      }
      if (stale.length === 0) break;
    }
    return deleted;
  }

  const policy = {
    async settings(workspaceId: string): Promise<RetentionSettings> {
      return settingsOf(await repo.findRetention(db, workspaceId));
    },

    /** Fields left out keep their value; null keeps the data. */
    async update(workspaceId: string, patch: Partial<RetentionDays>): Promise<RetentionSettings> {
      const current = settingsOf(await repo.findRetention(db, workspaceId));
      const days = Object.fromEntries(
        RETENTION_KINDS.map((kind) => {
          const key = `${kind}_days` as const;
          return [key, patch[key] !== undefined ? patch[key] : current[key]];
        }),
      ) as RetentionDays;
      return settingsOf(await repo.saveRetention(db, workspaceId, days, clock.now()));
    },

    /** Applies the workspace's periods now; rows deleted (or cleared) per kind. */
    async run(workspaceId: string): Promise<Record<string, number>> {
      const settings = settingsOf(await repo.findRetention(db, workspaceId));
      const now = clock.now();
      const deleted: Record<string, number> = {};
      for (const kind of RETENTION_KINDS) {
        const days = settings[`${kind}_days`];
        if (days === null) continue;
        const cutoff = new Date(now.getTime() - days * DAY_MS);
        if (kind === 'unsubscribed_contacts') {
          deleted[kind] = await purgeUnsubscribed(workspaceId, cutoff);
          continue;
        }
        let total = 0;
        for (let batch = 0; batch < maxBatches; batch++) {
          const n = await repo.purgeBatch(db, kind, workspaceId, cutoff, batchSize);
          total += n;
          if (n < batchSize) break;
        }
        deleted[kind] = total;
      }
      await repo.recordRun(db, workspaceId, now, deleted);
      return deleted;
    },

    async runAll(): Promise<void> {
      for (const row of await repo.workspacesWithRetention(db)) {
        try {
          const deleted = await policy.run(row.workspace_id);
          if (Object.values(deleted).some((n) => n > 0))
            logger.info({ workspace_id: row.workspace_id, deleted }, 'retention policy deleted old data');
        } catch (error) {
          logger.error(
            { workspace_id: row.workspace_id, err: (error as Error).message },
            'retention policy failed',
          );
        }
      }
    },
  };
  return policy;
}

export type RetentionPolicy = ReturnType<typeof createRetentionPolicy>;

/** `privacy.retention` {}: applies every workspace's retention periods (a batch limit per run). */
export function retentionTasks(deps: { retention: Pick<RetentionPolicy, 'runAll'> }): TaskRegistry {
  return {
    [RETENTION_TASK]: async () => {
      await deps.retention.runAll();
    },
  };
}
