import { describe, expect, it } from 'vitest';
import { checkDefinition, compareDecimal, dateKey, LIMITS } from './segment-definition.js';

describe('segment definitions', () => {
  it('normalizes dates to the sortable form Herald stores, refusing impossible ones', () => {
    expect(dateKey('2026-01-31')).toBe('2026-01-31T00:00:00.000Z');
    expect(dateKey('2026-01-31T10:00:00+02:00')).toBe('2026-01-31T08:00:00.000Z');
    expect(dateKey('2026-02-30')).toBeUndefined();
    expect(dateKey('2026-01-31T10:00:00')).toBeUndefined();
    expect(dateKey('31/01/2026')).toBeUndefined();
  });

  it('compares decimals exactly', () => {
    expect(compareDecimal('0.1', '0.100000')).toBe(0);
    expect(compareDecimal('-5.5', '-5.49')).toBe(-1);
    expect(compareDecimal('100.000001', '100')).toBe(1);
  });

  it('bounds the size and depth of a definition', () => {
    let deep: unknown = { field: 'email', operator: 'contains', value: 'a' };
    for (let i = 0; i < LIMITS.depth + 1; i++) deep = { not: deep };
    const tooDeep = checkDefinition(deep);
    expect(tooDeep.ok).toBe(false);
    if (!tooDeep.ok) expect(tooDeep.errors[0]?.message).toContain('at most 12 levels');

    const wide = {
      any: Array.from({ length: LIMITS.nodes }, () => ({ field: 'email', operator: 'contains', value: 'a' })),
    };
    const tooWide = checkDefinition(wide);
    expect(tooWide.ok).toBe(false);
    if (!tooWide.ok) expect(tooWide.errors[0]?.message).toContain('at most 200 conditions');

    const many = { any: Array.from({ length: LIMITS.subqueries + 1 }, () => ({ event: 'E' })) };
    const tooMany = checkDefinition(many);
    expect(tooMany.ok).toBe(false);
    if (!tooMany.ok) expect(tooMany.errors[0]?.message).toContain('at most 40 list, event');
  });

  it('refuses text PostgreSQL cannot store, with its path', () => {
    const result = checkDefinition(
      { all: [{ attribute: 'plan', operator: 'equals', value: 'a\u0000b' }] },
      '/definition',
    );
    expect(result).toEqual({
      ok: false,
      errors: [
        {
          path: '/definition/all/0/value',
          message: 'contains a NUL character (\\u0000), which cannot be stored',
        },
      ],
    });
    const surrogate = checkDefinition({ event: '\ud800' });
    expect(surrogate.ok).toBe(false);
  });

  it('accepts engagement scores and at_risk, and refuses what does not fit with the path', () => {
    for (const ok of [
      { score: 'engagement', operator: 'greater_than', value: 12.5 },
      { score: 'open_probability', operator: 'between', value: [0, 0.3] },
      { score: 'click_probability', operator: 'exists' },
      { engagement: 'at_risk' },
    ])
      expect(checkDefinition(ok).ok, JSON.stringify(ok)).toBe(true);
    const bad = checkDefinition({
      any: [
        { score: 'click_probability', operator: 'less_than', value: -0.1 },
        { score: 'engagement', operator: 'exists', value: 1 },
        { score: 'open_probability', operator: 'greater_than', value: 0.2, window: { within_last_days: 3 } },
        { engagement: 'at_risk', campaign: 'any' },
        { score: 'engagement', operator: 'between', value: [1] },
      ],
    });
    expect(bad.ok).toBe(false);
    if (!bad.ok)
      expect(bad.errors.map((e) => e.path)).toEqual([
        '/any/0/value',
        '/any/1/value',
        '/any/2/window',
        '/any/3/campaign',
        '/any/4/value',
      ]);
  });
});
