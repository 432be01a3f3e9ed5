import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSegment, matchingContactsSql } from '../../src/modules/segments/segment-compiler.js';
import {
  type Condition,
  checkDefinition,
  FIELDS,
  VALUE_OPERATORS,
} from '../../src/modules/segments/segment-definition.js';
import { evaluateSegment } from '../helpers/segment-evaluator.js';
import { NOW, type SeededWorld, seedWorld } from '../helpers/segment-world.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Random segment definitions over a messy data set: each one is either
 * refused with errors that point into the definition, or compiles to SQL
 * whose results, in both shapes (per contact and set-based), are exactly what
 * the in-memory evaluator says.
 */

let t: TestApp;
let world: SeededWorld;

const INJECTION = [
  "x' OR '1'='1",
  "'); DROP TABLE contacts; --",
  '$1',
  '%',
  '_',
  '\\',
  '"',
  '*/ SELECT 1 /*',
  ':name',
  '?',
];
const strings = fc.constantFrom(
  'pro',
  'Pro',
  'free',
  'Berlin',
  'ber',
  'LIN',
  'a',
  'b',
  'A1',
  'vip',
  'VIP',
  'beta',
  'example.com',
  'EXAMPLE.COM',
  'ann',
  'ÄRGER',
  'ärger',
  'Zoë',
  "O'Brien",
  'Europe/Berlin',
  'Europe',
  'de-DE',
  'u-1',
  'active',
  'bounced',
  'Order Completed',
  'EUR',
  'SPRING',
  '',
  ...INJECTION,
);
const numbers = fc.oneof(
  fc.constantFrom(0, 1, 10, 18, 41, 41.5, 60, 90, -3, 99.5, 100, 250, 10115),
  fc.integer({ min: -5, max: 300 }),
);
const dates = fc.constantFrom(
  '2025-03-01',
  '2025-03-16',
  '2026-02-20',
  '2026-03-10T08:30:00Z',
  '2026-03-15T11:00:00.000Z',
  '2026-01-01T00:00:00+02:00',
  '2024-02-29',
  '2026-13-01',
);
const scalars = fc.oneof(strings, numbers, fc.boolean(), dates);
const anyValue = fc.oneof(
  scalars,
  fc.array(scalars, { maxLength: 4 }),
  fc.constant(undefined),
  fc.constant(null),
  fc.constant({ nested: 1 }),
);

/** A value that fits the operator most of the time, anything at all otherwise (to exercise refusals). */
function valueFor(operator: string) {
  const fitting = (() => {
    switch (operator) {
      case 'exists':
        return fc.constant(undefined);
      case 'equals':
      case 'not_equals':
        return scalars;
      case 'contains':
        return fc.oneof(strings, strings, numbers);
      case 'starts_with':
      case 'ends_with':
        return strings;
      case 'in':
        return fc.array(scalars, { minLength: 1, maxLength: 4 });
      case 'greater_than':
      case 'less_than':
        return numbers;
      case 'between':
        return fc.oneof(
          fc.tuple(numbers, numbers).map(([a, b]) => [Math.min(a, b), Math.max(a, b)]),
          fc.tuple(dates, dates).map(([a, b]) => (a < b ? [a, b] : [b, a])),
        );
      case 'before':
      case 'after':
        return dates;
      case 'within_last_days':
      case 'more_than_days_ago':
        return fc.constantFrom(1, 7, 30, 90, 400, 800);
      case 'anniversary_in_days':
        return fc.constantFrom(0, 1, 5, 30, 365);
      default:
        return anyValue;
    }
  })();
  return fc.oneof({ weight: 6, arbitrary: fitting }, { weight: 1, arbitrary: anyValue });
}

const withValue = (operator: string, value: unknown) =>
  value === undefined ? { operator } : { operator, value };

const comparison = fc
  .constantFrom(...VALUE_OPERATORS, 'equal', 'like')
  .chain((operator) => valueFor(operator).map((value) => withValue(operator, value)));

