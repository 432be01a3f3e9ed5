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
 * run; the predictive rule is the same query with a shorter window and the
 * engagement model's condition added.
 */

export const SUNSET_TASK = 'deliverability.sunset';
export const DEFAULT_INACTIVE_DAYS = 180;
export const DEFAULT_MIN_EMAILS = 5;
export const DEFAULT_PREDICTED_INACTIVE_DAYS = 60;
const SAMPLE_SIZE = 20;

export interface SunsetSettings {
  enabled: boolean;
  inactive_days: number;
  min_emails: number;
  /** The predictive rule: null (off), or the predicted open probability below which it applies. */
  max_open_probability: number | null;
  /** Days without engagement after which the predictive rule sunsets (default 60). */
  predicted_inactive_days: number;
  last_run_at: Date | null;
  last_run_suppressed: number | null;
}

export interface SunsetInput {
  inactive_days?: number | undefined;
  min_emails?: number | undefined;
  max_open_probability?: number | null | undefined;
  predicted_inactive_days?: number | undefined;
}

export interface SunsetPreview {
  evaluated_at: Date;
  inactive_days: number;
  min_emails: number;
  max_open_probability: number | null;
  predicted_inactive_days: number;
  /** Contacts a run now would suppress. */
  would_suppress: number;
  sample: repo.SunsetSample[];
}

/**
 * The engagement module's prediction, as a condition on the contact `c`:
 * its predicted open probability is below `threshold`. Contacts without a
 * prediction never match.
 */
export type PredictionCondition = (workspaceId: string, threshold: number) => RawBuilder<unknown>;

export function createSunsetPolicy(deps: {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** Without it the predictive rule selects nobody (its setting is still kept). */
  prediction?: PredictionCondition | undefined;
}) {
  const { db, clock, logger } = deps;

  async function settingsOf(workspaceId: string): Promise<SunsetSettings> {
    const row = await repo.findSettings(db, workspaceId);
    return {
      enabled: row?.enabled ?? false,
      inactive_days: row?.inactive_days ?? DEFAULT_INACTIVE_DAYS,
      min_emails: row?.min_emails ?? DEFAULT_MIN_EMAILS,
      max_open_probability: row?.max_open_probability ?? null,
      predicted_inactive_days: row?.predicted_inactive_days ?? DEFAULT_PREDICTED_INACTIVE_DAYS,
      last_run_at: row?.last_run_at ?? null,
      last_run_suppressed: row?.last_run_suppressed ?? null,
    };
  }

  /**
   * The rules a run applies: contacts inactive for `inactive_days`; and,
   * with `max_open_probability`, contacts the engagement model expects not
   * to open (below it) once inactive for `predicted_inactive_days`. Both
   * need `min_emails` tracked marketing emails in their window. The
   * prediction only shortens the wait for contacts it is confident about;
   * it never sunsets anyone who engaged within `predicted_inactive_days`.
   */
  function rules(workspaceId: string, settings: SunsetSettings, now: Date): repo.SunsetCriteria[] {
    const base: repo.SunsetCriteria = {
      inactiveDays: settings.inactive_days,
      minEmails: settings.min_emails,
      now,
    };
    const threshold = settings.max_open_probability;
    if (threshold === null || !deps.prediction || settings.predicted_inactive_days >= settings.inactive_days)
      return [base];
    return [
      base,
      {
        inactiveDays: settings.predicted_inactive_days,
        minEmails: settings.min_emails,
        now,
        extra: deps.prediction(workspaceId, threshold),
        because: `predicted open probability below ${threshold}`,
      },
    ];
  }

  const policy = {
    settings: settingsOf,

    /** Fields left out keep their value; max_open_probability null turns the predictive rule off. */
    async update(
      workspaceId: string,
      patch: SunsetInput & { enabled?: boolean | undefined },
    ): Promise<SunsetSettings> {
      const current = await settingsOf(workspaceId);
      await repo.upsertSettings(db, {
        workspace_id: workspaceId,
        enabled: patch.enabled ?? current.enabled,
        inactive_days: patch.inactive_days ?? current.inactive_days,
        min_emails: patch.min_emails ?? current.min_emails,
        max_open_probability:
          patch.max_open_probability === undefined
            ? current.max_open_probability
            : patch.max_open_probability,
        predicted_inactive_days: patch.predicted_inactive_days ?? current.predicted_inactive_days,
        updated_at: clock.now(),
      });
      return settingsOf(workspaceId);
    },

    /**
     * How many contacts a run now would suppress, with a sample (by contact
     * id), under the workspace's settings or the ones given (to try values
     * before saving them). Changes nothing.
     */
    async preview(workspaceId: string, input: SunsetInput = {}): Promise<SunsetPreview> {
      const current = await settingsOf(workspaceId);
      const tried: SunsetSettings = {
        ...current,
        inactive_days: input.inactive_days ?? current.inactive_days,
        min_emails: input.min_emails ?? current.min_emails,
        max_open_probability:
          input.max_open_probability === undefined
            ? current.max_open_probability
            : input.max_open_probability,
        predicted_inactive_days: input.predicted_inactive_days ?? current.predicted_inactive_days,
      };
      const now = clock.now();
      const { count, sample } = await repo.previewCandidates(
        db,
        workspaceId,
        rules(workspaceId, tried, now),
        SAMPLE_SIZE,
      );
      return {
        evaluated_at: now,
        inactive_days: tried.inactive_days,
        min_emails: tried.min_emails,
        max_open_probability: tried.max_open_probability,
        predicted_inactive_days: tried.predicted_inactive_days,
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
    ): Promise<{ ran_at: Date; suppressed: number; inactive_days: number; min_emails: number }> {
      const current = await settingsOf(workspaceId);
      const now = clock.now();
      let suppressed = 0;
      // The longer rule first, so a contact both select carries its plainer evidence.
      for (const criteria of rules(workspaceId, current, now))
        suppressed += await repo.suppressCandidates(db, workspaceId, criteria);
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
