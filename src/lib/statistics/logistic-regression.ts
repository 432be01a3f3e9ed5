/**
 * L2-regularized logistic regression fitted by Newton's method (iteratively reweighted
 * least squares), for engagement prediction: P(open or click | recipient features).
 */
import { requireLabels } from './checks.js';
import { evaluate, type ModelEvaluation } from './evaluation.js';

export type { ModelEvaluation } from './evaluation.js';

/**
 * A fitted model. `intercept` and `weights` are on the ORIGINAL feature scale, so
 * log-odds = intercept + Σ weights[j] · x[j] on raw features (what `predictProbability`
 * computes). `means` and `scales` record the standardization the fit used: the L2 penalty
 * applies to the standardized weights weights[j] · scales[j], so it does not depend on
 * the units of a feature. A constant column has scale 1 and weight 0.
 */
export interface LogisticModel {
  intercept: number;
  weights: number[];
  means: number[];
  scales: number[];
  iterations: number;
  /**
   * False when maxIterations ran out first: the maximum-likelihood estimate does not exist
   * when the data are perfectly separated (without l2) or all labels are equal (the
   * intercept is never penalized), and the coefficients keep growing.
   */
  converged: boolean;
}

export interface LogisticRegressionOptions {
  /**
   * Penalty λ in: maximize mean log-likelihood - (λ/2) Σ standardized weight²; not applied
   * to the intercept. Default 1e-4; 0 gives the maximum-likelihood estimate.
   */
  l2?: number;
  /** Newton iterations at most; default 100. */
  maxIterations?: number;
  /** Converged when no standardized coefficient moves by more than this; default 1e-8. */
  tolerance?: number;
}

/**
 * Fits P(y = 1 | x) = 1 / (1 + exp(-(b0 + w·x))) by Newton-Raphson on the penalized mean
 * log-likelihood (IRLS; McCullagh & Nelder, Generalized Linear Models, 2nd ed., 2.5), on
 * standardized columns ((x - mean) / standard deviation) so that the Hessian is well
 * conditioned and the penalty is unit-free. Each step is halved until the objective
 * improves, so it never diverges; the Newton system is solved by Cholesky, with a small
 * ridge added if it is singular (collinear columns without l2).
 */
export function fitLogisticRegression(
  features: readonly (readonly number[])[],
  labels: readonly (0 | 1)[],
  options: LogisticRegressionOptions = {},
): LogisticModel {
  const l2 = options.l2 ?? 1e-4;
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-8;
  if (!(Number.isFinite(l2) && l2 >= 0)) throw new RangeError(`l2 must be a finite number >= 0, got ${l2}`);
  if (!(Number.isSafeInteger(maxIterations) && maxIterations > 0)) {
    throw new RangeError(`maxIterations must be a positive integer, got ${maxIterations}`);
  }
  if (!(tolerance > 0)) throw new RangeError(`tolerance must be greater than 0, got ${tolerance}`);
  const n = features.length;
  if (n === 0) throw new RangeError('fitLogisticRegression needs at least one row');
  if (labels.length !== n) throw new RangeError(`features has ${n} rows but labels has ${labels.length}`);
  requireLabels(labels);
  const columns = (features[0] as readonly number[]).length;
  for (const [i, row] of features.entries()) {
    if (row.length !== columns)
      throw new RangeError(`features[${i}] has ${row.length} values, expected ${columns}`);
    for (const [j, value] of row.entries()) {
      if (!Number.isFinite(value))
        throw new RangeError(`features[${i}][${j}] must be a finite number, got ${value}`);
    }
  }

  const { means, scales, active } = standardization(features, columns);
  const k = active.length + 1; // intercept first, then the non-constant columns
  const design: Float64Array[] = features.map((row) => {
    const z = new Float64Array(k);
    z[0] = 1;
    for (const [c, j] of active.entries())
      z[c + 1] = ((row[j] as number) - (means[j] as number)) / (scales[j] as number);
    return z;
  });

  const objective = (beta: Float64Array): number => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const eta = dot(design[i] as Float64Array, beta);
      sum += (labels[i] as number) * eta - softplus(eta);
    }
    let penalty = 0;
    for (let c = 1; c < k; c++) penalty += (beta[c] as number) ** 2;
    return sum / n - (l2 / 2) * penalty;
  };

  let beta = new Float64Array(k);
  let current = objective(beta);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    iterations += 1;
    const gradient = new Float64Array(k);
    const hessian = Array.from({ length: k }, () => new Float64Array(k));
    for (let i = 0; i < n; i++) {
      const z = design[i] as Float64Array;
      const p = sigmoid(dot(z, beta));
      const residual = (labels[i] as number) - p;
      const weight = p * (1 - p);
      for (let r = 0; r < k; r++) {
        gradient[r] = (gradient[r] as number) + residual * (z[r] as number);
        const row = hessian[r] as Float64Array;
        const wz = weight * (z[r] as number);
        for (let c = 0; c <= r; c++) row[c] = (row[c] as number) + wz * (z[c] as number);
      }
    }
    for (let r = 0; r < k; r++) {
      gradient[r] = (gradient[r] as number) / n - (r > 0 ? l2 * (beta[r] as number) : 0);
      const row = hessian[r] as Float64Array;
      for (let c = 0; c <= r; c++) row[c] = (row[c] as number) / n + (r === c && r > 0 ? l2 : 0);
    }
    const step = solveSymmetric(hessian, gradient);
    if (!step.every(Number.isFinite)) break;
    // Damped Newton: halve until the penalized log-likelihood does not decrease.
    let scale = 1;
    let candidate = beta;
    let value = current;
    for (let halving = 0; halving < 40; halving++) {
      candidate = beta.map((b, r) => b + scale * (step[r] as number));
      value = objective(candidate);
      if (value >= current) break;
      scale /= 2;
    }
    let largestMove = 0;
    for (let r = 0; r < k; r++)
      largestMove = Math.max(largestMove, Math.abs((candidate[r] as number) - (beta[r] as number)));
    if (!(value >= current)) {
      // No step along the Newton direction helps: we are at the optimum to rounding.
      converged = true;
      break;
    }
    beta = candidate;
    current = value;
    if (largestMove <= tolerance) {
      converged = true;
      break;
    }
  }

  const weights = new Array<number>(columns).fill(0);
  let intercept = beta[0] as number;
  for (const [c, j] of active.entries()) {
    const w = (beta[c + 1] as number) / (scales[j] as number);
    weights[j] = w;
    intercept -= w * (means[j] as number);
  }
  // With one class only the likelihood keeps rising as the intercept runs off to ±Infinity;
  // the fit may stall where p rounds to 0 or 1, which is not an optimum.
  const oneClass = labels.every((label) => label === labels[0]);
  return { intercept, weights, means, scales, iterations, converged: converged && !oneClass };
}

