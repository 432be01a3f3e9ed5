/**
 * Argument checks shared by the statistics functions (not part of the public surface).
 * A bad argument is a programming error in the caller, so it throws a RangeError that
 * names the argument and the value instead of letting NaN travel into a decision.
 */

export function requireFinite(name: string, value: number): void {
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be a finite number, got ${value}`);
}

export function requirePositive(name: string, value: number): void {
  if (!(value > 0) || Number.isNaN(value))
    throw new RangeError(`${name} must be greater than 0, got ${value}`);
}

/** A probability argument in [0, 1]. */
export function requireProbability(name: string, value: number): void {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be between 0 and 1, got ${value}`);
}

/** A confidence level or probability mass strictly between 0 and 1. */
export function requireLevel(name: string, value: number): void {
  if (!(value > 0 && value < 1))
    throw new RangeError(`${name} must be strictly between 0 and 1, got ${value}`);
}

/** A count of successes out of trials: 0 <= successes <= trials, both finite. */
export function requireCounts(successes: number, trials: number, label = ''): void {
  const prefix = label ? `${label}: ` : '';
  if (!(Number.isFinite(trials) && trials >= 0)) {
    throw new RangeError(`${prefix}trials must be a finite number >= 0, got ${trials}`);
  }
  if (!(Number.isFinite(successes) && successes >= 0 && successes <= trials)) {
    throw new RangeError(`${prefix}successes must be between 0 and trials (${trials}), got ${successes}`);
  }
}

/** A Beta distribution's parameters: both finite and > 0. */
export function requireBeta(name: string, d: { alpha: number; beta: number }): void {
  if (!(d.alpha > 0 && d.beta > 0 && Number.isFinite(d.alpha) && Number.isFinite(d.beta))) {
    throw new RangeError(
      `${name} must have finite alpha > 0 and beta > 0, got alpha=${d.alpha}, beta=${d.beta}`,
    );
  }
}

/** Labels of a binary outcome: every one 0 or 1. */
export function requireLabels(labels: readonly number[]): void {
  for (const [index, label] of labels.entries()) {
    if (label !== 0 && label !== 1) throw new RangeError(`labels[${index}] must be 0 or 1, got ${label}`);
  }
}

export function requireSameLength(what: string, a: readonly unknown[], b: readonly unknown[]): void {
  if (a.length !== b.length) throw new RangeError(`${what}: lengths differ (${a.length} and ${b.length})`);
}
