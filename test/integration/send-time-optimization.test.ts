import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  insertContacts,
  insertHits,
  insertSends,
  insertSentCampaign,
} from '../helpers/engagement-history.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * A campaign with send_time_optimization through the real sender, a real
 * SMTP server and the manual clock: each contact's message arrives in their
 * best hour within 24 hours of the start (the clock advanced hour by hour,
 * the sender drained at each), contacts without history at the workspace's
 * best hour, everyone at once while the workspace has no history at all,
 * quiet hours still hold, and everyone gets exactly one message.
 */

let t: TestApp;
let sink: SmtpSink;
const HOUR = 3_600_000;
/** Monday 2026-03-16, 06:30 UTC: hour 6 of the week. */
const START = new Date('2026-03-16T06:30:00.000Z');
const at = (iso: string) => new Date(iso);
const SENDER = { from_email: 'news@shop.example', from_name: 'Shop' };
let templateId: string;
let listId: string;
const ids: Record<string, string> = {};

type Method = 'GET' | 'POST' | 'PATCH';
async function call(method: Method, url: string, payload?: unknown) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(),
    ...(payload ? { payload: payload as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function startCampaign(name: string) {
  const created = await call('POST', '/v1/campaigns', {
    name,
    ...SENDER,
    subject: name,
    template_id: templateId,
    lists: [listId],
    send_time_optimization: true,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const sent = await call('POST', `/v1/campaigns/${created.body.id}/send`);
  expect(sent.status, JSON.stringify(sent.body)).toBe(200);
  return created.body.id as string;
}

/** Drains the sender and returns who received mail since the last call (by local part). */
async function arrivals(): Promise<string[]> {
  await t.container.sender.drain();
  const who = sink.messages.map((m) => (m.to[0] as string).split('@')[0] as string);
  sink.messages.length = 0;
  return who.sort();
}

beforeAll(async () => {
  t = await createTestApp();
  t.clock.set(START);
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { name: 'Sink' });
  const template = await call('POST', '/v1/templates', {
    name: 'News',
    format: 'html',
    subject: 'News',
    body: '<p>News for {{ contact.email }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
  });
  expect(template.status, JSON.stringify(template.body)).toBe(201);
  templateId = template.body.id;
  const list = await call('POST', '/v1/lists', { name: 'Readers', opt_in: 'single' });
  listId = list.body.id;
  // Recipients, on the list; the crowd only shapes the workspace's profile.
  const recipients = ['now', 'early', 'fresh', 'evening', 'night'];
  for (const name of recipients) {
    const res = await call('POST', '/v1/contacts', { email: `${name}@example.com` });
    ids[name] = res.body.id;
  }
  const added = await call('POST', `/v1/lists/${listId}/members`, {
    contact_ids: recipients.map((n) => ids[n]),
  });
  expect(added.status, JSON.stringify(added.body)).toBeLessThan(300);
  await insertContacts(
    t.container.db,
    t.workspaceId,
    Array.from({ length: 5 }, (_, i) => ({
      email: `crowd${i}@example.com`,
      createdAt: at('2025-01-01T00:00:00Z'),
    })),
  );
  // Quiet hours 22:00-05:00 UTC (the workspace's zone): they still hold at a contact's best hour.
  const policy = await call('PATCH', '/v1/workspace', {
    timezone: 'UTC',
    sending_policy: { quiet_hours: { start: '22:00', end: '05:00' } },
  });
  expect(policy.status, JSON.stringify(policy.body)).toBe(200);
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('send-time optimization', () => {
  it('sends at once while the workspace has no engagement history at all', async () => {
    const campaignId = await startCampaign('Before any history');
    expect(await arrivals()).toEqual(['early', 'evening', 'fresh', 'night', 'now']);
    const campaign = await call('GET', `/v1/campaigns/${campaignId}`);
    expect(campaign.body.status).toBe('sent');
  });

  it('delivers each contact in their best hour within 24 hours of the start, exactly once', async () => {
    // Habits on earlier weeks (human opens), and the crowd's Mondays at 12:xx: the workspace's best hour.
    const db = t.container.db;
    const ws = t.workspaceId;
    const history = await insertSentCampaign(db, ws, 'History', at('2026-02-23T00:00:00Z'));
    const crowd = (
      await db.selectFrom('contacts').select('id').where('email', 'like', 'crowd%').execute()
    ).map((r) => r.id);
    const habit: Record<string, string[]> = {
      now: ['2026-03-09T06:10:00Z', '2026-03-02T06:20:00Z', '2026-02-23T06:40:00Z'], // Mondays 06:xx, hour 6
      early: ['2026-03-09T09:10:00Z', '2026-03-02T09:20:00Z', '2026-02-23T09:05:00Z'], // Mondays 09:xx, hour 9
      evening: ['2026-03-09T20:10:00Z', '2026-03-02T20:20:00Z', '2026-02-23T20:05:00Z'], // Mondays 20:xx, hour 20
      night: ['2026-03-10T02:10:00Z', '2026-03-03T02:20:00Z', '2026-02-24T02:30:00Z'], // Tuesdays 02:xx, hour 26
    };
    const people = [...Object.keys(habit).map((n) => ids[n] as string), ...crowd];
    await insertSends(
      db,
      ws,
      people.map((contactId) => ({ campaignId: history, contactId, finishedAt: at('2026-02-23T00:00:00Z') })),
    );
    await insertHits(db, ws, [
      ...Object.entries(habit).flatMap(([name, times]) =>
        times.map((iso) => ({
          campaignId: history,
          contactId: ids[name] as string,
          kind: 'open' as const,
          at: at(iso),
        })),
      ),
      ...crowd.flatMap((contactId) =>
        ['2026-03-09T12:15:00Z', '2026-03-02T12:45:00Z'].map((iso) => ({
          campaignId: history,
          contactId,
          kind: 'open' as const,
          at: at(iso),
        })),
      ),
      // Prefetches at 07:00 every day must not pull anyone to 07:00.
      ...people.map((contactId) => ({
        campaignId: history,
        contactId,
        kind: 'open' as const,
        at: at('2026-03-09T07:00:00Z'),
        classification: 'prefetch' as const,
      })),
    ]);
    const refreshed = await call('POST', '/v1/engagement/refresh');
    expect(refreshed.body.workspace_best_hour).toBe(12);

    t.clock.set(new Date(START.getTime() + 60_000)); // 06:31
    const campaignId = await startCampaign('Timed');
    const seen: Record<string, string[]> = {};
    const record = (who: string[]) => {
      for (const name of who) seen[name] = [...(seen[name] ?? []), t.clock.now().toISOString()];
    };
    record(await arrivals());
    // Hour by hour to the end of the window (Tuesday 06:31).
    for (let hour = 7; hour <= 30; hour++) {
      t.clock.set(new Date(Date.parse('2026-03-16T00:00:00Z') + hour * HOUR));
      record(await arrivals());
    }
    t.clock.set(new Date(START.getTime() + 24 * HOUR + 60_000));
    record(await arrivals());

    expect(seen).toEqual({
      now: ['2026-03-16T06:31:00.000Z'], // inside their hour at the start: at once
      early: ['2026-03-16T09:00:00.000Z'],
      fresh: ['2026-03-16T12:00:00.000Z'], // no history: the workspace's best hour
      evening: ['2026-03-16T20:00:00.000Z'],
      night: ['2026-03-17T05:00:00.000Z'], // best hour Tuesday 02:00, held by quiet hours until 05:00
    });
    const campaign = await call('GET', `/v1/campaigns/${campaignId}`);
    expect(campaign.body).toMatchObject({ status: 'sent', progress: { sent: 5, failed: 0 } });
    // Waiting for a send time is not an attempt.
    const attempts = await db
      .selectFrom('campaign_sends')
      .select(['attempts', 'status'])
      .where('campaign_id', '=', campaignId)
      .execute();
    expect(attempts).toEqual(Array.from({ length: 5 }, () => ({ attempts: 1, status: 'sent' })));
  });
});
