import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ErrorDetail } from '../../lib/errors.js';
import {
  type AutomationDefinition,
  checkAutomationDefinition,
  definitionReferences,
  LIMITS,
  withDefaults,
} from './automation-definition.js';

const LIST = '0190a000-0000-7000-8000-000000000001';
const SEGMENT = '0190a000-0000-7000-8000-000000000002';

/** The abandoned-cart journey of the automations issue. */
function cart(): Record<string, unknown> {
  return {
    trigger: {
      type: 'event',
      event: 'Cart Updated',
      where: [{ property: 'total', operator: 'greater_than', value: 0 }],
    },
    entry: { mode: 'once' },
    instance_key: 'cart_id',
    exit_on: ['unsubscribed', 'bounced', 'complained'],
    goal: { event: 'Order Completed', where: [], node: 'purchased' },
    start: 'wait_4h',
    nodes: [
      { id: 'wait_4h', type: 'wait', for: { hours: 4 }, next: 'check' },
      {
        id: 'check',
        type: 'branch',
        branches: [
          { condition: { event: 'Order Completed', window: { within_last_days: 1 } }, next: 'done' },
        ],
        else: 'reminder',
      },
      { id: 'reminder', type: 'send_email', template: 'Cart reminder', next: 'wait_1d' },
      { id: 'wait_1d', type: 'wait', for: { days: 1 }, next: 'discount' },
      { id: 'discount', type: 'send_email', template: 'Cart discount', next: 'done' },
      { id: 'purchased', type: 'goal' },
      { id: 'done', type: 'exit' },
    ],
  };
}

function errorsOf(definition: unknown): ErrorDetail[] {
  const result = checkAutomationDefinition(definition, '/definition');
  return result.ok ? [] : result.errors;
}

/** A definition with one part replaced. */
function cartWith(change: (d: Record<string, unknown> & { nodes: Record<string, unknown>[] }) => void) {
  const d = cart() as Record<string, unknown> & { nodes: Record<string, unknown>[] };
  change(d);
  return d;
}

function expectError(errors: ErrorDetail[], path: string, message: RegExp, node?: string) {
  const match = errors.find((e) => e.path === path && message.test(e.message));
  expect(match, `no error at ${path} matching ${message}: ${JSON.stringify(errors, null, 1)}`).toBeDefined();
  if (node !== undefined) expect(match?.node).toBe(node);
}

