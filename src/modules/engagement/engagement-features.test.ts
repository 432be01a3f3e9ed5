import { describe, expect, it } from 'vitest';
import {
  daysSince,
  type EngagementFigures,
  FEATURES,
  featureVector,
  recencyBaseline,
} from './engagement-features.js';

const DAY = 86_400_000;
const AS_OF = new Date('2026-03-15T00:00:00Z');
const daysAgo = (days: number) => new Date(AS_OF.getTime() - days * DAY);
const figures = (over: Partial<EngagementFigures> = {}): EngagementFigures => ({
  createdAt: daysAgo(100),
  lastOpenAt: null,
  lastClickAt: null,
  lastConversionAt: null,
  opens30d: 0,
  opens90d: 0,
  clicks30d: 0,
  clicks90d: 0,
  received30d: 0,
  received90d: 0,
  conversions365d: 0,
  openWeight: 0,
  clickWeight: 0,
  conversionWeight: 0,
  ...over,
});

describe('feature vector', () => {
  it('has one value per feature name, in order', () => {
    const v = featureVector(
      figures({
        lastOpenAt: daysAgo(3),
        lastClickAt: daysAgo(9),
        opens30d: 2,
        opens90d: 5,
        clicks30d: 1,
        clicks90d: 3,
        received30d: 4,
        received90d: 10,
        conversions365d: 1,
      }),
      AS_OF,
    );
    expect(v).toHaveLength(FEATURES.length);
    const named = Object.fromEntries(FEATURES.map((name, i) => [name, v[i]]));
    expect(named.log_days_since_open).toBeCloseTo(Math.log(4), 12);
    expect(named.log_days_since_click).toBeCloseTo(Math.log(10), 12);
    expect(named.log_opens_30d).toBeCloseTo(Math.log(3), 12);
    expect(named.log_opens_90d).toBeCloseTo(Math.log(6), 12);
    expect(named.log_clicks_30d).toBeCloseTo(Math.log(2), 12);
    expect(named.log_clicks_90d).toBeCloseTo(Math.log(4), 12);
    expect(named.log_received_30d).toBeCloseTo(Math.log(5), 12);
    expect(named.log_received_90d).toBeCloseTo(Math.log(11), 12);
    expect(named.open_rate_90d).toBeCloseTo(0.5, 12);
    expect(named.log_tenure_days).toBeCloseTo(Math.log(101), 12);
    expect(named.log_conversions_365d).toBeCloseTo(Math.log(2), 12);
  });

  it('treats never as the lookback: 365 days', () => {
    const v = featureVector(figures(), AS_OF);
    expect(v[0]).toBeCloseTo(Math.log(366), 12);
    expect(v[1]).toBeCloseTo(Math.log(366), 12);
    expect(v[8]).toBe(0);
  });

  it('caps the open rate at 1 (opens of emails received before the 90 days)', () => {
    expect(featureVector(figures({ opens90d: 3, received90d: 1 }), AS_OF)[8]).toBe(1);
  });

  it('counts tenure from creation to the instant the figures are read as of (never negative)', () => {
    expect(featureVector(figures({ createdAt: new Date(AS_OF.getTime() + DAY) }), AS_OF)[9]).toBe(0);
    expect(daysSince(daysAgo(1.5), AS_OF)).toBeCloseTo(1.5, 12);
    expect(daysSince(null, AS_OF)).toBeNull();
  });
});

describe('recency baseline', () => {
  it('ranks recent openers first and never-openers last', () => {
    const recent = recencyBaseline(figures({ lastOpenAt: daysAgo(1) }), AS_OF);
    const older = recencyBaseline(figures({ lastOpenAt: daysAgo(200) }), AS_OF);
    const never = recencyBaseline(figures(), AS_OF);
    expect(recent).toBeCloseTo(-1, 12);
    expect(recent).toBeGreaterThan(older);
    expect(older).toBeGreaterThan(never);
    expect(never).toBe(-366);
  });
});
