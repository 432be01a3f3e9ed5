/**
 * How good a probability model is on held-out data: ranking (AUC), accuracy of the
 * probabilities (Brier score, log loss) and calibration (predicted vs observed per bin).
 */
import { requireLabels, requireSameLength } from './checks.js';

/** One calibration bin: predictions with lower <= p < upper (the last bin includes 1). */
export interface CalibrationBin {
  lower: number;
  upper: number;
  count: number;
  /** Mean predicted probability in the bin. */
  meanPredicted: number;
  /** Share of positive labels in the bin. */
  observedRate: number;
}

export interface ModelEvaluation {
  auc: number;
  brier: number;
  logLoss: number;
  calibration: CalibrationBin[];
}

/**
 * Area under the ROC curve as the Mann-Whitney U statistic: the probability that a random
 * positive scores above a random negative, ties counting one half (average ranks,
 * Hanley & McNeil, Radiology 143:29, 1982). 0.5 when either class is missing, since no
 * pair can be ranked. O(n log n).
 */
export function auc(scores: readonly number[], labels: readonly (0 | 1)[]): number {
  requireSameLength('auc', scores, labels);
  requireLabels(labels);
  for (const [index, score] of scores.entries()) {
    if (Number.isNaN(score)) throw new RangeError(`scores[${index}] is NaN`);
  }
  const positives = labels.reduce<number>((sum, label) => sum + label, 0);
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return 0.5;
  const order = scores.map((_, index) => index).sort((i, j) => (scores[i] as number) - (scores[j] as number));
  let positiveRankSum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && scores[order[end] as number] === scores[order[start] as number]) end++;
    // Ranks start..end-1 (0-based) share the average 1-based rank.
    const averageRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) if (labels[order[k] as number] === 1) positiveRankSum += averageRank;
    start = end;
  }
  const u = positiveRankSum - (positives * (positives + 1)) / 2;
  return u / (positives * negatives);
}

/** Brier score (G. W. Brier, Monthly Weather Review 78:1, 1950): mean of (p - y)²; 0 is perfect, 0.25 is a constant 0.5. */
export function brierScore(probabilities: readonly number[], labels: readonly (0 | 1)[]): number {
  requirePredictions('brierScore', probabilities, labels);
  let sum = 0;
  for (const [index, p] of probabilities.entries()) sum += (p - (labels[index] as number)) ** 2;
  return sum / probabilities.length;
}

/**
 * Mean negative log-likelihood, -mean(y log p + (1-y) log(1-p)) in nats, with p clipped to
 * [epsilon, 1 - epsilon] (default 1e-15, as scikit-learn) so one confident mistake costs
 * about 34.5 instead of Infinity.
 */
export function logLoss(
  probabilities: readonly number[],
  labels: readonly (0 | 1)[],
  epsilon = 1e-15,
): number {
  requirePredictions('logLoss', probabilities, labels);
  if (!(epsilon > 0 && epsilon < 0.5)) throw new RangeError(`epsilon must be in (0, 0.5), got ${epsilon}`);
  let sum = 0;
  for (const [index, raw] of probabilities.entries()) {
    const p = Math.min(1 - epsilon, Math.max(epsilon, raw));
    sum -= labels[index] === 1 ? Math.log(p) : Math.log1p(-p);
  }
  return sum / probabilities.length;
}

/**
 * Reliability table: `bins` equal-width bins over [0, 1], each with its count, mean
 * prediction and observed positive rate; empty bins are omitted. A calibrated model has
 * meanPredicted ≈ observedRate in every bin with enough count.
 */
export function calibrationBins(
  probabilities: readonly number[],
  labels: readonly (0 | 1)[],
  bins = 10,
): CalibrationBin[] {
  requireSameLength('calibrationBins', probabilities, labels);
  requireLabels(labels);
  requireProbabilities(probabilities);
  if (!(Number.isSafeInteger(bins) && bins > 0))
    throw new RangeError(`bins must be a positive integer, got ${bins}`);
  const counts = new Array<number>(bins).fill(0);
  const predictedSums = new Array<number>(bins).fill(0);
  const positiveCounts = new Array<number>(bins).fill(0);
  for (const [index, p] of probabilities.entries()) {
    const bin = Math.min(bins - 1, Math.floor(p * bins));
    counts[bin] = (counts[bin] as number) + 1;
    predictedSums[bin] = (predictedSums[bin] as number) + p;
    positiveCounts[bin] = (positiveCounts[bin] as number) + (labels[index] as number);
  }
  const table: CalibrationBin[] = [];
  for (let bin = 0; bin < bins; bin++) {
    const count = counts[bin] as number;
    if (count === 0) continue;
    table.push({
      lower: bin / bins,
      upper: (bin + 1) / bins,
      count,
      meanPredicted: (predictedSums[bin] as number) / count,
      observedRate: (positiveCounts[bin] as number) / count,
    });
  }
  return table;
}

/** AUC, Brier score, log loss and a 10-bin calibration table of predictions against labels. */
export function evaluate(probabilities: readonly number[], labels: readonly (0 | 1)[]): ModelEvaluation {
  return {
    auc: auc(probabilities, labels),
    brier: brierScore(probabilities, labels),
    logLoss: logLoss(probabilities, labels),
    calibration: calibrationBins(probabilities, labels),
  };
}

function requirePredictions(
  what: string,
  probabilities: readonly number[],
  labels: readonly (0 | 1)[],
): void {
  requireSameLength(what, probabilities, labels);
  if (probabilities.length === 0) throw new RangeError(`${what} needs at least one prediction`);
  requireLabels(labels);
  requireProbabilities(probabilities);
}

function requireProbabilities(probabilities: readonly number[]): void {
  for (const [index, p] of probabilities.entries()) {
    if (!(p >= 0 && p <= 1))
      throw new RangeError(`probabilities[${index}] must be between 0 and 1, got ${p}`);
  }
}
