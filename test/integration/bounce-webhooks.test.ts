import { spawnSync } from 'node:child_process';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snsStringToSign } from '../../src/modules/bounces/provider-signatures.js';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The provider webhooks with real signatures made here: SNS with a
 * self-signed certificate served from 127.0.0.1, SendGrid ECDSA, Mailgun HMAC
 * (and its replays), Postmark Basic credentials. A refused request changes
 * nothing; a signed request captured and replayed after its freshness window
 * (SNS Timestamp, SendGrid signed timestamp) is refused.
 */

let t: TestApp;
let server: Server;
let base: string;
let certificate: string;
let snsKey: string;
let dir: string;
const requested: string[] = [];
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:herald-bounces';
const sendgrid = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const MAILGUN_KEY = 'key-mailgun-signing-0123456789';

async function call(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function hook(
  provider: string,
  body: string,
  headers: Record<string, string> = {},
  workspaceId = t.workspaceId,
) {
  const res = await t.app.inject({
    method: 'POST',
    url: `/webhooks/${provider}/${workspaceId}`,
    headers: { 'content-type': 'application/json', ...headers },
    payload: body,
  });
  return { status: res.statusCode, body: res.json() };
}

async function status(email: string) {
  const res = await t.container.database.pool.query(
    `SELECT c.status, s.reason FROM contacts c
     LEFT JOIN suppressions s ON s.workspace_id = c.workspace_id AND s.email_key = c.email_key
     WHERE c.workspace_id = $1 AND c.email_key = lower($2)`,
    [t.workspaceId, email],
  );
  return res.rows[0] as { status: string; reason: string | null } | undefined;
}

const snapshot = () => databaseSnapshot(t.container.database.pool);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-sns-'));
  const made = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=sns.test',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
  ]);
  expect(made.status, made.stderr.toString()).toBe(0);
  certificate = readFileSync(join(dir, 'cert.pem'), 'utf8');
  snsKey = readFileSync(join(dir, 'key.pem'), 'utf8');
  server = createServer((req, res) => {
    requested.push(req.url ?? '');
    if (req.url?.endsWith('.pem')) res.end(certificate);
    else res.end('<ConfirmSubscriptionResponse/>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t = await createTestApp({
    HERALD_SNS_CERT_URL_PATTERN: '^http://127\\.0\\.0\\.1:\\d+/[^?#]+\\.pem$',
    HERALD_SNS_SUBSCRIBE_URL_PATTERN: '^http://127\\.0\\.0\\.1:\\d+/',
  });
  const settings = await call('PATCH', '/v1/deliverability/settings', {
    ses_topic_arns: [TOPIC],
    sendgrid_public_key: sendgrid.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    mailgun_signing_key: MAILGUN_KEY,
    postmark_username: 'herald',
    postmark_password: 'postmark-secret-1',
  });
  expect(settings.status, JSON.stringify(settings.body)).toBe(200);
  expect(settings.body).toMatchObject({ mailgun_signing_key_set: true, postmark_password_set: true });
  expect(JSON.stringify(settings.body)).not.toContain(MAILGUN_KEY);
  for (const email of [
    'ses@example.org',
    'sg@example.org',
    'mg@example.org',
    'pm@example.org',
    'sgspam@example.org',
  ])
    await call('POST', '/v1/contacts', { email });
});
afterAll(async () => {
  await t?.close();
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('POST /webhooks/ses/{workspace}', () => {
  const signed = (fields: Record<string, string>) => {
    const message: Record<string, string> = {
      MessageId: `m-${Math.random()}`,
      TopicArn: TOPIC,
      Timestamp: t.clock.now().toISOString(),
      SignatureVersion: '2',
      SigningCertURL: `${base}/SimpleNotificationService-test.pem`,
      ...fields,
    };
    message.Signature = sign('sha256', Buffer.from(snsStringToSign(message) as string), snsKey).toString(
      'base64',
    );
    return message;
  };
  const bounce = JSON.stringify({
    notificationType: 'Bounce',
    bounce: {
      bounceType: 'Permanent',
      bouncedRecipients: [
        { emailAddress: 'ses@example.org', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 unknown' },
      ],
      timestamp: '2026-03-10T09:12:03.000Z',
    },
    mail: { messageId: '0100018e-ses' },
  });

  it('confirms a subscription by fetching its SubscribeURL from an allowed host', async () => {
    const res = await hook(
      'ses',
      JSON.stringify(
        signed({
          Type: 'SubscriptionConfirmation',
          Message: 'You have chosen to subscribe',
          Token: 'tok',
          SubscribeURL: `${base}/confirm?Token=tok`,
        }),
      ),
      { 'content-type': 'text/plain; charset=UTF-8' },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.outcome).toBe('subscription_confirmed');
    expect(requested).toContain('/confirm?Token=tok');
  });

  it('refuses a bad signature (401), a certificate elsewhere, an unknown topic (403) and malformed JSON (400), changing nothing', async () => {
    const before = await snapshot();
    const tampered = {
      ...signed({ Type: 'Notification', Message: bounce }),
      Message: bounce.replace('Permanent', 'Transient'),
    };
    expect((await hook('ses', JSON.stringify(tampered))).status).toBe(401);
    const elsewhere = signed({
      Type: 'Notification',
      Message: bounce,
      SigningCertURL: 'http://evil.example/x.pem',
    });
    expect((await hook('ses', JSON.stringify(elsewhere))).status).toBe(401);
    const topic = signed({
      Type: 'Notification',
      Message: bounce,
      TopicArn: 'arn:aws:sns:eu-west-1:1:other',
    });
    expect((await hook('ses', JSON.stringify(topic))).status).toBe(403);
    const malformed = await hook('ses', '{"Type":');
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('WEBHOOK_PAYLOAD_INVALID');
    const badInner = signed({ Type: 'Notification', Message: '{"notificationType":"Bounce"}' });
    const inner = await hook('ses', JSON.stringify(badInner));
    expect(inner.status).toBe(400);
    expect(inner.body.detail).toContain('/');
    const subscribeElsewhere = signed({
      Type: 'SubscriptionConfirmation',
      Message: 'm',
      Token: 'tok',
      SubscribeURL: 'https://evil.example/confirm',
    });
    expect((await hook('ses', JSON.stringify(subscribeElsewhere))).status).toBe(400);
    expect(requested).not.toContain('/confirm');
    expect(await snapshot()).toBe(before);
    expect(await status('ses@example.org')).toMatchObject({ status: 'active', reason: null });
  });

  it('applies a signed bounce notification, once', async () => {
    const message = JSON.stringify(signed({ Type: 'Notification', Message: bounce }));
    const res = await hook('ses', message);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results[0]).toMatchObject({ type: 'bounce', severity: 'hard', matched_by: 'recipient' });
    expect(await status('ses@example.org')).toEqual({ status: 'bounced', reason: 'hard_bounce' });
    const again = await hook('ses', message);
    expect(again.body.results[0].duplicate).toBe(true);
  });

  it('refuses a message published outside HERALD_SNS_WEBHOOK_MAX_AGE_SECONDS (a replay), changing nothing', async () => {
    const fresh = JSON.stringify(
      signed({ Type: 'Notification', Message: bounce.replace('ses@', 'sns-old@') }),
    );
    const hours = (n: number) => new Date(t.clock.now().getTime() + n * 3_600_000).toISOString();
    const before = await snapshot();
    const fetched = requested.length;
    for (const Timestamp of [hours(-2.01), hours(2.01)]) {
      const res = await hook(
        'ses',
        JSON.stringify(signed({ Type: 'Notification', Message: bounce, Timestamp })),
      );
      expect(res.status, Timestamp).toBe(401);
      expect(res.body.code).toBe('WEBHOOK_SIGNATURE_INVALID');
      expect(res.body.detail).toMatch(
        /the SNS Timestamp is 72\d\d s (old|in the future), outside the 7200 s window/,
      );
      expect(res.body.detail).toContain('HERALD_SNS_WEBHOOK_MAX_AGE_SECONDS');
    }
    // A stale message costs no certificate fetch.
    expect(requested.length).toBe(fetched);
    expect(await snapshot()).toBe(before);
    // SNS retries keep the first Timestamp for up to an hour: accepted.
    const retried = signed({
      Type: 'Notification',
      Message: bounce.replace('ses@', 'sns-retry@'),
      Timestamp: hours(-1.5),
    });
    expect((await hook('ses', JSON.stringify(retried))).status).toBe(200);

    // The fresh one captured and replayed two hours later.
    t.clock.advance(2 * 3_600_000 + 1000);
    const beforeReplay = await snapshot();
    const replayed = await hook('ses', fresh);
    expect(replayed.status).toBe(401);
    expect(replayed.body.detail).toContain('old');
    expect(await snapshot()).toBe(beforeReplay);
  });

  it('answers 404 for a workspace that does not exist and 403 where SES is not configured', async () => {
    expect((await hook('ses', '{}', {}, '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b')).status).toBe(404);
    expect((await hook('ses', '{}', {}, 'not-a-uuid')).status).toBe(404);
    const other = await t.createWorkspace('No SES');
    const res = await hook('ses', '{}', {}, other.workspaceId);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('WEBHOOK_NOT_CONFIGURED');
  });
});

describe('POST /webhooks/sendgrid/{workspace}', () => {
  const signedHeaders = (body: string, key = sendgrid.privateKey, at = t.clock.now()) => {
    const timestamp = String(Math.floor(at.getTime() / 1000));
    const signature = sign('sha256', Buffer.from(timestamp + body), { key, dsaEncoding: 'der' }).toString(
      'base64',
    );
    return {
      'x-twilio-email-event-webhook-signature': signature,
      'x-twilio-email-event-webhook-timestamp': timestamp,
    };
  };

  it('refuses a wrong signature and a malformed signed payload, changing nothing', async () => {
    const body = JSON.stringify([
      {
        email: 'sg@example.org',
        event: 'bounce',
        type: 'bounce',
        status: '5.1.1',
        reason: '550 5.1.1 unknown',
      },
    ]);
    const before = await snapshot();
    const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect((await hook('sendgrid', body, signedHeaders(body, stranger.privateKey))).status).toBe(401);
    expect((await hook('sendgrid', body)).status).toBe(401);
    const malformed = JSON.stringify([{ event: 'bounce' }]);
    const res = await hook('sendgrid', malformed, signedHeaders(malformed));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('WEBHOOK_PAYLOAD_INVALID');
    expect(await snapshot()).toBe(before);
  });

  it('applies signed bounce and spam report events', async () => {
    const body = JSON.stringify([
      {
        email: 'sg@example.org',
        event: 'bounce',
        type: 'bounce',
        status: '5.1.1',
        reason: '550 5.1.1 unknown',
        timestamp: 1773133923,
      },
      { email: 'sgspam@example.org', event: 'spamreport', timestamp: 1773133924 },
      { email: 'sg@example.org', event: 'open' },
    ]);
    const res = await hook('sendgrid', body, signedHeaders(body));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results).toHaveLength(2);
    expect(await status('sg@example.org')).toEqual({ status: 'bounced', reason: 'hard_bounce' });
    expect(await status('sgspam@example.org')).toEqual({ status: 'complained', reason: 'complaint' });
  });

  it('refuses a request signed outside HERALD_SENDGRID_WEBHOOK_MAX_AGE_SECONDS (a replay), changing nothing', async () => {
    const body = JSON.stringify([
      { email: 'sg-late@example.org', event: 'bounce', type: 'bounce', status: '5.1.1', reason: '550 5.1.1' },
    ]);
    const captured = signedHeaders(body);
    const seconds = (n: number) => new Date(t.clock.now().getTime() + n * 1000);
    const before = await snapshot();
    for (const at of [seconds(-301), seconds(301)]) {
      const res = await hook('sendgrid', body, signedHeaders(body, sendgrid.privateKey, at));
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('WEBHOOK_SIGNATURE_INVALID');
      expect(res.body.detail).toMatch(
        /signed timestamp .* is 30\d s (old|in the future), outside the 300 s window/,
      );
      expect(res.body.detail).toContain('HERALD_SENDGRID_WEBHOOK_MAX_AGE_SECONDS');
    }
    expect(await snapshot()).toBe(before);
    // Within the window the captured request is still good; replayed six minutes later it is refused.
    t.clock.advance(299_000);
    expect((await hook('sendgrid', body, captured)).status).toBe(200);
    t.clock.advance(61_000);
    const beforeReplay = await snapshot();
    expect((await hook('sendgrid', body, captured)).status).toBe(401);
    expect(await snapshot()).toBe(beforeReplay);
  });
});

describe('POST /webhooks/mailgun/{workspace}', () => {
  const payload = (eventData: object, at = t.clock.now()) => {
    const timestamp = String(Math.floor(at.getTime() / 1000));
    const token = `tok-${Math.random().toString(36).slice(2)}`;
    const signature = createHmac('sha256', MAILGUN_KEY)
      .update(timestamp + token)
      .digest('hex');
    return JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': eventData });
  };
  const failed = {
    event: 'failed',
    severity: 'permanent',
    recipient: 'mg@example.org',
    timestamp: 1773133923.5,
    'delivery-status': { code: 550, message: '5.1.1 The email account does not exist' },
  };

  it('refuses a bad signature and an old timestamp, changing nothing', async () => {
    const before = await snapshot();
    const forged = JSON.parse(payload(failed));
    forged.signature.signature = 'a'.repeat(64);
    expect((await hook('mailgun', JSON.stringify(forged))).status).toBe(401);
    const old = await hook('mailgun', payload(failed, new Date(t.clock.now().getTime() - 3_600_000)));
    expect(old.status).toBe(401);
    expect(old.body.code).toBe('WEBHOOK_SIGNATURE_INVALID');
    const malformed = await hook('mailgun', payload({ event: 'failed' }));
    expect(malformed.status).toBe(400);
    expect(await snapshot()).toBe(before);
  });

  it('applies a signed event and ignores its replay', async () => {
    const body = payload(failed);
    const res = await hook('mailgun', body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.outcome).toBe('applied');
    expect(await status('mg@example.org')).toEqual({ status: 'bounced', reason: 'hard_bounce' });
    const before = await snapshot();
    const replay = await hook('mailgun', body);
    expect(replay.status).toBe(200);
    expect(replay.body.outcome).toBe('replay_ignored');
    expect(await snapshot()).toBe(before);
  });
});

describe('POST /webhooks/postmark/{workspace}', () => {
  const body = JSON.stringify({
    RecordType: 'Bounce',
    Type: 'HardBounce',
    MessageID: '883953f4-6105-42a2-a16a-77a8eac79483',
    Email: 'pm@example.org',
    Details: 'smtp;550 5.1.1 The email account does not exist',
    BouncedAt: '2026-03-10T09:12:03Z',
  });
  const basic = (user: string, password: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
  });

  it('refuses wrong or missing credentials, changing nothing', async () => {
    const before = await snapshot();
    expect((await hook('postmark', body, basic('herald', 'wrong-password'))).status).toBe(401);
    expect((await hook('postmark', body)).status).toBe(401);
    expect((await hook('postmark', 'not json', basic('herald', 'postmark-secret-1'))).status).toBe(400);
    expect(await snapshot()).toBe(before);
  });

  it('applies a bounce with the right credentials', async () => {
    const res = await hook('postmark', body, basic('herald', 'postmark-secret-1'));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await status('pm@example.org')).toEqual({ status: 'bounced', reason: 'hard_bounce' });
  });
});
