import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Synchronous SMTP refusals at send time: a 5xx reply to RCPT TO from a real
 * SMTP server becomes a bounce event through the same policies as a DSN, for
 * campaign sends and transactional messages alike.
 */

let t: TestApp;
let sink: SmtpSink;

async function call(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function state(email: string) {
  const res = await t.container.database.pool.query(
    `SELECT c.status, s.reason,
       (SELECT string_agg(e.source || ':' || e.severity || ':' || e.reason || ':' || e.matched_by, ',')
          FROM bounce_events e WHERE e.workspace_id = c.workspace_id AND e.recipient_key = c.email_key) AS events
     FROM contacts c
     LEFT JOIN suppressions s ON s.workspace_id = c.workspace_id AND s.email_key = c.email_key
     WHERE c.workspace_id = $1 AND c.email_key = lower($2)`,
    [t.workspaceId, email],
  );
  return res.rows[0];
}

beforeAll(async () => {
  t = await createTestApp();
  sink = await startSmtpSink();
  await t.addSinkTransport(sink, { rate_limit: { per_second: 10000 }, is_default: true });
  sink.reject.set('gone@example.org', { code: 550, message: '5.1.1 <gone@example.org>: User unknown' });
  sink.reject.set('full@example.org', { code: 552, message: '5.2.2 Mailbox full' });
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});

describe('synchronous SMTP refusals', () => {
  it('makes a 550 5.1.1 to a transactional message a hard bounce: contact bounced and suppressed', async () => {
    const accepted = await call('POST', '/v1/messages', {
      to: 'gone@example.org',
      from_email: 'shop@shop.example',
      inline: { subject: 'Receipt', text: 'Thanks' },
    });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    await t.container.messages.send(t.workspaceId, accepted.body.id);
    expect((await call('GET', `/v1/messages/${accepted.body.id}`)).body.status).toBe('failed');
    expect(await state('gone@example.org')).toEqual({
      status: 'bounced',
      reason: 'hard_bounce',
      events: 'smtp:hard:user_unknown:message_id',
    });
  });

  it('records a campaign recipient refused with 552 as a soft bounce and skips nobody else', async () => {
    const list = await call('POST', '/v1/lists', { name: 'News', opt_in: 'single', visibility: 'private' });
    await call('POST', `/v1/lists/${list.body.id}/members`, {
      emails: ['full@example.org', 'fine@example.org'],
    });
    const template = await call('POST', '/v1/templates', {
      name: 'News',
      format: 'html',
      subject: 'News',
      body: '<p>Hello</p>',
    });
    const campaign = await call('POST', '/v1/campaigns', {
      name: 'News',
      from_email: 'news@shop.example',
      template_id: template.body.id,
      lists: [list.body.id],
    });
    const started = await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    await t.container.sender.drain();
    expect(sink.messages.map((m) => m.to[0])).toContain('fine@example.org');
    expect(await state('full@example.org')).toEqual({
      status: 'active',
      reason: null,
      events: 'smtp:soft:mailbox_full:message_id',
    });
    const [event] = (
      await t.container.database.pool.query(
        'SELECT campaign_id FROM bounce_events WHERE recipient_key = $1',
        ['full@example.org'],
      )
    ).rows;
    expect(event.campaign_id).toBe(campaign.body.id);
  });
});
