import { describe, expect, it } from 'vitest';
import { compareGroups } from './lift.js';

describe('lift against a holdout group', () => {
  it('compares conversion rates and revenue per contact', () => {
    // 120 of 1,000 treated contacts converted against 40 of 500 held out: 12% against 8%.
    const { treated, holdout, lift } = compareGroups(
      { contacts: 1000, converters: 120, revenue: [{ currency: 'EUR', amount: '3000.00' }] },
      { contacts: 500, converters: 40, revenue: [{ currency: 'EUR', amount: '800.00' }] },
    );
    expect(treated.conversion_rate).toBeCloseTo(0.12, 12);
    expect(holdout.conversion_rate).toBeCloseTo(0.08, 12);
    expect(lift.difference).toBeCloseTo(0.04, 12);
    expect(lift.relative).toBeCloseTo(0.5, 12);
    // Pooled p = 160/1500; SE = sqrt(p(1-p)(1/1000+1/500)) = 0.016908; z = 2.3658; two-sided p = 0.01799.
    expect(lift.p_value).toBeCloseTo(0.01799, 4);
    expect(lift.revenue_per_contact).toEqual([
      { currency: 'EUR', treated: 3, holdout: 1.6, difference: 1.4 },
    ]);
    expect(treated.interval.lower).toBeLessThan(0.12);
    expect(treated.interval.upper).toBeGreaterThan(0.12);
  });

  it('has no relative lift without holdout conversions, and no division by empty groups', () => {
    const { lift, holdout } = compareGroups(
      { contacts: 10, converters: 2, revenue: [] },
      { contacts: 0, converters: 0, revenue: [] },
    );
    expect(lift.relative).toBeNull();
    expect(holdout.conversion_rate).toBe(0);
    expect(lift.p_value).toBe(1);
  });
});
