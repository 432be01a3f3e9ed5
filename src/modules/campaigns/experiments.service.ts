import type { Logger } from 'pino';
import type { AbTestMetric, Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError } from '../../lib/errors.js';
import { compareGroups } from '../../lib/statistics/index.js';
import * as repo from './campaigns.repository.js';
import { type Decision, decide, type VariantFigures } from './experiment-decision.js';
import * as experiments from './experiments.repository.js';

export const DECIDE_TASK = 'campaigns.ab_decide';

export interface ExperimentServiceDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  /**
   * Until when tracking hits are counted in the analytics rollup. A test is
   * decided only once its window is counted, so late-counted opens cannot
   * change a decision after the fact.
   */
  countedUntil: () => Promise<Date | null>;
  /** Starts the campaign's send-ledger count over, in the given transaction (the remainder starts). */
  restartLedgerCount: (trx: Db, campaignId: string) => Promise<void>;
  /** Conversions after the start that the holdout report counts (default: the attribution window). */
  holdoutWindowHours: number;
  /** Shapes a revenue amount for display (the analytics module's, to the currency's decimals). */
  formatAmount?: (amount: string, currency: string) => string;
}

export interface AbTestReport {
  campaign_id: string;
  status: string;
  phase: string;
  metric: AbTestMetric;
  method: string;
  confidence: number;
  test_size: number | null;
  /** Test recipients still waiting to be sent (send-time variants). */
  test_queued: number;
  decide_at: Date | null;
  winner: string | null;
  decided_by: string | null;
  decided_at: Date | null;
  /** The evaluation now (or, once decided, the one the decision was made on). */
  evaluation: Decision;
  /** true once decided: `evaluation` is the stored one. */
  final: boolean;
}

function metricFigures(metric: AbTestMetric, counts: experiments.VariantCounts | undefined) {
  const c = counts ?? {
    sent: 0,
    human_openers: 0,
    human_clickers: 0,
    human_open_clickers: 0,
    converters: 0,
    revenue: 0,
    revenue_squares: 0,
  };
  switch (metric) {
    case 'human_unique_opens':
      return { trials: c.sent, successes: c.human_openers };
    case 'human_unique_clicks':
      return { trials: c.sent, successes: c.human_clickers };
    case 'click_to_open':
      return { trials: c.human_openers, successes: c.human_open_clickers };
    case 'conversions':
      return { trials: c.sent, successes: c.converters };
    case 'revenue_per_recipient':
      return {
        trials: c.sent,
        successes: c.converters,
        revenue: { sum: c.revenue, sumOfSquares: c.revenue_squares },
      };
  }
}

/**
 * A/B test decisions (when the window ends, or by a person), their report,
 * and the holdout comparison.
 */
