import { type Interval, twoProportionZTest, wilsonInterval } from './proportions.js';

/**
 * Lift against a holdout group: the contacts who received something
 * (treated) and those held back (holdout), compared on conversions and
 * revenue. Shared by the campaign and automation holdout reports.
 */

export interface ConversionGroup {
  contacts: number;
  converters: number;
  /** Revenue per currency, as exact decimal strings. */
  revenue: { currency: string; amount: string }[];
}

export interface GroupFigures {
  contacts: number;
  converters: number;
  conversion_rate: number;
  interval: Interval;
  revenue: { currency: string; amount: string }[];
}

export interface Lift {
  /** Conversion rate of the treated minus that of the holdout group. */
  difference: number;
  interval: Interval;
  /** Relative lift; null when the holdout group has no conversions. */
  relative: number | null;
  /** Two-sided two-proportion z-test. */
  p_value: number;
  revenue_per_contact: { currency: string; treated: number; holdout: number; difference: number }[];
}

/**
 * Both groups' figures (Wilson intervals) and the lift; `formatAmount`
 * shapes each revenue amount for display (e.g. to the currency's decimals).
 */
export function compareGroups(
  treated: ConversionGroup,
  holdout: ConversionGroup,
  formatAmount: (amount: string, currency: string) => string = (amount) => amount,
): { treated: GroupFigures; holdout: GroupFigures; lift: Lift } {
  const rate = (g: ConversionGroup) => (g.contacts > 0 ? g.converters / g.contacts : 0);
  const test = twoProportionZTest(holdout.converters, holdout.contacts, treated.converters, treated.contacts);
  const currencies = [...new Set([...treated.revenue, ...holdout.revenue].map((r) => r.currency))].sort();
  const perContact = (g: ConversionGroup, currency: string) => {
    const amount = Number(g.revenue.find((r) => r.currency === currency)?.amount ?? 0);
    return g.contacts > 0 ? amount / g.contacts : 0;
  };
  const figures = (g: ConversionGroup): GroupFigures => ({
    contacts: g.contacts,
    converters: g.converters,
    conversion_rate: rate(g),
    interval: wilsonInterval(g.converters, g.contacts),
    revenue: g.revenue.map((r) => ({ currency: r.currency, amount: formatAmount(r.amount, r.currency) })),
  });
  return {
    treated: figures(treated),
    holdout: figures(holdout),
    lift: {
      difference: test.difference,
      interval: test.interval,
      relative: rate(holdout) > 0 ? rate(treated) / rate(holdout) - 1 : null,
      p_value: test.pValue,
      revenue_per_contact: currencies.map((currency) => ({
        currency,
        treated: perContact(treated, currency),
        holdout: perContact(holdout, currency),
        difference: perContact(treated, currency) - perContact(holdout, currency),
      })),
    },
  };
}
