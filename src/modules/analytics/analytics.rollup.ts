import type { Logger } from 'pino';
import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import * as repo from './analytics.repository.js';

export interface AnalyticsRollupOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** Hits younger than this wait for the next round (a buffered writer may still hold older ids). */
  settleMs: number;
  /** Hits per transaction. */
  batchSize?: number;
  /** Ledger rows per transaction. */
  ledgerBatchSize?: number;
}

/** The smallest UUIDv7 of a millisecond: every id taken before `ms` sorts below it. */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

const ALL_IDS = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

export interface RollupResult {
  hits: number;
  recomputed: number;
  ledgerRows: number;
  /** Another worker held the rollup lock, so this round did nothing. */
  busy: boolean;
}

/**
 * Keeps the analytics rollups current. Each round, in transactions that hold
 * one lock row (so any number of workers can run it; one works at a time):
 * adds hits recorded after the watermark, recomputes campaigns whose hits were
 * re-classified (analytics_dirty), and counts new send-ledger outcomes per
 * mailbox provider. A report is as fresh as the last round: hits are counted
 * once they are `settleMs` old, so reports lag by about settleMs + the interval.
 */
export function createAnalyticsRollup(options: AnalyticsRollupOptions) {
  const { db, clock, logger } = options;
  const batchSize = options.batchSize ?? 50_000;
  const ledgerBatchSize = options.ledgerBatchSize ?? 50_000;

  /** Adds hits up to `before` (exclusive), a batch per transaction. */
  async function rollupHits(before: string, caughtUpTo: Date): Promise<{ hits: number; busy: boolean }> {
    let hits = 0;
    for (;;) {
      const step = await db.transaction().execute(async (trx) => {
        const state = await repo.lockState(trx);
        if (!state) return { count: 0, busy: true };
        const end = await repo.batchEnd(trx, state.last_hit_id, before, batchSize);
        if (end.count === 0 || !end.last) {
          await repo.saveState(trx, { lastHitId: state.last_hit_id, caughtUpTo, now: clock.now() });
          return { count: 0, busy: false };
        }
        await repo.rollupHits(trx, { after: state.last_hit_id, upto: end.last });
        await repo.saveState(trx, {
          lastHitId: end.last,
          caughtUpTo: end.count < batchSize ? caughtUpTo : undefined,
          now: clock.now(),
        });
        return { count: end.count, busy: false };
      });
      hits += step.count;
      if (step.busy) return { hits, busy: true };
      if (step.count < batchSize) return { hits, busy: false };
    }
  }

  /** Recomputes campaigns marked dirty from their raw hits up to the watermark. */
  async function recomputeDirty(): Promise<number> {
    let recomputed = 0;
    for (;;) {
      const n = await db.transaction().execute(async (trx) => {
        const state = await repo.lockState(trx);
        if (!state) return 0;
        const dirty = await repo.takeDirty(trx, 5);
        for (const campaign of dirty) {
          await repo.resetCampaignEngagement(trx, campaign.workspace_id, campaign.campaign_id);
          if (state.last_hit_id) {
            await repo.rollupHits(trx, {
              after: null,
              upto: state.last_hit_id,
              campaign: { id: campaign.campaign_id, workspaceId: campaign.workspace_id },
            });
          }
        }
        return dirty.length;
      });
      recomputed += n;
      if (n < 5) return recomputed;
    }
  }

  /** Counts new final send-ledger rows (sent, failed) per campaign and mailbox provider. */
  async function rollupLedger(): Promise<number> {
    let rows = 0;
    for (const listed of await repo.ledgerCampaigns(db, 100)) {
      for (;;) {
        const chunk = await db.transaction().execute(async (trx) => {
          if (!(await repo.lockState(trx))) return undefined;
          // Read the cursor again under the lock: another worker may have moved it.
          const current = await repo.campaignRollup(trx, listed.workspace_id, listed.id);
          if (current?.ledger_done) return undefined;
          const campaign = { ...listed, ledger_cursor: current?.ledger_cursor ?? null };
          const counted = await repo.countLedgerChunk(trx, campaign, ledgerBatchSize, clock.now());
          const finished = campaign.status === 'sent' || campaign.status === 'cancelled';
          const done = finished && !counted.blocked && counted.read < ledgerBatchSize;
          if (counted.last || done) await repo.addLedgerCounts(trx, campaign, counted, done);
          return counted;
        });
        if (!chunk) break;
        rows += chunk.read;
        if (chunk.blocked || chunk.read < ledgerBatchSize) break;
      }
    }
    return rows;
  }

  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let current: Promise<unknown> = Promise.resolve();

  const rollup = {
    /** One round: hits older than the settle time, dirty campaigns, then the send ledger. */
    async round(): Promise<RollupResult> {
      const cutoff = clock.now().getTime() - options.settleMs;
      const hits = await rollupHits(uuidv7Floor(cutoff), new Date(cutoff));
      const recomputed = await recomputeDirty();
      const ledgerRows = await rollupLedger();
      return { hits: hits.hits, recomputed, ledgerRows, busy: hits.busy };
    },

    /**
     * Counts everything recorded so far, without waiting for the settle time.
     * For tests and benchmarks: run it after writing hits to read exact reports.
     */
    async catchUp(): Promise<RollupResult> {
      const hits = await rollupHits(ALL_IDS, clock.now());
      const recomputed = await recomputeDirty();
      const ledgerRows = await rollupLedger();
      return { hits: hits.hits, recomputed, ledgerRows, busy: hits.busy };
    },

    /** Runs rounds every `intervalMs` until stopped. */
    start(intervalMs: number) {
      if (running) return;
      running = true;
      const loop = () => {
        if (!running) return;
        current = rollup
          .round()
          .catch((error: Error) => {
            logger.error({ err: error.message }, 'analytics rollup round failed');
          })
          .then(() => {
            if (running) timer = setTimeout(loop, intervalMs);
          });
      };
      loop();
    },

    /** Stops after the round in flight. */
    async stop(): Promise<void> {
      running = false;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
  return rollup;
}

export type AnalyticsRollup = ReturnType<typeof createAnalyticsRollup>;
