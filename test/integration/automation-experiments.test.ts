import { sql } from 'kysely';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twoProportionZTest, wilsonInterval } from '../../src/lib/statistics/index.js';
import { inHoldout } from '../../src/modules/automations/automation-experiments.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Experiments inside automations, end to end: a bandit split whose path B's
 * emails are opened by people through the real open pixel while path A's
 * are only prefetched by Apple Mail (a machine), so after the window new
 * runs go to B; a step repeated after a crash keeps its recorded path; and
 * a holdout group that gets no email, compared in conversions recorded
 * through POST /v1/conversions. Manual clock, real SMTP, real HTTP.
 */

let t: TestApp;
let sink: SmtpSink;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = new Date('2030-05-06T09:00:00.000Z');
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
/** The bare user agent of Apple Mail Privacy Protection's prefetch: a machine. */
const APPLE_PREFETCH = 'Mozilla/5.0';
const SENDER = { from_email: 'news@shop.example', from_name: 'Shop' };

type Method = 'GET' | 'POST' | 'PATCH';
async function call(method: Method, url: string, payload?: object, key?: string) {
  const res = await t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function tick(ms = 0) {
  if (ms > 0) t.clock.advance(ms);
  for (let i = 0; i < 5; i++) {
    const steps = await t.container.automationEngine.drain();
    const jobs = await t.container.runner.drain();
    if (steps === 0 && jobs === 0) return;
  }
}

async function automation(name: string, definition: object) {
  const created = await call('POST', '/v1/automations', { name, definition });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect((await call('POST', `/v1/automations/${created.body.id}/publish`)).status).toBe(201);
  return created.body.id as string;
}

/** Creates contacts `<prefix><i>@example.com` and enrols them; returns their ids. */
async function enrolMany(automationId: string, prefix: string, from: number, to: number) {
  const ids: string[] = [];
  for (let i = from; i < to; i++) {
    const contact = await call('POST', '/v1/contacts', { email: `${prefix}${i}@example.com` });
    expect(contact.status, JSON.stringify(contact.body)).toBe(201);
    ids.push(contact.body.id);
    const enrolled = await call('POST', `/v1/automations/${automationId}/enroll`, {
      contact: { id: contact.body.id },
    });
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
  }
  return ids;
}

/** The path each run of the automation took at node `split` (step outcome), by contact id. */
async function pathsTaken(automationId: string) {
  const result = await sql<{ contact_id: string; run_id: string; outcome: Record<string, unknown> }>`
    SELECT r.contact_id, r.id AS run_id, s.outcome FROM automation_runs r
    JOIN automation_step_executions s ON s.run_id = r.id AND s.node_id = 'split'
    WHERE r.automation_id = ${automationId}`.execute(t.container.db);
  return result.rows;
}

async function pixelOf(email: string): Promise<string> {
  const message = sink.messages.find((m) => m.to[0] === email);
  expect(message, `an email to ${email}`).toBeDefined();
  const html = String((await simpleParser(message?.raw as Buffer)).html || '');
  const pixel = /<img src="https:\/\/mail\.shop\.example(\/o\/[A-Za-z0-9_-]+)"/.exec(html)?.[1];
  expect(pixel).toBeDefined();
  return pixel as string;
}

async function open(url: string, userAgent: string) {
  const res = await t.app.inject({ method: 'GET', url, headers: { 'user-agent': userAgent } });
  expect(res.statusCode).toBe(200);
}

beforeAll(async () => {
  t = await createTestApp({
    HERALD_PUBLIC_URL: 'https://mail.shop.example',
    HERALD_ATTRIBUTION_WINDOW_HOURS: '48',
  });
  t.clock.set(T0);
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { name: 'Sink' });
  for (const name of ['A', 'B']) {
    const res = await call('POST', '/v1/templates', {
      name,
      format: 'html',
      subject: name,
      body: `<p>${name}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>`,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

const banditDefinition = {
  trigger: { type: 'api' },
  sender: SENDER,
  start: 'split',
  nodes: [
    {
      id: 'split',
      type: 'random_split',
      paths: [
        { percent: 50, next: 'a' },
        { percent: 50, next: 'b' },
      ],
      bandit: { metric: 'opened' },
    },
    { id: 'a', type: 'send_email', template: 'A', next: 'done' },
    { id: 'b', type: 'send_email', template: 'B', next: 'done' },
    { id: 'done', type: 'exit' },
  ],
};

describe('a bandit split', () => {
  let id: string;
  let firstRuns: Awaited<ReturnType<typeof pathsTaken>>;

  it('splits by the percents until every path has an outcome, counting people only', async () => {
    id = await automation('Bandit', banditDefinition);
    await enrolMany(id, 'p', 0, 16);
    await tick();
    firstRuns = await pathsTaken(id);
    expect(firstRuns).toHaveLength(16);
    expect(firstRuns.every((r) => r.outcome.bandit === 'prior')).toBe(true);
    const onA = firstRuns.filter((r) => r.outcome.path === 0);
    const onB = firstRuns.filter((r) => r.outcome.path === 1);
    expect(onA.length).toBeGreaterThan(0);
    expect(onB.length).toBeGreaterThan(0);
    expect(sink.messages).toHaveLength(16);

    // Ten minutes later: people open path B's emails; Apple's prefetch "opens" path A's.
    t.clock.advance(10 * MINUTE);
    const emailOf = new Map(
      (
        await sql<{
          id: string;
          email: string;
        }>`SELECT id, email FROM contacts WHERE id = ANY(${firstRuns.map((r) => r.contact_id)}::uuid[])`.execute(
          t.container.db,
        )
      ).rows.map((r) => [r.id, r.email]),
    );
    for (const run of onB) await open(await pixelOf(emailOf.get(run.contact_id) as string), CHROME);
    for (const run of onA) await open(await pixelOf(emailOf.get(run.contact_id) as string), APPLE_PREFETCH);
    await t.container.tracking.flush();

    // B's successes are known at once; A's failures only after the window: the percents still decide.
    const mid = await call('GET', `/v1/automations/${id}/bandits`);
    expect(mid.status, JSON.stringify(mid.body)).toBe(200);
    const [node] = mid.body.nodes;
    expect(node).toMatchObject({
      node_id: 'split',
      in_current_version: true,
      versions: [1],
      metric: 'opened',
      window_hours: 24,
      chosen_by: 'prior',
    });
    expect(node.paths[0]).toMatchObject({ path: 0, next: 'a', percent: 50, runs: onA.length, trials: 0 });
    expect(node.paths[1]).toMatchObject({
      runs: onB.length,
      trials: onB.length,
      successes: onB.length,
      share_of_new_runs: 0.5,
    });
  });

  it('sends most new runs down the path people open once the window has passed', async () => {
    t.clock.advance(25 * HOUR);
    await enrolMany(id, 'q', 0, 16);
    await tick();
    const later = (await pathsTaken(id)).filter((r) => !firstRuns.some((f) => f.run_id === r.run_id));
    expect(later).toHaveLength(16);
    expect(later.every((r) => r.outcome.bandit === 'thompson')).toBe(true);
    // Even at the least evidence (1 run on A, 15 on B) a run takes A with probability 2/306.
    expect(later.filter((r) => r.outcome.path === 1).length).toBeGreaterThanOrEqual(14);

    const onA = firstRuns.filter((r) => r.outcome.path === 0).length;
    const onB = firstRuns.length - onA;
    const report = await call('GET', `/v1/automations/${id}/bandits`);
    const [node] = report.body.nodes;
    expect(node.chosen_by).toBe('thompson');
    // Prefetches never count: path A's trials all failed.
    expect(node.paths[0]).toMatchObject({ trials: onA, successes: 0 });
    expect(node.paths[0].posterior_mean).toBeCloseTo(1 / (2 + onA), 12);
    // The new runs' emails are inside their window: runs, not trials yet.
    expect(node.paths[1]).toMatchObject({ trials: onB, successes: onB });
    expect(node.paths[1].runs).toBe(onB + later.filter((r) => r.outcome.path === 1).length);
    expect(node.paths[1].probability_to_be_best).toBeGreaterThan(0.99);
    expect(node.paths[1].share_of_new_runs).toBe(node.paths[1].probability_to_be_best);
    expect(node.paths[1].credible_interval.lower).toBeGreaterThan(node.paths[0].credible_interval.upper);
  });

  it('keeps the recorded path when a step is repeated after a crash', async () => {
    // A run of path A whose worker recorded the choice and died before its steps committed.
    const victim = firstRuns.find((r) => r.outcome.path === 0);
    expect(victim).toBeDefined();
    const runId = victim?.run_id as string;
    sink.messages.length = 0;
    await sql`DELETE FROM automation_step_executions WHERE run_id = ${runId}`.execute(t.container.db);
    await sql`UPDATE automation_runs SET step = 0, node = 'split', status = 'active', exit_reason = NULL,
      finished_at = NULL, next_run_at = ${t.clock.now()} WHERE id = ${runId}`.execute(t.container.db);
    await tick();
    const run = await call('GET', `/v1/automations/${id}/runs/${runId}`);
    expect(run.body.status).toBe('completed');
    expect(run.body.steps[0].outcome).toEqual({ path: 0, bandit: 'prior', repeated: true });
    expect(run.body.steps[1]).toMatchObject({ node_id: 'a', outcome: { repeated: true } });
    expect(sink.messages).toHaveLength(0);
  });

  it('simulates with the current evidence and says what share each path gets', async () => {
    const res = await call('POST', `/v1/automations/${id}/simulate`, { sample: {} });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const [split] = res.body.steps;
    expect(split).toMatchObject({ node: 'split', outcome: { bandit: 'thompson' } });
    expect(split.outcome.shares[1]).toBeGreaterThan(0.99);
    expect(res.body.end).toMatchObject({ status: 'completed', reason: 'exit' });
  });
});

describe('a holdout group', () => {
  let id: string;
  let contacts: string[];
  let held: string[];
  let treated: string[];

  it('records the held-out runs as ended at enrolment and sends them nothing', async () => {
    sink.messages.length = 0;
    id = await automation('Holdout', {
      trigger: { type: 'api' },
      sender: SENDER,
      holdout: { share: 0.3 },
      entry: { mode: 'once' },
      start: 'hello',
      nodes: [
        { id: 'hello', type: 'send_email', template: 'A', next: 'done' },
        { id: 'done', type: 'exit' },
      ],
    });
    contacts = await enrolMany(id, 'h', 0, 40);
    await tick();
    held = contacts.filter((c) => inHoldout(id, c, 0.3));
    treated = contacts.filter((c) => !held.includes(c));
    // About the share: Binomial(40, 0.3) is 12 +- 2.9.
    expect(held.length).toBeGreaterThanOrEqual(2);
    expect(held.length).toBeLessThanOrEqual(24);

    const runs = (await call('GET', `/v1/automations/${id}/runs?limit=100`)).body.data;
    const heldRuns = runs.filter((r: { exit_reason: string }) => r.exit_reason === 'holdout');
    expect(heldRuns.map((r: { contact_id: string }) => r.contact_id).sort()).toEqual([...held].sort());
    expect(
      heldRuns.every((r: { status: string; step: number }) => r.status === 'exited' && r.step === 0),
    ).toBe(true);
    expect(sink.messages).toHaveLength(treated.length);
    const heldEmails = held.map((c) => `h${contacts.indexOf(c)}@example.com`);
    expect(sink.messages.some((m) => heldEmails.includes(m.to[0] as string))).toBe(false);

    // Entry rules hold for held-out runs as for the others.
    const again = await call('POST', `/v1/automations/${id}/enroll`, { contact: { id: held[0] } });
    expect(again.body).toMatchObject({ enrolled: false, reason: 'once_ever' });

    const report = (await call('GET', `/v1/automations/${id}/report`)).body;
    expect(report.runs).toMatchObject({ entered: treated.length, held_out: held.length, exited: 0 });
    expect(report.emails.sent).toBe(treated.length);
  });

  it('reports the lift in conversions and revenue against the held-out contacts', async () => {
    t.clock.advance(HOUR);
    const convert = async (contactId: string, revenue: string) => {
      const res = await call('POST', '/v1/conversions', {
        contact: { id: contactId },
        revenue,
        currency: 'EUR',
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    };
    for (const c of treated.slice(0, 6)) await convert(c, '20');
    await convert(held[0] as string, '10');
    // After the attribution window (48 h from enrolment): not counted.
    t.clock.advance(72 * HOUR);
    await convert(held[1] as string, '99');
    await convert(treated[6] as string, '99');

    const res = await call('GET', `/v1/automations/${id}/holdout`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const [nT, nH] = [treated.length, held.length];
    const test = twoProportionZTest(1, nH, 6, nT);
    expect(res.body).toMatchObject({
      automation_id: id,
      holdout_share: 0.3,
      window_hours: 48,
      from: null,
      to: null,
      treated: {
        contacts: nT,
        converters: 6,
        conversion_rate: 6 / nT,
        interval: wilsonInterval(6, nT),
        revenue: [{ currency: 'EUR', amount: '120.00' }],
      },
      holdout: {
        contacts: nH,
        converters: 1,
        conversion_rate: 1 / nH,
        interval: wilsonInterval(1, nH),
        revenue: [{ currency: 'EUR', amount: '10.00' }],
      },
    });
    expect(res.body.lift.difference).toBeCloseTo(6 / nT - 1 / nH, 12);
    expect(res.body.lift.p_value).toBeCloseTo(test.pValue, 12);
    expect(res.body.lift.interval).toEqual(test.interval);
    expect(res.body.lift.relative).toBeCloseTo(6 / nT / (1 / nH) - 1, 12);
    expect(res.body.lift.revenue_per_contact).toEqual([
      { currency: 'EUR', treated: 120 / nT, holdout: 10 / nH, difference: 120 / nT - 10 / nH },
    ]);

    const window = `?from=${encodeURIComponent(new Date(T0.getTime() + 400 * HOUR).toISOString())}`;
    expect((await call('GET', `/v1/automations/${id}/holdout${window}`)).body.treated.contacts).toBe(0);
  });

  it('ends the simulation of a held-out contact at once', async () => {
    const res = await call('POST', `/v1/automations/${id}/simulate`, { contact: { id: held[0] } });
    expect(res.body).toMatchObject({ steps: [], emails: [], end: { status: 'exited', reason: 'holdout' } });
  });
});

describe('not found and other workspaces', () => {
  it('answers 404 for a foreign automation and HOLDOUT_NOT_FOUND without a holdout', async () => {
    const [bandit] = (await call('GET', '/v1/automations?limit=10')).body.data.filter(
      (a: { name: string }) => a.name === 'Bandit',
    );
    const none = await call('GET', `/v1/automations/${bandit.id}/holdout`);
    expect(none.status).toBe(404);
    expect(none.body.code).toBe('HOLDOUT_NOT_FOUND');
    const other = await t.createWorkspace('Elsewhere');
    for (const path of ['bandits', 'holdout']) {
      const foreign = await call('GET', `/v1/automations/${bandit.id}/${path}`, undefined, other.adminKey);
      expect(foreign.status).toBe(404);
      expect(foreign.body.code).toBe('AUTOMATION_NOT_FOUND');
    }
  });
});
