/**
 * What the engagement models see of a contact: figures read from the
 * database as of an instant (the training cutoff, or now when scoring),
 * turned into one feature vector by the same function in both cases, so a
 * model is applied to exactly the features it was trained on.
 */
import { SCORE_LOOKBACK_DAYS } from './engagement-score.js';

const DAY_MS = 86_400_000;

/**
 * A contact's history before an instant `asOf`. Opens and clicks are human
 * (human or proxy hits), each email once per kind at its first such hit;
 * "received" counts marketing emails sent (campaign sends and automation
 * emails marked marketing). Everything is read within SCORE_LOOKBACK_DAYS.
 */
export interface EngagementFigures {
  createdAt: Date;
  lastOpenAt: Date | null;
  lastClickAt: Date | null;
  lastConversionAt: Date | null;
  opens30d: number;
  opens90d: number;
  clicks30d: number;
  clicks90d: number;
  received30d: number;
  received90d: number;
  conversions365d: number;
  /** Decayed counts (engagement-score.ts) behind the score. */
  openWeight: number;
  clickWeight: number;
  conversionWeight: number;
}

/**
 * The model's inputs, in order. Days since an event are capped at the
 * lookback (365: never, or not within a year); counts and days enter as
 * log(1 + x), so the tenth email matters less than the first.
 */
export const FEATURES = [
  'log_days_since_open',
  'log_days_since_click',
  'log_opens_30d',
  'log_opens_90d',
  'log_clicks_30d',
  'log_clicks_90d',
  'log_received_30d',
  'log_received_90d',
  'open_rate_90d',
  'log_tenure_days',
  'log_conversions_365d',
] as const;
export type FeatureName = (typeof FEATURES)[number];

/** Whole and fractional days from `at` to `asOf` (0 when `at` is later), or null without `at`. */
export function daysSince(at: Date | null, asOf: Date): number | null {
  if (!at) return null;
  return Math.max(0, (asOf.getTime() - at.getTime()) / DAY_MS);
}

function cappedDays(at: Date | null, asOf: Date): number {
  const days = daysSince(at, asOf);
  return days === null ? SCORE_LOOKBACK_DAYS : Math.min(days, SCORE_LOOKBACK_DAYS);
}

/** The feature vector of FEATURES for figures read as of `asOf`. */
export function featureVector(figures: EngagementFigures, asOf: Date): number[] {
  const log = (x: number) => Math.log1p(Math.max(0, x));
  return [
    log(cappedDays(figures.lastOpenAt, asOf)),
    log(cappedDays(figures.lastClickAt, asOf)),
    log(figures.opens30d),
    log(figures.opens90d),
    log(figures.clicks30d),
    log(figures.clicks90d),
    log(figures.received30d),
    log(figures.received90d),
    // Opens may be of emails received before the 90 days: capped at 1.
    Math.min(1, figures.opens90d / Math.max(1, figures.received90d)),
    log(daysSince(figures.createdAt, asOf) ?? 0),
    log(figures.conversions365d),
  ];
}

/**
 * The recency-only baseline a model must beat: minus the days since the last
 * human open (never opened within the lookback: minus one more day than the
 * lookback), so more recent openers rank higher.
 */
export function recencyBaseline(figures: EngagementFigures, asOf: Date): number {
  const days = daysSince(figures.lastOpenAt, asOf);
  return days === null ? -(SCORE_LOOKBACK_DAYS + 1) : -days;
}
