import type { RawBuilder } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from '../../db/index.js';
import type { TaskRegistry } from '../../jobs/index.js';
import type { Clock } from '../../lib/clock.js';
import * as repo from './sunset.repository.js';

/**
 * The sunset policy: a workspace may stop mailing contacts who stopped
 * engaging. Contacts with no human or proxy open or click and no conversion
 * for `inactive_days`, who were sent at least `min_emails` tracked marketing
 * emails in that time and were created before it, go on the suppression list
 * with reason `sunset` and the evidence in the note. Sunset entries hold back
 * marketing email only (campaigns, automation emails of kind marketing);
 * transactional messages still reach those addresses. The selection is one
 * query (`sunset.repository.ts` `candidates`), shared by the preview and the
 * run, which takes an extra condition for later rules (an engagement
 * prediction).
 */

export const SUNSET_TASK = 'deliverability.sunset';
export const DEFAULT_INACTIVE_DAYS = 180;
export const DEFAULT_MIN_EMAILS = 5;
const SAMPLE_SIZE = 20;

export interface SunsetSettings {
  enabled: boolean;
  inactive_days: number;
  min_emails: number;
  last_run_at: Date | null;
  last_run_suppressed: number | null;
}

export interface SunsetPreview {
  evaluated_at: Date;
  inactive_days: number;
  min_emails: number;
  /** Contacts a run now would suppress. */
  would_suppress: number;
  sample: repo.SunsetSample[];
}

export function createSunsetPolicy(deps: { db: Db; clock: Clock; logger: Logger }) {
  const { db, clock, logger } = deps;

  async function settingsOf(workspaceId: string): Promise<SunsetSettings> {
    const row = await repo.findSettings(db, workspaceId);
    return {
      enabled: row?.enabled ?? false,
      inactive_days: row?.inactive_days ?? DEFAULT_INACTIVE_DAYS,
      min_emails: row?.min_emails ?? DEFAULT_MIN_EMAILS,
      last_run_at: row?.last_run_at ?? null,
      last_run_suppressed: row?.last_run_suppressed ?? null,
    };
  }

  const policy = {
    settings: settingsOf,

    /** Fields left out keep their value. */
    async update(
      workspaceId: string,
      patch: {
        enabled?: boolean | undefined;
        inactive_days?: number | undefined;
        min_emails?: number | undefined;
      },
    ): Promise<SunsetSettings> {
      const current = await settingsOf(workspaceId);
      await repo.upsertSettings(db, {
        workspace_id: workspaceId,
        enabled: patch.enabled ?? current.enabled,
        inactive_days: patch.inactive_days ?? current.inactive_days,
        min_emails: patch.min_emails ?? current.min_emails,
        updated_at: clock.now(),
      });
      return settingsOf(workspaceId);
    },

    /**
     * How many contacts a run now would suppress, with a sample (by contact
     * id), under the workspace's settings or the ones given (to try values
     * before saving them). Changes nothing.
     */
    async preview(
      workspaceId: string,
      input: { inactive_days?: number | undefined; min_emails?: number | undefined } = {},
      extra?: RawBuilder<unknown>,
    ): Promise<SunsetPreview> {
      const current = await settingsOf(workspaceId);
      const criteria = {
        inactiveDays: input.inactive_days ?? current.inactive_days,
        minEmails: input.min_emails ?? current.min_emails,
        now: clock.now(),
        extra,
      };
      const { count, sample } = await repo.previewCandidates(db, workspaceId, criteria, SAMPLE_SIZE);
      return {
        evaluated_at: criteria.now,
        inactive_days: criteria.inactiveDays,
        min_emails: criteria.minEmails,
        would_suppress: count,
        sample,
      };
    },

    /**
     * Suppresses the contacts the saved settings select now, whether or not
     * the policy is on (the daily job runs only workspaces that turned it on).
     * Idempotent: a second run suppresses only contacts that became inactive
     * in between.
     */
    async run(
      workspaceId: string,
      extra?: RawBuilder<unknown>,
    ): Promise<{ ran_at: Date; suppressed: number; inactive_days: number; min_emails: number }> {
      const current = await settingsOf(workspaceId);
      const now = clock.now();
      const suppressed = await repo.suppressCandidates(db, workspaceId, {
        inactiveDays: current.inactive_days,
        minEmails: current.min_emails,
        now,
        extra,
      });
      await repo.recordRun(db, workspaceId, now, suppressed);
      return {
        ran_at: now,
        suppressed,
        inactive_days: current.inactive_days,
        min_emails: current.min_emails,
      };
    },

    /** Every workspace with the policy on (the daily job); one failing workspace does not stop the others. */
    async runAll(): Promise<number> {
      let total = 0;
      for (const row of await repo.enabledWorkspaces(db)) {
        try {
          const { suppressed } = await policy.run(row.workspace_id);
          total += suppressed;
          if (suppressed > 0)
            logger.info({ workspace_id: row.workspace_id, suppressed }, 'sunset policy suppressed contacts');
        } catch (error) {
          logger.error(
            { workspace_id: row.workspace_id, err: (error as Error).message },
            'sunset policy failed',
          );
        }
      }
      return total;
    },
  };
  return policy;
}

export type SunsetPolicy = ReturnType<typeof createSunsetPolicy>;

/** `deliverability.sunset` {}: applies the sunset policy of every workspace that has it on (daily). */
export function sunsetTasks(deps: { sunset: Pick<SunsetPolicy, 'runAll'> }): TaskRegistry {
  return {
    [SUNSET_TASK]: async () => {
      await deps.sunset.runAll();
    },
  };
}
