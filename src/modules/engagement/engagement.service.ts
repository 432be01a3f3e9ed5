import type { Logger } from 'pino';
import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { uuidv7 } from '../../lib/ids.js';
import * as repo from './engagement.repository.js';
import { FEATURES, featureVector, recencyBaseline } from './engagement-features.js';
import { type ModelKind, predict, type TrainingRow, trainModel } from './engagement-model.js';
import { engagementScore, isAtRisk } from './engagement-score.js';
import { bestHour, countsFromRecord, deliveryTime, hourScores } from './send-time.js';

const DAY_MS = 86_400_000;
const KINDS: ModelKind[] = ['open', 'click'];
/**
 * Seeds the draws on contact ids that pick the validation fifth and the training sample: fixed, so a
 * contact stays on its side across retrainings and every model is validated on comparable contacts.
 */
const SPLIT_SEED = 'herald-engagement';

/** A contact's engagement as the API shows it (the `engagement` object of a contact). */
export interface ContactEngagement {
  score: number;
  open_probability: number | null;
  click_probability: number | null;
  best_hour: number | null;
  best_hour_source: 'contact' | 'workspace' | null;
  at_risk: boolean;
  last_open_at: Date | null;
  last_click_at: Date | null;
  last_conversion_at: Date | null;
  opens_30d: number;
  opens_90d: number;
  clicks_30d: number;
  clicks_90d: number;
  received_30d: number;
  received_90d: number;
  conversions_365d: number;
  open_model_id: string | null;
  click_model_id: string | null;
  computed_at: Date;
}

export interface ModelView {
  id: string;
  kind: ModelKind;
  cutoff: Date;
  horizon_days: number;
  features: string[];
  intercept: number;
  weights: number[];
  training_rows: number;
  validation_rows: number;
  training_positives: number;
  validation_positives: number;
  validation_auc: number;
  baseline_auc: number;
  brier: number;
  log_loss: number;
  calibration: {
    lower: number;
    upper: number;
    count: number;
    mean_predicted: number;
    observed_rate: number;
  }[];
  trained_at: Date;
}

export interface AttemptView {
  kind: ModelKind;
  status: 'trained' | 'refused';
  reason: string | null;
  model_id: string | null;
  at: Date;
}

export interface RefreshSummary {
  workspace_id: string;
  contacts: number;
  open_model_id: string | null;
  click_model_id: string | null;
  workspace_best_hour: number | null;
  computed_at: Date;
}

export interface TrainSummary {
  workspace_id: string;
  cutoff: Date;
  horizon_days: number;
  /** Contacts with a marketing email in the horizon, after sampling. */
  rows: number;
  results: {
    kind: ModelKind;
    status: 'trained' | 'refused';
    reason: string | null;
    model: ModelView | null;
  }[];
}

export interface EngagementServiceDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** Contacts read and written per statement; memory stays flat in it. */
  pageSize?: number;
  /** Days after the cutoff whose marketing email labels the training rows. */
  horizonDays?: number;
  /** Training rows at most (a seeded sample of contacts beyond it), so memory stays bounded. */
  maxTrainingRows?: number;
}

function modelView(row: repo.EngagementModelRow): ModelView {
  const calibration = (row.calibration ?? []) as {
    lower: number;
    upper: number;
    count: number;
    meanPredicted: number;
    observedRate: number;
  }[];
  return {
    id: row.id,
    kind: row.kind,
    cutoff: row.cutoff,
    horizon_days: row.horizon_days,
    features: row.features ?? [],
    intercept: row.intercept ?? 0,
    weights: row.weights ?? [],
    training_rows: row.training_rows,
    validation_rows: row.validation_rows,
    training_positives: row.training_positives ?? 0,
    validation_positives: row.validation_positives ?? 0,
    validation_auc: row.validation_auc ?? 0,
    baseline_auc: row.baseline_auc ?? 0,
    brier: row.brier ?? 0,
    log_loss: row.log_loss ?? 0,
    calibration: calibration.map((bin) => ({
      lower: bin.lower,
      upper: bin.upper,
      count: bin.count,
      mean_predicted: bin.meanPredicted,
      observed_rate: bin.observedRate,
    })),
    trained_at: row.trained_at,
  };
}

/**
 * Engagement scoring, send-time profiles and engagement prediction.
 *
 * `refresh` rewrites every contact's row of `contact_engagement` a page at a
 * time: the figures of a page are aggregated in one statement, the score,
 * probabilities and best hour computed by the pure functions of this module,
 * and the page written in one statement. `train` reads the workspace's
 * history as of a cutoff `horizonDays` ago (features) and what happened
 * after it (labels), fits one logistic regression per kind, and stores it
 * with its validation figures, or the reason it refused.
 */
