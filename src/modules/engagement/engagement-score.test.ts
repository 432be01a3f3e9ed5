import { describe, expect, it } from 'vitest';
import {
  AT_RISK,
  decayWeight,
  engagementScore,
  isAtRisk,
  SCORE_HALF_LIFE_DAYS,
  SCORE_WEIGHTS,
  scoreOf,
} from './engagement-score.js';

const DAY = 86_400_000;
const NOW = new Date('2026-03-15T12:00:00Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY);

describe('decay', () => {
  it('halves a weight every half-life', () => {
    expect(SCORE_HALF_LIFE_DAYS).toBe(30);
    expect(decayWeight(0)).toBe(1);
    expect(decayWeight(30 * DAY)).toBeCloseTo(0.5, 12);
    expect(decayWeight(60 * DAY)).toBeCloseTo(0.25, 12);
    expect(decayWeight(15 * DAY)).toBeCloseTo(Math.SQRT1_2, 12);
    expect(decayWeight(10 * DAY, 10)).toBeCloseTo(0.5, 12);
  });

  it('counts an engagement stamped in the future in full', () => {
    expect(decayWeight(-5 * DAY)).toBe(1);
  });

  it('refuses a half-life that is not positive', () => {
    expect(() => decayWeight(DAY, 0)).toThrow(RangeError);
  });
});

describe('engagement score', () => {
  it('weighs opens 1, clicks 3 and conversions 5', () => {
    expect(SCORE_WEIGHTS).toEqual({ open: 1, click: 3, conversion: 5 });
    expect(engagementScore({ opens: 2, clicks: 1, conversions: 1 })).toBe(10);
  });

  it('adds decayed engagements: recency and frequency both count', () => {
    const score = scoreOf(
      [
        { kind: 'open', at: daysAgo(0.000001) },
        { kind: 'open', at: daysAgo(30) },
        { kind: 'click', at: daysAgo(30) },
        { kind: 'conversion', at: daysAgo(60) },
      ],
      NOW,
    );
    expect(score).toBeCloseTo(1 + 0.5 + 1.5 + 1.25, 6);
    // A recent opener outranks one who opened more often long ago.
    const recent = scoreOf([{ kind: 'open', at: daysAgo(1) }], NOW);
    const old = scoreOf(
      Array.from({ length: 3 }, () => ({ kind: 'open' as const, at: daysAgo(90) })),
      NOW,
    );
    expect(recent).toBeGreaterThan(old);
  });

  it('ignores engagements at or after now and older than a year', () => {
    expect(
      scoreOf(
        [
          { kind: 'click', at: NOW },
          { kind: 'click', at: daysAgo(366) },
        ],
        NOW,
      ),
    ).toBe(0);
  });
});

describe('at risk', () => {
  const risk = (lastDaysAgo: number | null, p: number | null) =>
    isAtRisk({ lastEngagedAt: lastDaysAgo === null ? null : daysAgo(lastDaysAgo), openProbability: p }, NOW);

  it('is someone who engaged within 180 days but not for 60', () => {
    expect(AT_RISK).toEqual({ engagedWithinDays: 180, silentForDays: 60, openProbabilityBelow: 0.1 });
    expect(risk(61, null)).toBe(true);
    expect(risk(179, 0.9)).toBe(true);
    expect(risk(59, null)).toBe(false);
  });

  it('or who engaged recently but is predicted unlikely to open', () => {
    expect(risk(10, 0.05)).toBe(true);
    expect(risk(10, 0.1)).toBe(false);
  });

  it('is never someone who did not engage for 180 days, or never', () => {
    expect(risk(181, 0.01)).toBe(false);
    expect(risk(null, 0.01)).toBe(false);
  });
});