describe('automation definitions: good ones', () => {
  it('accepts the abandoned-cart journey', () => {
    expect(errorsOf(cart())).toEqual([]);
  });

  it('accepts every trigger type', () => {
    const triggers = [
      { type: 'event', event: 'Signed Up' },
      { type: 'contact_created' },
      { type: 'list_subscribed', list_id: LIST },
      { type: 'list_confirmed', list_id: LIST },
      { type: 'segment_entered', segment_id: SEGMENT },
      { type: 'segment_exited', segment_id: SEGMENT },
      { type: 'date_attribute', attribute: 'birthday', offset_days: -3, hour: 9, every_year: true },
      { type: 'engagement', action: 'clicked', link_url: 'https://example.com/pricing' },
      { type: 'engagement', action: 'opened', campaign_id: LIST },
      { type: 'api' },
      { type: 'schedule', cron: '0 9 * * mon', segment_id: SEGMENT, timezone: 'Europe/Berlin' },
    ];
    for (const trigger of triggers)
      expect(
        errorsOf({ trigger, start: 'done', nodes: [{ id: 'done', type: 'exit' }] }),
        trigger.type,
      ).toEqual([]);
  });

  it('accepts every node type and a weekly loop through a wait', () => {
    const def = {
      trigger: { type: 'api' },
      entry: { mode: 'again_after', days: 30 },
      exit_on: [],
      start: 'mail',
      nodes: [
        { id: 'mail', type: 'send_email', template_id: LIST, kind: 'transactional', next: 'opened' },
        {
          id: 'opened',
          type: 'wait_for',
          engagement: 'opened',
          timeout: { days: 3 },
          next: 'split',
          timeout_next: 'tag',
        },
        {
          id: 'split',
          type: 'random_split',
          paths: [
            { percent: 30, next: 'hook' },
            { percent: 70, next: 'monday' },
          ],
          bandit: { metric: 'clicked' },
        },
        {
          id: 'hook',
          type: 'webhook',
          url: 'https://hooks.example.com/x',
          payload: { a: 1 },
          next: 'monday',
        },
        { id: 'monday', type: 'wait', until: { weekdays: ['mon'], hour: 9, minute: 30 }, next: 'renewal' },
        {
          id: 'renewal',
          type: 'wait',
          until_attribute: { attribute: 'renews_on', offset_days: -7, hour: 8 },
          next: 'mail',
        },
        {
          id: 'tag',
          type: 'update_contact',
          set_attributes: { engaged: false, score: null },
          unset_attributes: ['temp'],
          add_tags: ['cold'],
          remove_tags: ['warm'],
          add_to_lists: [LIST],
          remove_from_lists: [LIST],
          status: 'unsubscribed',
          next: 'purchase',
        },
        {
          id: 'purchase',
          type: 'wait_for',
          event: 'Order Completed',
          where: [{ property: 'total', operator: 'greater_than', value: 10 }],
          timeout: { hours: 12 },
          next: 'end',
          timeout_next: 'local',
        },
        { id: 'local', type: 'webhook', url: 'http://127.0.0.1:8080/hook', next: 'end' },
        { id: 'end', type: 'exit' },
      ],
    };
    expect(errorsOf(def)).toEqual([]);
  });

  it('fills in the defaults for a published version', () => {
    const result = checkAutomationDefinition({
      trigger: { type: 'api' },
      start: 'm',
      nodes: [
        { id: 'm', type: 'send_email', template: 'Hi', next: 'e' },
        { id: 'e', type: 'exit' },
      ],
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const full = withDefaults(result.definition);
    expect(full.entry).toEqual({ mode: 'once_at_a_time' });
    expect(full.exit_on).toEqual(['unsubscribed', 'bounced', 'complained']);
    expect(full.nodes[0]).toMatchObject({ kind: 'marketing' });
  });

  it('lists what a definition names, with the pointer and node of each mention', () => {
    const def = cartWith((d) => {
      (d.nodes[1] as { branches: unknown[] }).branches.push({
        condition: { all: [{ list: LIST }, { segment: SEGMENT }] },
        next: 'done',
      });
      d.nodes.push({ id: 'move', type: 'update_contact', add_to_lists: [LIST], next: 'done' });
      (d.nodes[4] as Record<string, unknown>).next = 'move';
    });
    const result = checkAutomationDefinition(def, '/definition');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const refs = definitionReferences(result.definition, '/definition');
    expect(refs.templates).toEqual([
      { node: 'reminder', path: '/definition/nodes/2/template', name: 'Cart reminder' },
      { node: 'discount', path: '/definition/nodes/4/template', name: 'Cart discount' },
    ]);
    expect(refs.lists).toEqual(
      expect.arrayContaining([
        { id: LIST, path: '/definition/nodes/1/branches/1/condition/all/0/list', node: 'check' },
        { id: LIST, path: '/definition/nodes/7/add_to_lists/0', node: 'move' },
      ]),
    );
    expect(refs.segments).toEqual([
      { id: SEGMENT, path: '/definition/nodes/1/branches/1/condition/all/1/segment', node: 'check' },
    ]);
  });
});

describe('automation definitions: bad ones', () => {
  it('refuses a cycle without a wait, naming its nodes', () => {
    const errors = errorsOf({
      trigger: { type: 'api' },
      start: 'a',
      nodes: [
        { id: 'a', type: 'send_email', template: 'A', next: 'b' },
        { id: 'b', type: 'update_contact', add_tags: ['x'], next: 'c' },
        {
          id: 'c',
          type: 'branch',
          branches: [{ condition: { field: 'tags', operator: 'contains', value: 'x' }, next: 'a' }],
          else: 'end',
        },
        { id: 'end', type: 'exit' },
      ],
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ path: '/definition/nodes/0', node: 'a', cycle: ['a', 'b', 'c', 'a'] });
    expect(errors[0]?.message).toContain('"a" -> "b" -> "c" -> "a"');
    expect(errors[0]?.message).toMatch(/add a wait/);
  });

  it('refuses a node pointing at itself', () => {
    const errors = errorsOf({
      trigger: { type: 'api' },
      start: 'a',
      nodes: [
        {
          id: 'a',
          type: 'random_split',
          paths: [
            { percent: 50, next: 'a' },
            { percent: 50, next: 'end' },
          ],
        },
        { id: 'end', type: 'exit' },
      ],
    });
    expect(errors.map((e) => e.cycle)).toEqual([['a', 'a']]);
  });

  it('names a dangling edge by node and field', () => {
    const errors = errorsOf(cartWith((d) => (d.nodes[3]!.next = 'dicount')));
    expectError(
      errors,
      '/definition/nodes/3/next',
      /node "wait_1d": next names "dicount", which is not a node/,
      'wait_1d',
    );
    const branch = errorsOf(cartWith((d) => (d.nodes[1]!.else = 'nowhere')));
    expectError(branch, '/definition/nodes/1/else', /else names "nowhere"/, 'check');
    const start = errorsOf(cartWith((d) => (d.start = 'nope')));
    expectError(start, '/definition/start', /start names "nope", which is not a node/);
  });

  it('refuses unreachable nodes', () => {
    const errors = errorsOf(
      cartWith((d) => d.nodes.push({ id: 'orphan', type: 'send_email', template: 'X', next: 'done' })),
    );
    expect(errors).toHaveLength(1);
    expectError(errors, '/definition/nodes/7', /node "orphan" cannot be reached from start/, 'orphan');
  });

  it('keeps goal nodes for the goal', () => {
    expectError(
      errorsOf(cartWith((d) => (d.nodes[4]!.next = 'purchased'))),
      '/definition/nodes/4/next',
      /leads to goal node "purchased"/,
      'discount',
    );
    expectError(
      errorsOf(cartWith((d) => ((d.goal as Record<string, unknown>).node = 'done'))),
      '/definition/goal/node',
      /must name a node of type "goal"; "done" is a exit node/,
    );
    expectError(
      errorsOf(cartWith((d) => delete d.goal)),
      '/definition/nodes/5',
      /goal node "purchased" is not goal.node/,
      'purchased',
    );
  });

  it('refuses duplicate and badly formed node ids', () => {
    const errors = errorsOf(
      cartWith((d) => {
        d.nodes[3]!.id = 'wait_4h';
        d.nodes.push({ id: 'Bad Id', type: 'exit' });
      }),
    );
    expectError(errors, '/definition/nodes/3/id', /node id "wait_4h" is used by an earlier node/);
    expectError(errors, '/definition/nodes/7/id', /1 to 64 characters of a-z/);
  });

  it('refuses a bad condition with the path into it', () => {
    const errors = errorsOf(
      cartWith((d) => {
        (d.nodes[1] as { branches: { condition: unknown }[] }).branches[0]!.condition = {
          all: [
            { attribute: 'plan', operator: 'equals', value: 'pro' },
            { field: 'email', operator: 'greater_than', value: 1 },
          ],
        };
      }),
    );
    expectError(
      errors,
      '/definition/nodes/1/branches/0/condition/all/1/operator',
      /unknown operator "greater_than" for email/,
      'check',
    );
  });

  it('refuses percents that do not add up to 100', () => {
    const errors = errorsOf({
      trigger: { type: 'api' },
      start: 's',
      nodes: [
        {
          id: 's',
          type: 'random_split',
          paths: [
            { percent: 50, next: 'e' },
            { percent: 40, next: 'e' },
          ],
        },
        { id: 'e', type: 'exit' },
      ],
    });
    expectError(errors, '/definition/nodes/0/paths', /add up to 90; they must add up to 100/, 's');
    const fractional = errorsOf({
      trigger: { type: 'api' },
      start: 's',
      nodes: [
        {
          id: 's',
          type: 'random_split',
          paths: [
            { percent: 50.5, next: 'e' },
            { percent: 49.5, next: 'e' },
          ],
        },
        { id: 'e', type: 'exit' },
      ],
    });
    expectError(fractional, '/definition/nodes/0/paths/0/percent', /whole number from 1 to 99/);
    const single = errorsOf({
      trigger: { type: 'api' },
      start: 's',
      nodes: [
        { id: 's', type: 'random_split', paths: [{ percent: 100, next: 'e' }] },
        { id: 'e', type: 'exit' },
      ],
    });
    expectError(single, '/definition/nodes/0/paths', /2 to 8/);
  });

  it('refuses bad bandit and holdout settings, by pointer', () => {
    const split = (bandit: unknown) => ({
      trigger: { type: 'api' },
      start: 's',
      nodes: [
        {
          id: 's',
          type: 'random_split',
          paths: [
            { percent: 50, next: 'e' },
            { percent: 50, next: 'e' },
          ],
          bandit,
        },
        { id: 'e', type: 'exit' },
      ],
    });
    expectError(errorsOf(split('clicked')), '/definition/nodes/0/bandit', /bandit must be \{"metric"/, 's');
    expectError(errorsOf(split({ metric: 'revenue' })), '/definition/nodes/0/bandit/metric', /"opened"/, 's');
    for (const hours of [0, 1.5, 2161, '24'])
      expectError(
        errorsOf(split({ metric: 'opened', window_hours: hours })),
        '/definition/nodes/0/bandit/window_hours',
        /whole number from 1 to 2160/,
        's',
      );
    expectError(
      errorsOf(split({ metric: 'opened', decay: 0.9 })),
      '/definition/nodes/0/bandit/decay',
      /unknown field "decay"/,
    );
    expect(errorsOf(split({ metric: 'converted', window_hours: 72 }))).toEqual([]);

    const held = (holdout: unknown) => ({ ...split({ metric: 'opened' }), holdout });
    expect(errorsOf(held({ share: 0 }))).toEqual([]);
    expect(errorsOf(held({ share: 0.5 }))).toEqual([]);
    for (const share of [-0.1, 0.51, 1, '0.1', null, Number.NaN])
      expectError(
        errorsOf(held({ share })),
        '/definition/holdout/share',
        /share must be a number from 0 to 0.5/,
      );
    expectError(errorsOf(held(0.1)), '/definition/holdout', /holdout must be an object/);
    expectError(
      errorsOf(held({ share: 0.1, seed: 'x' })),
      '/definition/holdout/seed',
      /unknown field "seed"/,
    );

    const result = checkAutomationDefinition(split({ metric: 'clicked' }));
    expect(result.ok).toBe(true);
    if (result.ok)
      expect(withDefaults(result.definition).nodes[0]).toMatchObject({
        bandit: { metric: 'clicked', window_hours: 24 },
      });
  });

  it('refuses a bad cron expression, saying which field', () => {
    const errors = errorsOf({
      trigger: { type: 'schedule', cron: '0 25 * * mon', segment_id: SEGMENT },
      start: 'e',
      nodes: [{ id: 'e', type: 'exit' }],
    });
    expectError(errors, '/definition/trigger/cron', /^hour field: 25 is outside 0-23$/);
  });

  it('refuses unknown fields everywhere, naming them', () => {
    const errors = errorsOf(
      cartWith((d) => {
        d.surprise = 1;
        (d.trigger as Record<string, unknown>).segment_id = SEGMENT;
        d.nodes[0]!.subject = 'x';
        (d.nodes[0]!.for as Record<string, unknown>).weeks = 1;
        (d.entry as Record<string, unknown>).max = 3;
      }),
    );
    expectError(errors, '/definition/surprise', /unknown field "surprise"/);
    expectError(
      errors,
      '/definition/trigger/segment_id',
      /unknown field "segment_id"; allowed here: "type", "event", "where"/,
    );
    expectError(errors, '/definition/nodes/0/subject', /unknown field "subject"/, 'wait_4h');
    expectError(errors, '/definition/nodes/0/for/weeks', /unknown field "weeks"/, 'wait_4h');
    expectError(errors, '/definition/entry/max', /unknown field "max"/);
  });

  it('refuses missing fields and wrong types', () => {
    const errors = errorsOf({
      trigger: { type: 'teleport' },
      nodes: [
        { id: 'x', type: 'send_email' },
        'node',
        { id: 'y', type: 'wait', for: { hours: 0 }, next: 'x' },
      ],
    });
    expectError(errors, '/definition/trigger/type', /unknown trigger type "teleport"; use one of "event"/);
    expectError(errors, '/definition/start', /start must name the id of the first node/);
    expectError(errors, '/definition/nodes/0', /exactly one of template .* or template_id/, 'x');
    expectError(errors, '/definition/nodes/0/next', /next must name the id/, 'x');
    expectError(errors, '/definition/nodes/1', /a node must be an object/);
    expectError(errors, '/definition/nodes/2/for', /must be longer than 0/, 'y');
    expect(errorsOf([])).toEqual([{ path: '/definition', message: expect.stringContaining('an object') }]);
  });

  it('refuses instance_key with a trigger other than event', () => {
    const errors = errorsOf({
      trigger: { type: 'list_confirmed', list_id: LIST },
      instance_key: 'cart_id',
      start: 'e',
      nodes: [{ id: 'e', type: 'exit' }],
    });
    expectError(
      errors,
      '/definition/instance_key',
      /needs an "event" trigger; this trigger is "list_confirmed"/,
    );
  });

  it('checks waits, entry rules, exit reasons, webhooks and updates', () => {
    const base = (node: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      errorsOf({
        trigger: { type: 'api' },
        start: 'n',
        nodes: [
          { id: 'n', next: 'e', ...node },
          { id: 'e', type: 'exit' },
        ],
        ...extra,
      });
    expectError(base({ type: 'wait', for: { days: 366 } }), '/definition/nodes/0/for/days', /0 to 365/);
    expectError(
      base({ type: 'wait', for: { days: 300, hours: 24 * 70 } }),
      '/definition/nodes/0/for',
      /at most 365 days in total/,
    );
    expectError(
      base({ type: 'wait', for: { hours: 1 }, until: { hour: 9 } }),
      '/definition/nodes/0',
      /exactly one of "for", "until", "until_attribute"/,
    );
    expectError(base({ type: 'wait' }), '/definition/nodes/0', /a wait needs one of/);
    expectError(
      base({ type: 'wait', until: { weekdays: ['monday'], hour: 24 } }),
      '/definition/nodes/0/until/weekdays',
      /distinct days/,
    );
    expectError(base({ type: 'wait', until: { hour: 24 } }), '/definition/nodes/0/until/hour', /0 to 23/);
    expectError(
      base({ type: 'webhook', url: 'http://hooks.example.com/x' }),
      '/definition/nodes/0/url',
      /must use https/,
    );
    expectError(base({ type: 'webhook', url: 'not a url' }), '/definition/nodes/0/url', /absolute URL/);
    expectError(base({ type: 'update_contact' }), '/definition/nodes/0', /at least one of/);
    expectError(
      base({ type: 'update_contact', status: 'active' }),
      '/definition/nodes/0/status',
      /only be set to "unsubscribed"/,
    );
    expectError(
      base({ type: 'update_contact', add_to_lists: ['abc'] }),
      '/definition/nodes/0/add_to_lists/0',
      /list id/,
    );
    expectError(
      base({ type: 'update_contact', set_attributes: { 'bad name': 1 } }),
      '/definition/nodes/0/set_attributes/bad name',
      /attribute names/,
    );
    expectError(
      base({ type: 'send_email', template: 'x', kind: 'bulk' }),
      '/definition/nodes/0/kind',
      /"marketing"/,
    );
    expectError(
      base({ type: 'send_email', template: 'x' }, { entry: { mode: 'again_after' } }),
      '/definition/entry/days',
      /whole number from 1/,
    );
    expectError(
      base({ type: 'send_email', template: 'x' }, { entry: { mode: 'forever' } }),
      '/definition/entry/mode',
      /entry mode must be one of/,
    );
    expectError(
      base({ type: 'send_email', template: 'x' }, { exit_on: ['unsubscribed', 'bored'] }),
      '/definition/exit_on',
      /distinct reasons/,
    );
  });

  it('checks wait_for: one thing to wait for, an email before an engagement', () => {
    const def = (node: Record<string, unknown>) =>
      errorsOf({
        trigger: { type: 'api' },
        start: 'w',
        nodes: [
          { id: 'w', type: 'wait_for', timeout: { days: 1 }, next: 'e', timeout_next: 'e', ...node },
          { id: 'e', type: 'exit' },
        ],
      });
    expectError(def({}), '/definition/nodes/0', /give "event" .* or "engagement"/, 'w');
    expectError(
      def({ engagement: 'opened' }),
      '/definition/nodes/0/engagement',
      /without a send_email node before it/,
      'w',
    );
    expectError(
      def({ event: 'X', where: [{ property: 'a', operator: 'nope', value: 1 }] }),
      '/definition/nodes/0/where/0/operator',
      /unknown operator "nope"/,
      'w',
    );
  });

  it('checks trigger details', () => {
    const trigger = (t: Record<string, unknown>) =>
      errorsOf({ trigger: t, start: 'e', nodes: [{ id: 'e', type: 'exit' }] });
    expectError(
      trigger({ type: 'list_confirmed', list_id: 'newsletter' }),
      '/definition/trigger/list_id',
      /UUID/,
    );
    expectError(
      trigger({ type: 'date_attribute', attribute: 'birthday', hour: 25 }),
      '/definition/trigger/hour',
      /0 to 23/,
    );
    expectError(
      trigger({ type: 'engagement', action: 'opened', link_url: 'https://x.example' }),
      '/definition/trigger/link_url',
      /clicked/,
    );
    expectError(
      trigger({ type: 'schedule', cron: '0 9 * * *', segment_id: SEGMENT, timezone: 'Mars/Olympus' }),
      '/definition/trigger/timezone',
      /IANA/,
    );
    expectError(
      trigger({ type: 'event', event: '', where: [{ property: 'total' }] }),
      '/definition/trigger/event',
      /event must be a string/,
    );
    expectError(
      trigger({ type: 'event', event: 'X', where: [{ property: 'total' }] }),
      '/definition/trigger/where/0/operator',
      /operator is required/,
    );
  });

  it('bounds the number of nodes and branches', () => {
    const nodes = Array.from({ length: LIMITS.nodes + 1 }, (_, i) => ({ id: `n${i}`, type: 'exit' }));
    expectError(
      errorsOf({ trigger: { type: 'api' }, start: 'n0', nodes }),
      '/definition/nodes',
      /at most 200 nodes; this one has 201/,
    );
    const branches = Array.from({ length: 11 }, () => ({
      condition: { field: 'email', operator: 'contains', value: 'a' },
      next: 'e',
    }));
    expectError(
      errorsOf({
        trigger: { type: 'api' },
        start: 'b',
        nodes: [
          { id: 'b', type: 'branch', branches, else: 'e' },
          { id: 'e', type: 'exit' },
        ],
      }),
      '/definition/nodes/0/branches',
      /1 to 10/,
    );
  });

  it('reports every problem at once', () => {
    const errors = errorsOf(
      cartWith((d) => {
        d.nodes[3]!.next = 'missing';
        d.nodes.push({ id: 'orphan', type: 'exit' });
        (d.trigger as Record<string, unknown>).where = [
          { property: 'total', operator: 'greater_than', value: 'x' },
        ];
      }),
    );
    expect(errors.map((e) => e.path).sort()).toEqual(
      [
        '/definition/nodes/3/next',
        '/definition/nodes/7',
        '/definition/trigger/where/0/value',
        '/definition/nodes/4',
      ].sort(),
    );
  });

  it('refuses text the database cannot store', () => {
    expectError(errorsOf(cartWith((d) => (d.start = 'a\u0000'))), '/definition/start', /NUL/);
  });
});

describe('automation definitions: any input', () => {
  const wellFormed = (errors: ErrorDetail[]) => {
    for (const e of errors) {
      expect(typeof e.message).toBe('string');
      expect(e.message.length).toBeGreaterThan(0);
      expect(e.path?.startsWith('/definition')).toBe(true);
    }
  };

  it('never throws on arbitrary JSON, and every error has a path and a message', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const errors = errorsOf(value);
        expect(errors.length).toBeGreaterThan(0);
        wellFormed(errors);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws when any field of a good definition is replaced, and names the node when inside one', () => {
    const fields = ['id', 'type', 'next', 'for', 'template', 'branches', 'else', 'hours', 'condition'];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 }),
        fc.constantFrom(...fields),
        fc.jsonValue(),
        (index, field, value) => {
          const d = cartWith((def) => {
            const node = def.nodes[index] as Record<string, unknown>;
            if (field === 'hours' && node.for) (node.for as Record<string, unknown>).hours = value;
            else if (field === 'condition' && Array.isArray(node.branches))
              (node.branches[0] as Record<string, unknown>).condition = value;
            else node[field] = value;
          });
          const errors = errorsOf(d);
          wellFormed(errors);
          const id = cart().nodes as { id: string }[];
          for (const e of errors.filter((e) => e.path?.startsWith(`/definition/nodes/${index}/`)))
            if (field !== 'id') expect(e.node).toBe(id[index]?.id);
        },
      ),
      { numRuns: 500 },
    );
  });
});

// Keeps the exported type in use, so the tests fail to compile if the shape drifts from the fixture.
const _typed: AutomationDefinition = cart() as unknown as AutomationDefinition;
void _typed;
