import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The workspace's IP anonymization (tracking settings) applies to events'
 * context.ip as it does to opens and clicks: truncated by default, dropped,
 * or kept as sent.
 */

let t: TestApp;

async function call(method: 'POST' | 'PATCH', url: string, payload: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), payload });
  expect(res.statusCode, res.body).toBeLessThan(300);
}

async function storedContext(messageId: string) {
  const { rows } = await t.container.database.pool.query(
    'SELECT context FROM events WHERE workspace_id = $1 AND message_id = $2',
    [t.workspaceId, messageId],
  );
  return rows[0]?.context as Record<string, unknown>;
}

beforeAll(async () => {
  t = await createTestApp();
  await sql`SELECT herald_events_partition(${t.clock.now().toISOString().slice(0, 10)}::date)`.execute(
    t.container.db,
  );
});
afterAll(async () => {
  await t?.close();
});

describe("events' context.ip", () => {
  it('follows the workspace IP anonymization: truncate (default), drop, none', async () => {
    const track = (messageId: string, ip: string) =>
      call('POST', '/v1/track', {
        userId: 'u-1',
        event: 'Visited',
        messageId,
        context: { ip, locale: 'en-US' },
      });
    await track('m-truncate', '203.0.113.77');
    expect(await storedContext('m-truncate')).toEqual({ ip: '203.0.113.0', locale: 'en-US' });
    await track('m-truncate-v6', '2001:db8:85a3:8d3:1319:8a2e:370:7348');
    expect((await storedContext('m-truncate-v6')).ip).toBe('2001:db8:85a3::');

    await call('PATCH', '/v1/tracking/settings', { ip_anonymization: 'drop' });
    await track('m-drop', '203.0.113.77');
    expect(await storedContext('m-drop')).toEqual({ locale: 'en-US' });

    await call('PATCH', '/v1/tracking/settings', { ip_anonymization: 'none' });
    await track('m-none', '203.0.113.77');
    expect(await storedContext('m-none')).toEqual({ ip: '203.0.113.77', locale: 'en-US' });
  });
});
