import type { AbTestMethod, AbTestMetric, AbTestPolicy } from '../../db/index.js';
import type { ErrorDetail } from '../../lib/errors.js';

/**
 * A/B test settings as the API takes them, their defaults, and the checks
 * that need nothing but the input. Pure: references (templates) are checked
 * by the campaigns service.
 */

export const MAX_VARIANTS = 8;
export const METRICS: readonly AbTestMetric[] = [
  'human_unique_opens',
  'human_unique_clicks',
  'click_to_open',
  'conversions',
  'revenue_per_recipient',
];

export interface VariantInput {
  name?: string | undefined;
  subject?: string | null | undefined;
  preheader?: string | null | undefined;
  from_name?: string | null | undefined;
  template_id?: string | null | undefined;
  send_delay_minutes?: number | undefined;
}

export interface AbTestInput {
  variants: VariantInput[];
  test_share?: number | undefined;
  metric?: AbTestMetric | undefined;
  method?: AbTestMethod | undefined;
  confidence?: number | undefined;
  window_minutes?: number | undefined;
  when_inconclusive?: AbTestPolicy | undefined;
  revenue_currency?: string | null | undefined;
}

export interface VariantSettings {
  position: number;
  name: string;
  subject: string | null;
  preheader: string | null;
  from_name: string | null;
  template_id: string | null;
  send_delay_minutes: number;
}

export interface AbTestSettings {
  test_share: number;
  metric: AbTestMetric;
  method: AbTestMethod;
  confidence: number;
  window_minutes: number;
  when_inconclusive: AbTestPolicy;
  revenue_currency: string | null;
  variants: VariantSettings[];
}

/**
 * Defaults. The Bayesian threshold is 0.975, not the familiar 0.95: with two
 * variants and no true difference, "probability to beat all >= 0.95" is met
 * by one variant or the other in about 10% of tests (it is a one-sided 5%
 * bound, checked in both directions); 0.975 keeps false winners near the
 * frequentist test's 5%.
 */
export const DEFAULTS = {
  test_share: 0.2,
  metric: 'human_unique_opens' as AbTestMetric,
  method: 'frequentist' as AbTestMethod,
  confidence: { frequentist: 0.95, bayesian: 0.975 },
  window_minutes: 240,
  when_inconclusive: 'send_leader' as AbTestPolicy,
};

/** A, B, C, ... H. */
export function defaultVariantName(position: number): string {
  return String.fromCharCode(65 + position);
}

/**
 * Fills defaults and checks what the input alone can show: variant count,
 * unique names, identical variants, the revenue currency, a send-time
 * variant only without send-time optimization. Errors carry JSON pointers
 * under `/ab_test`.
 */
export function checkAbTest(
  input: AbTestInput,
  campaign: { sendTimeOptimization?: boolean | undefined } = {},
): { settings: AbTestSettings } | { errors: ErrorDetail[] } {
  const errors: ErrorDetail[] = [];
  const variants = input.variants.map(
    (v, position): VariantSettings => ({
      position,
      name: (v.name ?? defaultVariantName(position)).trim(),
      subject: v.subject ?? null,
      preheader: v.preheader ?? null,
      from_name: v.from_name ?? null,
      template_id: v.template_id ?? null,
      send_delay_minutes: v.send_delay_minutes ?? 0,
    }),
  );
  if (variants.length < 2 || variants.length > MAX_VARIANTS)
    errors.push({
      path: '/ab_test/variants',
      message: `an A/B test has 2 to ${MAX_VARIANTS} variants (got ${variants.length})`,
    });
  const seenNames = new Map<string, number>();
  const seenContent = new Map<string, number>();
  for (const v of variants) {
    if (v.name === '')
      errors.push({
        path: `/ab_test/variants/${v.position}/name`,
        message: 'a variant name cannot be empty',
      });
    const lower = v.name.toLowerCase();
    const sameName = seenNames.get(lower);
    if (sameName !== undefined)
      errors.push({
        path: `/ab_test/variants/${v.position}/name`,
        message: `variant name "${v.name}" is already used by variant ${sameName}`,
      });
    else seenNames.set(lower, v.position);
    const content = JSON.stringify([
      v.subject,
      v.preheader,
      v.from_name,
      v.template_id,
      v.send_delay_minutes,
    ]);
    const twin = seenContent.get(content);
    if (twin !== undefined)
      errors.push({
        path: `/ab_test/variants/${v.position}`,
        message: `variant "${v.name}" is the same as variant "${variants[twin]?.name}": change its subject, preheader, from_name, template_id or send_delay_minutes`,
      });
    else seenContent.set(content, v.position);
    if (v.send_delay_minutes > 0 && campaign.sendTimeOptimization)
      errors.push({
        path: `/ab_test/variants/${v.position}/send_delay_minutes`,
        message:
          'send-time variants cannot be combined with send_time_optimization, which picks each contact’s own hour',
      });
  }
  const metric = input.metric ?? DEFAULTS.metric;
  const currency = input.revenue_currency ?? null;
  if (metric === 'revenue_per_recipient' && !currency)
    errors.push({
      path: '/ab_test/revenue_currency',
      message: 'revenue_per_recipient compares revenue in one currency: set revenue_currency (e.g. "EUR")',
    });
  if (currency !== null && !/^[A-Z]{3}$/.test(currency))
    errors.push({ path: '/ab_test/revenue_currency', message: 'a three-letter ISO 4217 code such as EUR' });
  if (errors.length > 0) return { errors };
  const method = input.method ?? DEFAULTS.method;
  return {
    settings: {
      test_share: input.test_share ?? DEFAULTS.test_share,
      metric,
      method,
      confidence: input.confidence ?? DEFAULTS.confidence[method],
      window_minutes: input.window_minutes ?? DEFAULTS.window_minutes,
      when_inconclusive: input.when_inconclusive ?? DEFAULTS.when_inconclusive,
      revenue_currency: currency,
      variants,
    },
  };
}
