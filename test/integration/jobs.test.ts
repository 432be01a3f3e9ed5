import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobQueue, createJobRunner, type JobContext, type TaskRegistry } from '../../src/jobs/index.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const silent = pino({ level: 'silent' });

/** Each test uses its own task names, so runners only ever see that test's jobs. */
function runner(tasks: TaskRegistry, options: { concurrency?: number; leaseMs?: number } = {}) {
  return createJobRunner({
    db: t.container.db,
    clock: t.clock,
    logger: silent,
    tasks,
    concurrency: options.concurrency ?? 2,
    pollIntervalMs: 10,
    leaseMs: options.leaseMs ?? 60_000,
    retryBaseMs: 1_000,
    retryMaxMs: 60_000,
  });
}

const queue = () => t.container.jobs;

async function job(id: string) {
  const row = await queue().get(id);
  if (!row) throw new Error(`job ${id} is gone`);
  return row;
}

describe('job runner', () => {
  it('tells the task once when it gives up on a job, and not while retries remain', async () => {
    const reasons: string[] = [];
    const r = runner({
      'test.giveup': {
        run: async () => {
          throw new Error('provider down');
        },
        onGiveUp: async (payload, reason) => void reasons.push(`${(payload as { n: number }).n}:${reason}`),
      },
    });
    const { id } = await queue().enqueue('test.giveup', { n: 7 }, { maxAttempts: 2 });
    await r.drain();
    expect(reasons).toEqual([]);
    t.clock.advance(10 * 60_000);
    await r.drain();
    expect(reasons).toEqual(['7:provider down']);
    expect((await job(id)).status).toBe('failed');
  });

  it('runs an enqueued job once, with its payload and context', async () => {
    const calls: { payload: unknown; context: JobContext }[] = [];
    const r = runner({ 'test.once': async (payload, context) => void calls.push({ payload, context }) });
    const { id, created } = await queue().enqueue('test.once', { n: 1 }, { workspaceId: t.workspaceId });
    expect(created).toBe(true);

    expect(await r.drain()).toBe(1);
    expect(await r.drain()).toBe(0);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.payload).toEqual({ n: 1 });
    expect(calls[0]?.context).toMatchObject({ jobId: id, workspaceId: t.workspaceId, attempt: 1 });
    expect(await job(id)).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      last_error: null,
      locked_until: null,
      finished_at: t.clock.now(),
    });
  });

  it('returns the same job for the same idempotency key and runs it once', async () => {
    let runs = 0;
    const r = runner({
      'test.idem': async () => {
        runs++;
      },
      'test.idem-other': async () => {},
    });
    const first = await queue().enqueue('test.idem', { v: 1 }, { idempotencyKey: 'order-42' });
    const second = await queue().enqueue('test.idem', { v: 2 }, { idempotencyKey: 'order-42' });
    expect(first.created).toBe(true);
    expect(second).toEqual({ id: first.id, created: false });
    // The key is per task: another task may use the same key.
    const other = await queue().enqueue('test.idem-other', {}, { idempotencyKey: 'order-42' });
    expect(other.id).not.toBe(first.id);

    expect(await r.drain()).toBe(2);
    expect(runs).toBe(1);
    expect((await job(first.id)).payload).toEqual({ v: 1 });
    // Still the same job after it finished: the key keeps guarding against a repeat.
    expect(await queue().enqueue('test.idem', {}, { idempotencyKey: 'order-42' })).toEqual({
      id: first.id,
      created: false,
    });
    expect(await r.drain()).toBe(0);
  });

  it('does not run a job before its run_at', async () => {
    let runs = 0;
    const r = runner({
      'test.later': async () => {
        runs++;
      },
    });
    const runAt = new Date(t.clock.now().getTime() + 60_000);
    const { id } = await queue().enqueue('test.later', {}, { runAt });
    expect(await r.drain()).toBe(0);
    t.clock.advance(59_999);
    expect(await r.drain()).toBe(0);
    t.clock.advance(1);
    expect(await r.drain()).toBe(1);
    expect(runs).toBe(1);
    expect((await job(id)).status).toBe('succeeded');
  });

  it('retries a failing job with growing backoff, then fails it for good with the last error', async () => {
    const attempts: number[] = [];
    const r = runner({
      'test.flaky': async (_payload, context) => {
        attempts.push(context.attempt);
        throw new Error(`boom ${context.attempt}`);
      },
    });
    const { id } = await queue().enqueue('test.flaky', {}, { maxAttempts: 3 });

    expect(await r.drain()).toBe(1);
    let row = await job(id);
    expect(row).toMatchObject({ status: 'queued', attempts: 1, last_error: 'boom 1', locked_until: null });
    // Retry 1 waits the base delay (1 s) with +-25% jitter.
    let delay = row.run_at.getTime() - t.clock.now().getTime();
    expect(delay).toBeGreaterThanOrEqual(750);
    expect(delay).toBeLessThanOrEqual(1_250);

    t.clock.set(new Date(row.run_at.getTime() - 1));
    expect(await r.drain()).toBe(0);
    t.clock.set(row.run_at);
    expect(await r.drain()).toBe(1);
    row = await job(id);
    expect(row).toMatchObject({ status: 'queued', attempts: 2, last_error: 'boom 2' });
    // Retry 2 waits twice as long.
    delay = row.run_at.getTime() - t.clock.now().getTime();
    expect(delay).toBeGreaterThanOrEqual(1_500);
    expect(delay).toBeLessThanOrEqual(2_500);

    t.clock.set(row.run_at);
    expect(await r.drain()).toBe(1);
    row = await job(id);
    expect(row).toMatchObject({
      status: 'failed',
      attempts: 3,
      last_error: 'boom 3',
      finished_at: t.clock.now(),
    });
    t.clock.advance(3_600_000);
    expect(await r.drain()).toBe(0);
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('gives a job whose worker crashed (lease expired) to another runner', async () => {
    let release: () => void = () => {};
    let entered: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const crashed = runner(
      {
        'test.lease': async () => {
          entered();
          // Never finishes while the test runs: the worker "hangs" or died mid-job.
          await new Promise<void>((resolve) => {
            release = resolve;
          });
        },
      },
      { leaseMs: 60_000 },
    );
    const rescuerRuns: number[] = [];
    const rescuer = runner({ 'test.lease': async (_p, context) => void rescuerRuns.push(context.attempt) });

    const { id } = await queue().enqueue('test.lease', {});
    const crashedDrain = crashed.drain();
    await started;
    expect(await job(id)).toMatchObject({ status: 'running', attempts: 1, locked_by: crashed.workerId });

    // Within the lease nobody else may take it.
    t.clock.advance(59_000);
    expect(await rescuer.drain()).toBe(0);
    t.clock.advance(1_001);
    expect(await rescuer.drain()).toBe(1);
    expect(rescuerRuns).toEqual([2]);
    expect(await job(id)).toMatchObject({ status: 'succeeded', attempts: 2, locked_by: rescuer.workerId });

    // The first worker finishing late must not overwrite the outcome.
    release();
    await crashedDrain;
    expect(await job(id)).toMatchObject({ status: 'succeeded', attempts: 2, locked_by: rescuer.workerId });
  });

  it('fails a job whose lease expired on every attempt instead of crashing workers forever', async () => {
    let release: () => void = () => {};
    let entered: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const crashed = runner({
      'test.poison': async () => {
        entered();
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      },
    });
    let rescuerRuns = 0;
    const rescuer = runner({
      'test.poison': async () => {
        rescuerRuns++;
      },
    });
    const { id } = await queue().enqueue('test.poison', {}, { maxAttempts: 1 });
    const crashedDrain = crashed.drain();
    await started;
    t.clock.advance(60_001);
    expect(await rescuer.drain()).toBe(1);
    expect(rescuerRuns).toBe(0);
    expect(await job(id)).toMatchObject({
      status: 'failed',
      attempts: 2,
      last_error: 'lease expired on every attempt',
    });
    release();
    await crashedDrain;
  });

  it('never runs a job twice when two runners drain the same queue concurrently', async () => {
    const ran = new Map<string, string[]>();
    const handler = (name: string) => async (_payload: unknown, context: JobContext) => {
      ran.set(context.jobId, [...(ran.get(context.jobId) ?? []), name]);
      // Yield so the runners' claims interleave.
      await sleep(1);
    };
    const a = runner({ 'test.race': handler('a') }, { concurrency: 4 });
    const b = runner({ 'test.race': handler('b') }, { concurrency: 4 });
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push((await queue().enqueue('test.race', { i })).id);

    const [byA, byB] = await Promise.all([a.drain(), b.drain()]);
    expect(byA + byB).toBe(200);
    expect([...ran.keys()].sort()).toEqual([...ids].sort());
    const twice = [...ran.entries()].filter(([, runners]) => runners.length !== 1);
    expect(twice).toEqual([]);
    const statuses = await t.container.db
      .selectFrom('jobs')
      .select(['status', 'attempts'])
      .where('task', '=', 'test.race')
      .execute();
    expect(statuses.every((s) => s.status === 'succeeded' && s.attempts === 1)).toBe(true);
  });
});