export function createEngagementService(deps: EngagementServiceDeps) {
  const { db, clock, logger } = deps;
  const pageSize = deps.pageSize ?? 1000;
  const horizonDays = deps.horizonDays ?? 14;
  const maxTrainingRows = deps.maxTrainingRows ?? 200_000;

  async function refreshWorkspace(workspaceId: string): Promise<RefreshSummary> {
    const now = clock.now();
    const [openModel, clickModel, priorRecord] = await Promise.all([
      repo.latestModel(db, workspaceId, 'open'),
      repo.latestModel(db, workspaceId, 'click'),
      repo.workspaceHourCounts(db, workspaceId, now),
    ]);
    const prior = countsFromRecord(priorRecord);
    const workspaceBest = bestHour(hourScores(new Float64Array(168), prior));
    // A model trained on other features (stored before Herald changed them) is not applied until retrained.
    const usable = (model: repo.EngagementModelRow | undefined) =>
      model?.intercept != null &&
      model.weights !== null &&
      JSON.stringify(model.features) === JSON.stringify(FEATURES)
        ? { id: model.id, intercept: model.intercept, weights: model.weights }
        : undefined;
    const [open, click] = [usable(openModel), usable(clickModel)];
    const probability = (model: typeof open, features: number[]) => (model ? predict(model, features) : null);
    let after: string | undefined;
    let contacts = 0;
    for (;;) {
      const ids = await repo.contactPage(db, workspaceId, after, pageSize);
      if (ids.length === 0) break;
      after = ids.at(-1);
      const figures = await repo.readFigures(db, { workspaceId, ids, asOf: now, hours: true });
      const rows: repo.EngagementWrite[] = figures.map((f) => {
        const features = featureVector(f, now);
        const own = countsFromRecord(f.hourCounts);
        return {
          contactId: f.contactId,
          score: engagementScore({
            opens: f.openWeight,
            clicks: f.clickWeight,
            conversions: f.conversionWeight,
          }),
          pOpen: probability(open, features),
          pClick: probability(click, features),
          openModelId: open?.id ?? null,
          clickModelId: click?.id ?? null,
          bestHour: bestHour(hourScores(own, prior)),
          hourCounts: f.hourCounts ?? {},
          figures: f,
        };
      });
      await repo.upsertEngagement(db, workspaceId, rows, now);
      contacts += rows.length;
      if (ids.length < pageSize) break;
    }
    await repo.saveWorkspaceProfile(db, {
      workspaceId,
      hourCounts: priorRecord,
      bestHour: workspaceBest,
      contacts,
      refreshedAt: now,
    });
    return {
      workspace_id: workspaceId,
      contacts,
      open_model_id: open?.id ?? null,
      click_model_id: click?.id ?? null,
      workspace_best_hour: workspaceBest,
      computed_at: now,
    };
  }

  async function trainWorkspace(workspaceId: string): Promise<TrainSummary> {
    const now = clock.now();
    const cutoff = new Date(now.getTime() - horizonDays * DAY_MS);
    const eligible = await repo.countSentBetween(db, workspaceId, cutoff, now);
    // A seeded sample keeps memory bounded on large workspaces: the same contacts each time.
    const keep = eligible > maxTrainingRows ? maxTrainingRows / eligible : 1;
    const rows: TrainingRow[] = [];
    if (eligible > 0) {
      let after: string | undefined;
      for (;;) {
        const ids = await repo.contactPage(db, workspaceId, after, pageSize);
        if (ids.length === 0) break;
        after = ids.at(-1);
        const figures = await repo.readFigures(db, {
          workspaceId,
          ids,
          asOf: cutoff,
          labels: { until: now, now, keep, seed: SPLIT_SEED },
        });
        for (const f of figures)
          rows.push({
            features: featureVector(f, cutoff),
            baseline: recencyBaseline(f, cutoff),
            validation: f.validation === true,
            opened: f.opened === true,
            clicked: f.clicked === true,
          });
        if (ids.length < pageSize) break;
      }
    }
    const results: TrainSummary['results'] = [];
    for (const kind of KINDS) {
      const outcome = trainModel(rows, kind, horizonDays);
      const stored = await repo.insertModel(db, {
        id: uuidv7(now.getTime()),
        workspaceId,
        kind,
        cutoff,
        horizonDays,
        trainedAt: now,
        ...(outcome.trained
          ? { model: outcome.model }
          : { refused: { reason: outcome.reason, rows: outcome.rows } }),
      });
      if (outcome.trained) {
        results.push({ kind, status: 'trained', reason: null, model: modelView(stored) });
        logger.info(
          {
            workspace_id: workspaceId,
            kind,
            rows: rows.length,
            auc: outcome.model.validationAuc,
            baseline_auc: outcome.model.baselineAuc,
          },
          'engagement model trained',
        );
      } else {
        results.push({ kind, status: 'refused', reason: outcome.reason, model: null });
      }
    }
    return { workspace_id: workspaceId, cutoff, horizon_days: horizonDays, rows: rows.length, results };
  }

  function engagementView(row: repo.ContactEngagementRow, now: Date): ContactEngagement {
    const own = Object.values(row.hour_counts ?? {}).some((n) => n > 0);
    return {
      score: row.score,
      open_probability: row.p_open,
      click_probability: row.p_click,
      best_hour: row.best_hour,
      best_hour_source: row.best_hour === null ? null : own ? 'contact' : 'workspace',
      at_risk: isAtRisk({ lastEngagedAt: row.last_engaged_at, openProbability: row.p_open }, now),
      last_open_at: row.last_open_at,
      last_click_at: row.last_click_at,
      last_conversion_at: row.last_conversion_at,
      opens_30d: row.opens_30d,
      opens_90d: row.opens_90d,
      clicks_30d: row.clicks_30d,
      clicks_90d: row.clicks_90d,
      received_30d: row.received_30d,
      received_90d: row.received_90d,
      conversions_365d: row.conversions_365d,
      open_model_id: row.open_model_id,
      click_model_id: row.click_model_id,
      computed_at: row.computed_at,
    };
  }

  return {
    /** Recomputes every contact of one workspace, or of all workspaces. */
    async refresh(workspaceId?: string): Promise<RefreshSummary[]> {
      const ids = workspaceId ? [workspaceId] : await repo.workspaceIds(db);
      const summaries: RefreshSummary[] = [];
      for (const id of ids) summaries.push(await refreshWorkspace(id));
      return summaries;
    },

    /** Trains both models of one workspace, or of all workspaces; refused kinds keep their previous model. */
    async train(workspaceId?: string): Promise<TrainSummary[]> {
      const ids = workspaceId ? [workspaceId] : await repo.workspaceIds(db);
      const summaries: TrainSummary[] = [];
      for (const id of ids) summaries.push(await trainWorkspace(id));
      return summaries;
    },

    /** The model in use per kind (null before the first successful training) and the latest attempt. */
    async models(workspaceId: string) {
      const out: { kind: ModelKind; model: ModelView | null; last_attempt: AttemptView | null }[] = [];
      for (const kind of KINDS) {
        const [model, attempt] = await Promise.all([
          repo.latestModel(db, workspaceId, kind),
          repo.latestAttempt(db, workspaceId, kind),
        ]);
        out.push({
          kind,
          model: model ? modelView(model) : null,
          last_attempt: attempt
            ? {
                kind,
                status: attempt.status,
                reason: attempt.reason,
                model_id: attempt.status === 'trained' ? attempt.id : null,
                at: attempt.trained_at,
              }
            : null,
        });
      }
      return { data: out };
    },

    /** The stored engagement of some contacts (absent: not computed yet). */
    async forContacts(
      workspaceId: string,
      contactIds: readonly string[],
    ): Promise<Map<string, ContactEngagement>> {
      const now = clock.now();
      const rows = await repo.engagementOf(db, workspaceId, contactIds);
      return new Map(rows.map((row) => [row.contact_id, engagementView(row, now)]));
    },

    /**
     * When each contact should receive a campaign that started at
     * `startedAt` under send-time optimization: the first instant of their
     * best hour within 24 hours of the start, or `now` when that has passed.
     * A contact without a row yet gets the workspace's profile; contacts are
     * left out when neither has any history (send them at once).
     */
    async deliveryTimes(
      workspaceId: string,
      contactIds: readonly string[],
      startedAt: Date,
      now: Date,
    ): Promise<Map<string, Date>> {
      const times = new Map<string, Date>();
      if (contactIds.length === 0) return times;
      const [rows, profile] = await Promise.all([
        repo.engagementOf(db, workspaceId, contactIds),
        repo.workspaceProfile(db, workspaceId),
      ]);
      const prior = countsFromRecord(profile?.hour_counts);
      const own = new Map(rows.map((row) => [row.contact_id, countsFromRecord(row.hour_counts)]));
      const empty = new Float64Array(168);
      for (const id of contactIds) {
        const at = deliveryTime(hourScores(own.get(id) ?? empty, prior), startedAt, now);
        if (at) times.set(id, at);
      }
      return times;
    },
  };
}

export type EngagementService = ReturnType<typeof createEngagementService>;
