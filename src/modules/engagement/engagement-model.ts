/**
 * Training one engagement model from rows read as of a cutoff: pure, so
 * the rules (how much data is enough, what is stored) are tested without a
 * database.
 */
import {
  auc,
  type CalibrationBin,
  evaluateModel,
  fitLogisticRegression,
  predictProbability,
} from '../../lib/statistics/index.js';
import { FEATURES } from './engagement-features.js';

export type ModelKind = 'open' | 'click';

/** One contact that was sent at least one marketing email in [cutoff, cutoff + horizon). */
export interface TrainingRow {
  /** featureVector() as of the cutoff. */
  features: number[];
  /** recencyBaseline() as of the cutoff. */
  baseline: number;
  /** In the validation fifth (a seeded hash of the contact id), never used for fitting. */
  validation: boolean;
  /** Opened (human) one of those emails. */
  opened: boolean;
  /** Clicked (human) one of those emails. */
  clicked: boolean;
}

/** The least data a model is trained on; below it the previous model stays. */
export const MINIMUM_TRAINING_DATA = {
  /** Contacts with a marketing email sent in the horizon. */
  contacts: 200,
  /** Of them, who did (and who did not) open, or click. */
  perOutcome: 20,
  /** Of each outcome in the validation fifth, so its AUC means something. */
  validationPerOutcome: 5,
} as const;

/** L2 penalty on the standardized weights: mild, keeps a fit finite when a feature nearly separates the classes. */
export const MODEL_L2 = 1e-3;

export interface TrainedModel {
  kind: ModelKind;
  features: string[];
  intercept: number;
  /** On the raw feature scale: log-odds = intercept + Σ weights[j] · features[j]. */
  weights: number[];
  trainingRows: number;
  validationRows: number;
  /** Positive labels (opened, or clicked) among the training and validation rows. */
  trainingPositives: number;
  validationPositives: number;
  validationAuc: number;
  /** AUC of -days since the last human open on the same validation rows. */
  baselineAuc: number;
  brier: number;
  logLoss: number;
  calibration: CalibrationBin[];
  iterations: number;
}

export type TrainingOutcome =
  | { trained: true; model: TrainedModel }
  | { trained: false; reason: string; rows: number; positives: number };

function outcomeName(kind: ModelKind): { did: string; didNot: string } {
  return kind === 'open'
    ? { did: 'opened', didNot: 'did not open' }
    : { did: 'clicked', didNot: 'did not click' };
}

/**
 * Fits P(opened) or P(clicked) on the training rows and evaluates it on the
 * validation rows, or says why it will not: too few contacts, too few of
 * either outcome (overall or in the validation fifth), or a fit that did
 * not converge.
 */
export function trainModel(
  rows: readonly TrainingRow[],
  kind: ModelKind,
  horizonDays: number,
): TrainingOutcome {
  const label = (row: TrainingRow): 0 | 1 => ((kind === 'open' ? row.opened : row.clicked) ? 1 : 0);
  const positives = rows.reduce((n, row) => n + label(row), 0);
  const negatives = rows.length - positives;
  const { did, didNot } = outcomeName(kind);
  const min = MINIMUM_TRAINING_DATA;
  const refuse = (reason: string): TrainingOutcome => ({
    trained: false,
    reason,
    rows: rows.length,
    positives,
  });
  if (rows.length < min.contacts || positives < min.perOutcome || negatives < min.perOutcome) {
    return refuse(
      `needs ${min.contacts} contacts with a marketing email sent in the ${horizonDays} days after the cutoff ` +
        `and ${min.perOutcome} of each outcome; has ${rows.length} contacts, ${positives} who ${did} and ${negatives} who ${didNot}`,
    );
  }
  const training = rows.filter((row) => !row.validation);
  const validation = rows.filter((row) => row.validation);
  const validationPositives = validation.reduce((n, row) => n + label(row), 0);
  const validationNegatives = validation.length - validationPositives;
  if (validationPositives < min.validationPerOutcome || validationNegatives < min.validationPerOutcome) {
    return refuse(
      `needs ${min.validationPerOutcome} of each outcome among the validation contacts (a fifth, by contact id); ` +
        `has ${validationPositives} who ${did} and ${validationNegatives} who ${didNot}`,
    );
  }
  const trainingLabels = training.map(label);
  const trainingPositives = trainingLabels.reduce<number>((n, y) => n + y, 0);
  if (trainingPositives === 0 || trainingPositives === training.length) {
    return refuse(
      `the training contacts (four fifths, by contact id) all ${trainingPositives === 0 ? didNot : did}`,
    );
  }
  const fit = fitLogisticRegression(
    training.map((row) => row.features),
    trainingLabels,
    { l2: MODEL_L2 },
  );
  if (!fit.converged) {
    return refuse(`the fit did not converge after ${fit.iterations} iterations; the previous model stays`);
  }
  const validationLabels = validation.map(label);
  const evaluation = evaluateModel(
    fit,
    validation.map((row) => row.features),
    validationLabels,
  );
  return {
    trained: true,
    model: {
      kind,
      features: [...FEATURES],
      intercept: fit.intercept,
      weights: fit.weights,
      trainingRows: training.length,
      validationRows: validation.length,
      trainingPositives,
      validationPositives,
      validationAuc: evaluation.auc,
      baselineAuc: auc(
        validation.map((row) => row.baseline),
        validationLabels,
      ),
      brier: evaluation.brier,
      logLoss: evaluation.logLoss,
      calibration: evaluation.calibration,
      iterations: fit.iterations,
    },
  };
}

/** P(outcome) for one feature vector under stored coefficients. */
export function predict(
  model: { intercept: number; weights: readonly number[] },
  features: number[],
): number {
  return predictProbability(
    {
      intercept: model.intercept,
      weights: [...model.weights],
      means: [],
      scales: [],
      iterations: 0,
      converged: true,
    },
    features,
  );
}
