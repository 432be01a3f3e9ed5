import { createHash } from 'node:crypto';
import {
  type BetaDistribution,
  betaPosterior,
  createRandom,
  credibleInterval,
  type Interval,
  probabilityToBeBest,
  thompsonChoose,
} from '../../lib/statistics/index.js';
import type { RandomSplitNode } from './automation-definition.js';

/**
 * Experiments inside automations, the pure part: how a bandit split chooses
 * a path, what share of new runs each path gets, and who is in a holdout
 * group. No I/O; the engine, the simulation and the reports decide with
 * these functions alike.
 *
 * Glossary:
 * - **arm**: one path of a bandit split, with its evidence;
 * - **trial**: an earlier run on the path whose outcome is known;
 * - **success**: such a run whose contact did what the metric names within
 *   the window (see bandits.repository.ts for the exact rule);
 * - **prior allocation**: the path percents of the definition, used until
 *   every path has at least one trial.
 */

export type BanditMetric = 'opened' | 'clicked' | 'converted';

export interface BanditSettings {
  metric: BanditMetric;
  /** How long after the path's first email (converted: after the choice) an outcome is awaited. */
  window_hours: number;
}

/** Default evaluation window of a bandit split. */
export const BANDIT_WINDOW_HOURS = 24;
/** Longest evaluation window a bandit split may have (90 days). */
export const BANDIT_MAX_WINDOW_HOURS = 2160;
/** Largest share of contacts an automation may hold out. */
export const HOLDOUT_MAX_SHARE = 0.5;
/** Monte Carlo draws for probability to be best and shares (standard error <= 0.0036). */
const DRAWS = 20_000;

export function banditSettings(node: RandomSplitNode): BanditSettings | undefined {
  if (!node.bandit) return undefined;
  return { metric: node.bandit.metric, window_hours: node.bandit.window_hours ?? BANDIT_WINDOW_HOURS };
}

/** The evidence of one path. */
export interface ArmCounts {
  trials: number;
  successes: number;
}

export type ChosenBy = 'prior' | 'thompson';

export interface BanditChoice {
  path: number;
  chosen_by: ChosenBy;
}

/** The counts aligned to the paths (a path without rows has none). */
function aligned(paths: number, arms: readonly (ArmCounts | undefined)[]): ArmCounts[] {
  return Array.from({ length: paths }, (_, i) => arms[i] ?? { trials: 0, successes: 0 });
}

/** Thompson sampling starts once every path has at least one trial; until then the percents split. */
export function usesPrior(paths: number, arms: readonly (ArmCounts | undefined)[]): boolean {
  return aligned(paths, arms).some((arm) => arm.trials === 0);
}

/** Beta(1 + successes, 1 + failures): the posterior of a path's rate under a uniform prior. */
export function armPosterior(arm: ArmCounts): BetaDistribution {
  return betaPosterior(arm.successes, arm.trials);
}

/**
 * The path a run takes at a bandit split, from the paths' percents, their
 * evidence and a seed (the run id and node id: the same inputs always give
 * the same path). Until every path has a trial, the percents decide by a
 * seeded uniform draw; after that, Thompson sampling draws one rate from
 * each path's posterior and takes the highest.
 */
export function chooseBanditPath(
  percents: readonly number[],
  arms: readonly (ArmCounts | undefined)[],
  seed: string,
): BanditChoice {
  if (percents.length === 0) throw new RangeError('a split needs at least one path');
  const random = createRandom(seed);
  if (usesPrior(percents.length, arms)) {
    const point = random.next() * 100;
    let upTo = 0;
    for (const [i, percent] of percents.entries()) {
      upTo += percent;
      if (point < upTo) return { path: i, chosen_by: 'prior' };
    }
    return { path: percents.length - 1, chosen_by: 'prior' };
  }
  const posteriors = aligned(percents.length, arms).map(armPosterior);
  return { path: thompsonChoose(posteriors, random), chosen_by: 'thompson' };
}

export interface ArmSummary extends ArmCounts {
  posterior_mean: number;
  credible_interval: Interval;
  probability_to_be_best: number;
  /** The probability that a new run takes this path now. */
  share_of_new_runs: number;
}

export interface BanditSummary {
  chosen_by: ChosenBy;
  arms: ArmSummary[];
}

/**
 * What the evidence says now, per path: posterior mean, 95% equal-tailed
 * credible interval, probability to be best (seeded Monte Carlo, so the
 * same counts always give the same figures), and the share of new runs:
 * the percents while the prior decides, else the probability to be best
 * (Thompson sampling takes a path exactly as often as it is best under the
 * posteriors).
 */
export function summarizeBandit(
  percents: readonly number[],
  arms: readonly (ArmCounts | undefined)[],
  seed: string,
): BanditSummary {
  const counts = aligned(percents.length, arms);
  const posteriors = counts.map(armPosterior);
  const best = probabilityToBeBest(posteriors, { random: createRandom(seed), draws: DRAWS });
  const prior = usesPrior(percents.length, counts);
  return {
    chosen_by: prior ? 'prior' : 'thompson',
    arms: counts.map((arm, i) => {
      const posterior = posteriors[i] as BetaDistribution;
      return {
        ...arm,
        posterior_mean: posterior.alpha / (posterior.alpha + posterior.beta),
        credible_interval: credibleInterval(posterior, 0.95),
        probability_to_be_best: best[i] ?? 0,
        share_of_new_runs: prior ? (percents[i] ?? 0) / 100 : (best[i] ?? 0),
      };
    }),
  };
}

/**
 * A uniform draw in [0, 1) from a seed, a purpose and an id: the same value
 * as the SQL function herald_unit_draw (migration 0027), the first 52 bits
 * of the MD5 of "seed:purpose:id", so a group can be recomputed in SQL.
 */
export function unitDraw(seed: string, purpose: string, id: string): number {
  const hex = createHash('md5').update(`${seed}:${purpose}:${id}`).digest('hex').slice(0, 13);
  return Number.parseInt(hex, 16) / 2 ** 52;
}

/**
 * Whether a contact is in an automation's holdout group: a draw fixed by
 * automation and contact, so a contact is always in the same group (as
 * long as the share stays; a larger share adds contacts to the group and
 * keeps those in it).
 */
export function inHoldout(automationId: string, contactId: string, share: number | undefined): boolean {
  return share !== undefined && share > 0 && unitDraw(automationId, 'automation_holdout', contactId) < share;
}