const attributeNames = fc.oneof(
  fc.constantFrom(
    'plan',
    'age',
    'score',
    'signup',
    'flag',
    'address',
    'interests',
    'items',
    'name',
    'weird.key',
    'missing',
  ),
  fc.constantFrom(
    ['address', 'city'],
    ['address', 'zip'],
    ['items', '0', 'sku'],
    ['items', '-1', 'price'],
    ['interests', '1'],
    ['items', 'x'],
  ),
  fc.constantFrom('bad name', ''),
);
const windows = fc.oneof(
  fc.record({ within_last_days: fc.constantFrom(1, 7, 30, 60, 90, 200) }),
  fc.record({ since: dates }),
  fc.record({
    since: fc.constant('2026-01-01'),
    until: fc.constantFrom('2026-02-15', '2026-03-01T12:00:00Z'),
  }),
  fc.constant({ within_last_days: 0 }),
);
const count = fc.record({
  operator: fc.constantFrom('at_least', 'at_most', 'exactly'),
  value: fc.integer({ min: 0, max: 4 }),
});

function leaves(w: () => SeededWorld) {
  const attribute = fc
    .tuple(attributeNames, comparison)
    .map(([attribute, cmp]) => ({ attribute, ...cmp }) as unknown as Condition);
  const field = fc
    .tuple(fc.constantFrom(...FIELDS), comparison)
    .map(([f, cmp]) => ({ field: f, ...cmp }) as unknown as Condition);
  const list = fc
    .tuple(
      fc.constantFrom(...w().lists),
      fc.option(fc.subarray(['confirmed', 'unconfirmed', 'unsubscribed'], { minLength: 1 }), {
        nil: undefined,
      }),
    )
    .map(([id, status]) => (status ? { list: id, status } : { list: id }) as Condition);
  const event = fc
    .record(
      {
        event: fc.constantFrom(
          'Order Completed',
          'Viewed Product',
          'Signed Up',
          'segment.entered',
          'Never Sent',
        ),
        type: fc.constantFrom('track', 'page'),
        performed: fc.boolean(),
        count,
        window: windows,
        where: fc.array(
          fc
            .tuple(
              fc.oneof(
                fc.constantFrom('total', 'currency', 'coupon', 'when', 'items'),
                fc.constantFrom(['items', '0', 'sku'], ['items', '0', 'price'], ['weird key', 'a/b']),
              ),
              comparison,
            )
            .map(([property, cmp]) => ({ property, ...cmp })),
          { minLength: 1, maxLength: 2 },
        ),
      },
      { requiredKeys: ['event'] },
    )
    .map((e) => e as unknown as Condition);
  const engagement = fc
    .record(
      {
        engagement: fc.constantFrom('received', 'opened', 'clicked', 'bounced', 'never_opened'),
        campaign: fc.constantFrom('any', ...w().campaigns),
        window: windows,
        human_only: fc.boolean(),
        bounce: fc.constantFrom('hard', 'soft', 'any'),
      },
      { requiredKeys: ['engagement'] },
    )
    .map((e) => e as unknown as Condition);
  const conversion = fc
    .record(
      {
        event: fc.constantFrom('purchase', 'signup'),
        currency: fc.constantFrom('EUR', 'USD'),
        window: windows,
        count,
        revenue: fc.oneof(
          fc.record({
            operator: fc.constantFrom('greater_than', 'less_than', 'at_least', 'at_most', 'equals'),
            value: fc.constantFrom('0', '10', '49.9', '100.000001', '-1', 50, '1e3'),
          }),
          fc.record({
            operator: fc.constant('between'),
            value: fc.constantFrom(['0', '100'], ['50', '10'], ['-10', '300']),
          }),
        ),
      },
      { requiredKeys: [] },
    )
    .map((c) => ({ conversion: c }) as unknown as Condition);
  const score = fc
    .record(
      {
        score: fc.constantFrom('engagement', 'open_probability', 'click_probability', 'probability'),
        operator: fc.constantFrom('greater_than', 'less_than', 'between', 'exists', 'equals'),
        value: fc.oneof(
          fc.constantFrom(0, 0.05, 0.1, 0.3, 0.5, 1, 2.75, 10, 1.5, -1),
          fc.constantFrom([0.1, 0.3], [0, 1], [1, 10], [0.5, 0.1], [0, 2]),
          fc.constant('0.3'),
        ),
      },
      { requiredKeys: ['score', 'operator'] },
    )
    .map((s) => s as unknown as Condition);
  const atRisk = fc
    .record(
      { engagement: fc.constant('at_risk'), window: windows, campaign: fc.constant('any') },
      { requiredKeys: ['engagement'] },
    )
    .map((e) => e as unknown as Condition);
  const segment = fc.constantFrom(...w().segmentIds).map((id) => ({ segment: id }) as Condition);
  const sample = fc
    .record(
      { percent: fc.constantFrom(0.5, 10, 33.33, 50, 100, 0, 150), seed: fc.constantFrom('a', 'b', "'; --") },
      { requiredKeys: ['percent'] },
    )
    .map((s) => ({ sample: s }) as unknown as Condition);
  return fc.oneof(
    { weight: 5, arbitrary: attribute },
    { weight: 3, arbitrary: field },
    { weight: 1, arbitrary: list },
    { weight: 3, arbitrary: event },
    { weight: 2, arbitrary: engagement },
    { weight: 2, arbitrary: conversion },
    { weight: 2, arbitrary: score },
    { weight: 1, arbitrary: atRisk },
    { weight: 1, arbitrary: segment },
    { weight: 1, arbitrary: sample },
  );
}