export function createExperimentService(deps: ExperimentServiceDeps) {
  const { db, clock, logger } = deps;

  async function evaluate(campaign: repo.CampaignRow, test: experiments.AbTestRow): Promise<Decision> {
    const [variants, counts] = await Promise.all([
      experiments.variantsOf(db, campaign.id),
      experiments.variantCounts(db, test),
    ]);
    const figures: VariantFigures[] = variants.map((v) => ({
      position: v.position,
      name: v.name,
      ...metricFigures(
        test.metric,
        counts.find((c) => c.variant === v.position),
      ),
    }));
    return decide({
      metric: test.metric,
      method: test.method,
      confidence: test.confidence,
      whenInconclusive: test.when_inconclusive,
      seed: campaign.random_seed ?? campaign.id,
      variants: figures,
    });
  }

  async function mustFind(workspaceId: string, campaignId: string) {
    const campaign = await repo.findCampaign(db, workspaceId, campaignId);
    if (!campaign)
      throw new DomainError('CAMPAIGN_NOT_FOUND', `campaign ${campaignId} does not exist in this workspace`);
    const test = await experiments.abTestOf(db, campaignId);
    return { campaign, test };
  }

  /**
   * Records the winner and starts the remainder, in one transaction that
   * holds the campaign row; false when the campaign is no longer testing.
   */
  async function applyWinner(
    campaignId: string,
    winner: number,
    decidedBy: 'test' | 'policy' | 'manual',
    decision: unknown,
    reason: string,
  ): Promise<boolean> {
    return db.transaction().execute(async (trx) => {
      const locked = await trx
        .selectFrom('campaigns')
        .select('status')
        .where('id', '=', campaignId)
        .forUpdate()
        .executeTakeFirst();
      if (locked?.status !== 'testing') return false;
      const now = clock.now();
      const applied = await experiments.recordWinner(trx, {
        campaignId,
        winner,
        decidedBy,
        decision,
        now,
        reason,
      });
      if (applied) await deps.restartLedgerCount(trx, campaignId);
      return applied;
    });
  }

  const service = {
    /**
     * Decides one test whose window has ended. Returns what happened; 'later'
     * when the analytics rollup has not counted the whole window yet.
     */
    async decideOne(
      workspaceId: string,
      campaignId: string,
    ): Promise<'decided' | 'waiting' | 'later' | 'gone'> {
      const { campaign, test } = await mustFind(workspaceId, campaignId);
      if (test?.phase !== 'testing' || campaign.status !== 'testing' || !test.decide_at) return 'gone';
      const counted = await deps.countedUntil();
      if (!counted || counted < test.decide_at) return 'later';
      const decision = await evaluate(campaign, test);
      if (decision.winner === null) {
        await experiments.recordWaiting(db, {
          campaignId,
          decision,
          now: clock.now(),
          reason: `A/B test inconclusive, waiting for a person to choose the winner: ${decision.reason}`,
        });
        logger.info({ campaign_id: campaignId }, 'A/B test inconclusive; waiting for a choice');
        return 'waiting';
      }
      const winner = decision.variants.find((v) => v.position === decision.winner);
      const applied = await applyWinner(
        campaignId,
        decision.winner,
        decision.chosen_by ?? 'policy',
        decision,
        `sending the remainder with variant ${winner?.name}: ${decision.reason}`,
      );
      if (applied)
        logger.info(
          { campaign_id: campaignId, winner: decision.winner, chosen_by: decision.chosen_by },
          'A/B test decided',
        );
      return applied ? 'decided' : 'gone';
    },

    /** Decides every test whose window has ended (the periodic job). */
    async decideDue(limit = 20): Promise<number> {
      let decided = 0;
      for (const due of await experiments.dueAbTests(db, clock.now(), limit)) {
        const outcome = await service.decideOne(due.workspace_id, due.campaign_id);
        if (outcome === 'decided' || outcome === 'waiting') decided++;
      }
      return decided;
    },

    /**
     * A person chooses the winner: while the test window runs (overriding the
     * test) or after an inconclusive test that waits. The remainder starts at once.
     */
    async chooseWinner(workspaceId: string, campaignId: string, variantName: string): Promise<void> {
      const { campaign, test } = await mustFind(workspaceId, campaignId);
      if (!test)
        throw new DomainError('AB_TEST_NOT_FOUND', `campaign ${campaignId} has no A/B test`, [
          { path: '/variant', message: 'this campaign has no variants' },
        ]);
      if (campaign.status !== 'testing' || (test.phase !== 'testing' && test.phase !== 'waiting'))
        throw new DomainError(
          'CAMPAIGN_STATE_CONFLICT',
          `campaign ${campaignId} is ${campaign.status} and its test is ${test.phase}: a winner can be chosen once the test group is sent (status testing) and until one is chosen`,
        );
      const variants = await experiments.variantsOf(db, campaignId);
      const chosen = variants.find((v) => v.name.toLowerCase() === variantName.trim().toLowerCase());
      if (!chosen)
        throw new DomainError(
          'VALIDATION_FAILED',
          `variant "${variantName}" is not one of ${variants.map((v) => v.name).join(', ')}`,
          [{ path: '/variant', message: 'unknown variant' }],
        );
      const evaluation = await evaluate(campaign, test);
      const decision = { ...evaluation, winner: chosen.position, chosen_by: 'manual' as const };
      const applied = await applyWinner(
        campaignId,
        chosen.position,
        'manual',
        decision,
        `sending the remainder with variant ${chosen.name}, chosen by a person`,
      );
      if (!applied)
        throw new DomainError(
          'CAMPAIGN_STATE_CONFLICT',
          `campaign ${campaignId} is no longer waiting for a winner`,
        );
    },

    /** The test's figures: live while it runs, the stored evaluation once decided. */
    async abTestReport(workspaceId: string, campaignId: string): Promise<AbTestReport> {
      const { campaign, test } = await mustFind(workspaceId, campaignId);
      if (!test) throw new DomainError('AB_TEST_NOT_FOUND', `campaign ${campaignId} has no A/B test`);
      const variants = await experiments.variantsOf(db, campaignId);
      const stored = test.decision as Decision | null;
      const final = test.phase === 'decided' && stored !== null;
      const evaluation = final ? stored : await evaluate(campaign, test);
      return {
        campaign_id: campaign.id,
        status: campaign.status,
        phase: test.phase,
        metric: test.metric,
        method: test.method,
        confidence: test.confidence,
        test_size: test.test_size,
        test_queued: test.phase === 'testing' ? await experiments.queuedTestRecipients(db, campaignId) : 0,
        decide_at: test.decide_at,
        winner:
          test.winner === null ? null : (variants.find((v) => v.position === test.winner)?.name ?? null),
        decided_by: test.decided_by,
        decided_at: test.decided_at,
        evaluation,
        final,
      };
    },

    /**
     * Lift against the holdout group: conversions of recipients and of
     * held-out contacts in the same window after the start, with the
     * difference's significance and revenue per contact.
     */
    async holdoutReport(workspaceId: string, campaignId: string) {
      const { campaign } = await mustFind(workspaceId, campaignId);
      if (campaign.holdout_share <= 0)
        throw new DomainError('HOLDOUT_NOT_FOUND', `campaign ${campaignId} has no holdout group`);
      if (!campaign.started_at)
        throw new DomainError(
          'CAMPAIGN_STATE_CONFLICT',
          `campaign ${campaignId} has not started sending yet`,
        );
      const until = new Date(
        Math.min(clock.now().getTime(), campaign.started_at.getTime() + deps.holdoutWindowHours * 3_600_000),
      );
      const groups = await experiments.holdoutOutcomes(
        db,
        { id: campaign.id, workspace_id: workspaceId, started_at: campaign.started_at },
        until,
      );
      const treated = groups.find((g) => g.group === 'treated') as experiments.GroupOutcome;
      const holdout = groups.find((g) => g.group === 'holdout') as experiments.GroupOutcome;
      return {
        campaign_id: campaign.id,
        holdout_share: campaign.holdout_share,
        window: { from: campaign.started_at, until },
        ...compareGroups(treated, holdout, deps.formatAmount),
      };
    },
  };
  return service;
}

export type ExperimentService = ReturnType<typeof createExperimentService>;