/** P(y = 1) for one row of raw (unstandardized) features under a fitted model. */
export function predictProbability(model: LogisticModel, features: readonly number[]): number {
  if (features.length !== model.weights.length) {
    throw new RangeError(
      `the model has ${model.weights.length} weights but ${features.length} features were given`,
    );
  }
  let eta = model.intercept;
  for (const [j, w] of model.weights.entries()) eta += w * (features[j] as number);
  return sigmoid(eta);
}

/** The model's AUC, Brier score, log loss and calibration on (held-out) rows. */
export function evaluateModel(
  model: LogisticModel,
  features: readonly (readonly number[])[],
  labels: readonly (0 | 1)[],
): ModelEvaluation {
  return evaluate(
    features.map((row) => predictProbability(model, row)),
    labels,
  );
}

/** Column means and population standard deviations (two-pass); constant columns get scale 1 and are left out of the fit. */
function standardization(features: readonly (readonly number[])[], columns: number) {
  const n = features.length;
  const means: number[] = [];
  const scales: number[] = [];
  const active: number[] = [];
  for (let j = 0; j < columns; j++) {
    let sum = 0;
    for (const row of features) sum += row[j] as number;
    const mean = sum / n;
    let squares = 0;
    for (const row of features) squares += ((row[j] as number) - mean) ** 2;
    const sd = Math.sqrt(squares / n);
    // A column whose spread is only rounding noise around its mean is constant.
    const constant = !(sd > 1e-12 * Math.abs(mean)) || sd === 0;
    means.push(mean);
    scales.push(constant ? 1 : sd);
    if (!constant) active.push(j);
  }
  return { means, scales, active };
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

/** 1 / (1 + e^-x) without overflow for large |x|. */
function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/**
 * Solves H x = g for a symmetric positive semi-definite H given by its lower triangle,
 * by Cholesky; when H is singular to working precision a ridge growing from 1e-12 of
 * its trace is added, which picks the smallest-norm-like step along a flat direction.
 */
function solveSymmetric(lower: Float64Array[], g: Float64Array): Float64Array {
  const k = g.length;
  let trace = 0;
  for (let i = 0; i < k; i++) trace += (lower[i] as Float64Array)[i] as number;
  for (let ridge = 0; ; ridge = ridge === 0 ? 1e-12 * Math.max(trace, 1e-300) : ridge * 100) {
    const factor = cholesky(lower, ridge);
    if (factor) {
      const y = new Float64Array(k);
      for (let i = 0; i < k; i++) {
        let sum = g[i] as number;
        const row = factor[i] as Float64Array;
        for (let j = 0; j < i; j++) sum -= (row[j] as number) * (y[j] as number);
        y[i] = sum / (row[i] as number);
      }
      const x = new Float64Array(k);
      for (let i = k - 1; i >= 0; i--) {
        let sum = y[i] as number;
        for (let j = i + 1; j < k; j++) sum -= ((factor[j] as Float64Array)[i] as number) * (x[j] as number);
        x[i] = sum / ((factor[i] as Float64Array)[i] as number);
      }
      return x;
    }
    if (ridge > trace) return new Float64Array(k);
  }
}

function cholesky(lower: Float64Array[], ridge: number): Float64Array[] | undefined {
  const k = lower.length;
  const factor = Array.from({ length: k }, () => new Float64Array(k));
  for (let i = 0; i < k; i++) {
    const row = factor[i] as Float64Array;
    for (let j = 0; j <= i; j++) {
      let sum = ((lower[i] as Float64Array)[j] as number) + (i === j ? ridge : 0);
      const other = factor[j] as Float64Array;
      for (let m = 0; m < j; m++) sum -= (row[m] as number) * (other[m] as number);
      if (i === j) {
        if (!(sum > 1e-14 * Math.abs(((lower[i] as Float64Array)[i] as number) + ridge)) || sum <= 0)
          return undefined;
        row[i] = Math.sqrt(sum);
      } else {
        row[j] = sum / (other[j] as number);
      }
    }
  }
  return factor;
}