function definitions(w: () => SeededWorld) {
  const leaf = leaves(w);
  return fc.letrec<{ node: Condition }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      { weight: 4, arbitrary: leaf },
      {
        weight: 1,
        arbitrary: fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((all) => ({ all }) as Condition),
      },
      {
        weight: 1,
        arbitrary: fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((any) => ({ any }) as Condition),
      },
      { weight: 1, arbitrary: tie('node').map((not) => ({ not }) as Condition) },
    ),
  })).node;
}

/** The value a JSON pointer names in `root`, or a marker when it names nothing. */
function resolvePointer(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  let current: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (current === null || typeof current !== 'object') return Symbol.for('missing');
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

async function sqlMatches(definition: Condition): Promise<{ set: string[]; probe: string[] }> {
  const compiled = compileSegment(definition, {
    workspaceId: t.workspaceId,
    now: NOW,
    segments: world.segments,
  });
  const set = await matchingContactsSql(compiled, t.workspaceId).execute(t.container.db);
  const probe = await sql<{ id: string }>`SELECT c.id FROM contacts AS c
    WHERE c.workspace_id = ${t.workspaceId} AND ${compiled.probe}`.execute(t.container.db);
  return { set: set.rows.map((r) => r.id).sort(), probe: probe.rows.map((r) => r.id).sort() };
}

beforeAll(async () => {
  t = await createTestApp();
  const noise = await t.createWorkspace('Noise');
  world = await seedWorld(t.container.db, t.workspaceId, { noiseWorkspaceId: noise.workspaceId });
});
afterAll(async () => {
  await t?.close();
});

describe('random segment definitions', () => {
  it('are refused with errors that point into the definition, or match the in-memory evaluator in both SQL shapes', async () => {
    let compiled = 0;
    let refused = 0;
    let partial = 0;
    await fc.assert(
      fc.asyncProperty(
        definitions(() => world),
        async (definition) => {
          const check = checkDefinition(definition);
          if (!check.ok) {
            refused++;
            for (const error of check.errors) {
              expect(error.message.length).toBeGreaterThan(10);
              expect(resolvePointer(definition, error.path ?? '')).not.toBe(Symbol.for('missing'));
            }
            return;
          }
          compiled++;
          const expected = [...evaluateSegment(check.definition, world, NOW)].sort();
          const actual = await sqlMatches(check.definition);
          expect(actual.set, JSON.stringify(definition)).toEqual(expected);
          expect(actual.probe, JSON.stringify(definition)).toEqual(expected);
          if (expected.length > 0 && expected.length < world.contacts.length) partial++;
        },
      ),
      { numRuns: Number(process.env.HERALD_PROPERTY_RUNS ?? 250) },
    );
    if (process.env.HERALD_PROPERTY_DEBUG) console.log({ compiled, refused, partial });
    // Both outcomes must actually happen, or the generator has drifted.
    expect(compiled).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(10);
    expect(partial).toBeGreaterThan(compiled / 4);
  });
});
