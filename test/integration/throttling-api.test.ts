import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Throttle rules and warm-up schedules through the API: what is stored and
 * shown, every bad input refused with the field it concerns and nothing
 * written, and another workspace's rules neither readable nor applied.
 */

let t: TestApp;
let transportId: string;
let domainId: string;
let other: { workspaceId: string; adminKey: string };
let otherTransportId: string;

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
async function call(method: Method, url: string, payload?: unknown, key?: string) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(key),
    ...(payload ? { payload: payload as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

const paths = (body: { errors?: { path: string }[] }) => (body.errors ?? []).map((e) => e.path);

beforeAll(async () => {
  t = await createTestApp();
  t.clock.set(new Date('2026-12-02T10:30:00Z'));
  transportId = (await call('POST', '/v1/transports', { name: 'Outbox', type: 'file' })).body.id;
  domainId = (
    await call('POST', '/v1/sending-domains', { domain: 'news.shop.example', algorithm: 'ed25519' })
  ).body.id;
  other = await t.createWorkspace('Other');
  otherTransportId = (await call('POST', '/v1/transports', { name: 'Theirs', type: 'file' }, other.adminKey))
    .body.id;
});
afterAll(async () => {
  await t?.close();
});

describe('throttle rules', () => {
  it('are stored with normalized domains and a default name, shown with their current windows', async () => {
    const created = await call('POST', '/v1/throttles', {
      domains: ['Mail.Example.COM', 'bücher.de', 'mail.example.com'],
      providers: ['gmail'],
      per_minute: 100,
      per_day: 5000,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      name: 'gmail, mail.example.com, xn--bcher-kva.de',
      domains: ['mail.example.com', 'xn--bcher-kva.de'],
      providers: ['gmail'],
      transport_id: null,
      per_minute: 100,
      per_hour: null,
      per_day: 5000,
      usage: {
        per_minute: {
          limit: 100,
          used: 0,
          window_start: '2026-12-02T10:30:00.000Z',
          resets_at: '2026-12-02T10:31:00.000Z',
        },
        per_hour: null,
        per_day: { limit: 5000, used: 0, resets_at: '2026-12-03T00:00:00.000Z' },
      },
    });
    const id = created.body.id;
    // PATCH keeps what it does not name; null removes a limit.
    const changed = await call('PATCH', `/v1/throttles/${id}`, {
      per_minute: null,
      per_hour: 2000,
      name: 'Big',
    });
    expect(changed.body).toMatchObject({ name: 'Big', per_minute: null, per_hour: 2000, per_day: 5000 });
    expect((await call('GET', `/v1/throttles/${id}`)).body).toEqual(changed.body);
    const listed = await call('GET', '/v1/throttles?limit=1');
    expect(listed.body.data.map((r: { id: string }) => r.id)).toEqual([id]);
    expect((await call('DELETE', `/v1/throttles/${id}`)).status).toBe(204);
    expect((await call('GET', `/v1/throttles/${id}`)).body.code).toBe('THROTTLE_RULE_NOT_FOUND');
  });

  it('refuse bad input with the field, writing nothing', async () => {
    const before = await databaseSnapshot(t.container.database.pool);
    const cases: [object, number, string, string][] = [
      [{ domains: ['yahoo.com'] }, 400, 'VALIDATION_FAILED', '/per_minute'],
      [{ per_minute: 5 }, 400, 'VALIDATION_FAILED', '/domains'],
      [{ domains: ['yahoo.com'], per_minute: -1 }, 400, 'VALIDATION_FAILED', '/body/per_minute'],
      [{ domains: ['yahoo.com'], per_hour: 1.5 }, 400, 'VALIDATION_FAILED', '/body/per_hour'],
      [{ providers: ['hotmail'], per_minute: 5 }, 400, 'VALIDATION_FAILED', '/body/providers/0'],
      [{ domains: ['yahoo.com', 'not a domain'], per_minute: 5 }, 400, 'INVALID_DOMAIN', '/domains/1'],
      [{ domains: ['ann@yahoo.com'], per_minute: 5 }, 400, 'INVALID_DOMAIN', '/domains/0'],
      [
        { domains: ['yahoo.com'], per_minute: 5, transport_id: '00000000-0000-7000-8000-000000000000' },
        404,
        'TRANSPORT_NOT_FOUND',
        '/transport_id',
      ],
      [
        { domains: ['yahoo.com'], per_minute: 5, transport_id: otherTransportId },
        404,
        'TRANSPORT_NOT_FOUND',
        '/transport_id',
      ],
    ];
    for (const [body, status, code, path] of cases) {
      const res = await call('POST', '/v1/throttles', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.code, JSON.stringify(res.body)).toBe(code);
      expect(paths(res.body), JSON.stringify(res.body)).toContain(path);
    }
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('may not name a domain or provider another rule for the same transport names', async () => {
    const yahoo = await call('POST', '/v1/throttles', {
      providers: ['yahoo'],
      domains: ['aol.de'],
      per_minute: 50,
    });
    expect(yahoo.status).toBe(201);
    const clash = await call('POST', '/v1/throttles', { domains: ['web.de', 'aol.de'], per_hour: 10 });
    expect(clash.status).toBe(409);
    expect(clash.body).toMatchObject({ code: 'THROTTLE_RULE_CONFLICT' });
    expect(clash.body.errors[0]).toMatchObject({ path: '/domains/1', rule_id: yahoo.body.id });
    expect(clash.body.detail).toContain('aol.de');
    // The same domain on one transport only is another rule: both apply to that transport's mail.
    const narrower = await call('POST', '/v1/throttles', {
      domains: ['aol.de'],
      per_minute: 5,
      transport_id: transportId,
    });
    expect(narrower.status, JSON.stringify(narrower.body)).toBe(201);
    // A member domain of a provider group may have a rule of its own.
    expect((await call('POST', '/v1/throttles', { domains: ['yahoo.com'], per_minute: 10 })).status).toBe(
      201,
    );
    // Changing a rule into a clash is refused as well.
    const web = await call('POST', '/v1/throttles', { domains: ['web.de'], per_minute: 10 });
    const patched = await call('PATCH', `/v1/throttles/${web.body.id}`, { providers: ['yahoo'] });
    expect(patched.status).toBe(409);
    expect(paths(patched.body)).toEqual(['/providers/0']);
    const emptied = await call('PATCH', `/v1/throttles/${web.body.id}`, { per_minute: null });
    expect(emptied.status).toBe(400);
    expect(paths(emptied.body)).toEqual(['/per_minute']);
  });

  it('of another workspace can be neither read, changed nor applied', async () => {
    const theirs = await call(
      'POST',
      '/v1/throttles',
      { domains: ['example.org'], per_minute: 1, per_day: 1 },
      other.adminKey,
    );
    expect(theirs.status).toBe(201);
    expect((await call('GET', `/v1/throttles/${theirs.body.id}`)).status).toBe(404);
    expect((await call('PATCH', `/v1/throttles/${theirs.body.id}`, { per_minute: 9 })).status).toBe(404);
    expect((await call('DELETE', `/v1/throttles/${theirs.body.id}`)).status).toBe(404);
    const mine = await call('GET', '/v1/throttles');
    expect(JSON.stringify(mine.body)).not.toContain(theirs.body.id);
    // This workspace's mail to example.org meets none of their limits.
    const now = t.clock.now();
    const recipients = ['a', 'b', 'c'].map((n) => ({ id: crypto.randomUUID(), email: `${n}@example.org` }));
    const envelope = { fromEmail: 'news@shop.example', transportId: null };
    expect((await t.container.throttling.reserve(t.workspaceId, envelope, recipients, now)).size).toBe(0);
    // Theirs hold for them: one a minute.
    expect((await t.container.throttling.reserve(other.workspaceId, envelope, recipients, now)).size).toBe(2);
  });
});

describe('warm-up schedules', () => {
  it('generate their caps, start today by default and say where they stand', async () => {
    const created = await call('POST', '/v1/warmup-schedules', {
      sending_domain_id: domainId,
      daily_caps: [20, 40],
      growth: { start_volume: 100, factor: 2, target: 500 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      name: 'warm-up',
      sending_domain_id: domainId,
      transport_id: null,
      start_date: '2026-12-02',
      caps: [20, 40, 100, 200, 400, 500],
      growth: { start_volume: 100, factor: 2, target: 500 },
      status: {
        state: 'warming',
        day: 1,
        days: 6,
        today: '2026-12-02',
        today_cap: 20,
        used_today: 0,
        remaining_today: 20,
        day_ends_at: '2026-12-03T00:00:00.000Z',
        ends_on: '2026-12-08',
        ends_at: '2026-12-08T00:00:00.000Z',
      },
    });
    // Mail from a subdomain is signed by the sending domain, so its cap applies.
    const envelope = { fromEmail: 'hello@deals.news.shop.example', transportId: null };
    const recipients = Array.from({ length: 25 }, (_, i) => ({
      id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
      email: `r${i}@example.net`,
    }));
    const waiting = await t.container.throttling.reserve(t.workspaceId, envelope, recipients, t.clock.now());
    // 20 today; the 5 others wait for tomorrow (its cap, 40, has room for them all).
    expect(waiting.size).toBe(5);
    expect(new Set([...waiting.values()].map((d) => d.toISOString()))).toEqual(
      new Set(['2026-12-03T00:00:00.000Z']),
    );
    const status = await call('GET', `/v1/warmup-schedules/${created.body.id}`);
    expect(status.body.status).toMatchObject({ used_today: 20, remaining_today: 0 });
    // Mail from another domain is not capped.
    const elsewhere = { fromEmail: 'hello@other.example', transportId: null };
    expect(
      (await t.container.throttling.reserve(t.workspaceId, elsewhere, recipients, t.clock.now())).size,
    ).toBe(0);

    const patched = await call('PATCH', `/v1/warmup-schedules/${created.body.id}`, {
      growth: null,
      start_date: '2026-12-05',
    });
    expect(patched.body).toMatchObject({
      caps: [20, 40],
      growth: null,
      start_date: '2026-12-05',
      status: { state: 'scheduled', day: null, today_cap: null, ends_on: '2026-12-07' },
    });
    expect((await call('DELETE', `/v1/warmup-schedules/${created.body.id}`)).status).toBe(204);
  });

  it('refuse bad input with the field, writing nothing', async () => {
    const before = await databaseSnapshot(t.container.database.pool);
    const unknown = '00000000-0000-7000-8000-000000000000';
    const cases: [object, number, string, string][] = [
      [{ daily_caps: [10] }, 400, 'VALIDATION_FAILED', '/sending_domain_id'],
      [
        { transport_id: transportId, sending_domain_id: domainId, daily_caps: [10] },
        400,
        'VALIDATION_FAILED',
        '/transport_id',
      ],
      [{ transport_id: transportId }, 400, 'VALIDATION_FAILED', '/daily_caps'],
      [{ transport_id: transportId, daily_caps: [] }, 400, 'VALIDATION_FAILED', '/body/daily_caps'],
      [{ transport_id: transportId, daily_caps: [10, 0] }, 400, 'VALIDATION_FAILED', '/body/daily_caps/1'],
      [
        { transport_id: transportId, daily_caps: [10], start_date: '2026-12-01' },
        400,
        'SCHEDULE_IN_PAST',
        '/start_date',
      ],
      [
        { transport_id: transportId, daily_caps: [10], start_date: '2026-02-30' },
        400,
        'VALIDATION_FAILED',
        '/start_date',
      ],
      [
        { transport_id: transportId, growth: { start_volume: 500, factor: 2, target: 100 } },
        400,
        'VALIDATION_FAILED',
        '/growth/target',
      ],
      [
        { transport_id: transportId, growth: { start_volume: 10, factor: 1.001, target: 1_000_000 } },
        400,
        'VALIDATION_FAILED',
        '/growth/factor',
      ],
      [
        { transport_id: transportId, growth: { start_volume: 10, factor: 1, target: 100 } },
        400,
        'VALIDATION_FAILED',
        '/body/growth/factor',
      ],
      [{ transport_id: unknown, daily_caps: [10] }, 404, 'TRANSPORT_NOT_FOUND', '/transport_id'],
      [
        { sending_domain_id: unknown, daily_caps: [10] },
        404,
        'SENDING_DOMAIN_NOT_FOUND',
        '/sending_domain_id',
      ],
      [{ transport_id: otherTransportId, daily_caps: [10] }, 404, 'TRANSPORT_NOT_FOUND', '/transport_id'],
    ];
    for (const [body, status, code, path] of cases) {
      const res = await call('POST', '/v1/warmup-schedules', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.code, JSON.stringify(res.body)).toBe(code);
      expect(paths(res.body), JSON.stringify(res.body)).toContain(path);
    }
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('are one per transport or sending domain, and private to their workspace', async () => {
    const first = await call('POST', '/v1/warmup-schedules', { transport_id: transportId, daily_caps: [10] });
    expect(first.status).toBe(201);
    const second = await call('POST', '/v1/warmup-schedules', {
      transport_id: transportId,
      daily_caps: [99],
    });
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ code: 'WARMUP_SCHEDULE_EXISTS' });
    expect(second.body.errors[0]).toMatchObject({ path: '/transport_id', schedule_id: first.body.id });
    const past = await call('PATCH', `/v1/warmup-schedules/${first.body.id}`, { start_date: '2026-11-30' });
    expect(past.status).toBe(400);
    expect(paths(past.body)).toEqual(['/start_date']);

    expect(
      (await call('GET', `/v1/warmup-schedules/${first.body.id}`, undefined, other.adminKey)).status,
    ).toBe(404);
    const theirs = await call('GET', '/v1/warmup-schedules', undefined, other.adminKey);
    expect(theirs.body.data).toEqual([]);
  });
});