describe('queue metrics', () => {
  it('reports depth and age of due work per task and status, not future or finished jobs', async () => {
    const now = t.clock.now().getTime();
    const q = createJobQueue({ db: t.container.db, clock: t.clock });
    await q.enqueue('test.stats', {}, { runAt: new Date(now - 30_000) });
    await q.enqueue('test.stats', {}, { runAt: new Date(now - 10_000) });
    await q.enqueue('test.stats', {}, { runAt: new Date(now) });
    await q.enqueue('test.stats', {}, { runAt: new Date(now + 60_000) });

    const stats = (await q.stats()).filter((s) => s.task === 'test.stats');
    expect(stats).toEqual([
      { task: 'test.stats', status: 'queued', count: 3, oldestRunAt: new Date(now - 30_000) },
    ]);
    // Finished jobs of earlier tests are not depth.
    expect((await q.stats()).filter((s) => s.task === 'test.once')).toEqual([]);
  });

  it('serves herald_jobs_due and herald_http_requests_total at /metrics to a metrics:read key', async () => {
    await t.app.inject({ method: 'GET', url: '/healthz' });
    const key = await t.createKey(['metrics:read']);
    const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: t.auth(key) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toContain('herald_jobs_due{task="test.stats",status="queued"} 3');
    expect(res.body).toContain('herald_jobs_oldest_due_age_seconds{task="test.stats",status="queued"} 30');
    expect(res.body).toMatch(/herald_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);

    const reader = await t.createKey(['contacts:read']);
    const refused = await t.app.inject({ method: 'GET', url: '/metrics', headers: t.auth(reader) });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('FORBIDDEN');
  });
});
