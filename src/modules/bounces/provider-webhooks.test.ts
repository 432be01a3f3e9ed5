import { spawnSync } from 'node:child_process';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mailgunEvents,
  ProviderPayloadError,
  postmarkEvents,
  sendgridEvents,
  sesEvents,
} from './provider-events.js';
import {
  snsStringToSign,
  verifyBasicAuth,
  verifyMailgunSignature,
  verifySendgridSignature,
  verifySnsSignature,
} from './provider-signatures.js';

/** Provider webhooks: their documented payloads mapped to one shape, and each provider's signature scheme. */

describe('provider events', () => {
  it('maps an SES bounce notification per recipient, with the sent Message-ID', () => {
    const events = sesEvents({
      notificationType: 'Bounce',
      bounce: {
        bounceType: 'Permanent',
        bounceSubType: 'General',
        bouncedRecipients: [
          {
            emailAddress: 'jane@example.com',
            action: 'failed',
            status: '5.1.1',
            diagnosticCode: 'smtp; 550 5.1.1 user unknown',
          },
          {
            emailAddress: 'joe@example.com',
            action: 'failed',
            status: '5.2.2',
            diagnosticCode: 'smtp; 552 5.2.2 mailbox full',
          },
        ],
        timestamp: '2026-03-10T09:12:03.000Z',
        reportingMTA: 'dsn; a27-30.smtp-out.eu-west-1.amazonses.com',
      },
      mail: {
        messageId: '0100018e2b3c4d5e-000000',
        destination: ['jane@example.com', 'joe@example.com'],
        headers: [{ name: 'Message-ID', value: '<ses-2@shop.example>' }],
        commonHeaders: { messageId: '<ses-2@shop.example>' },
      },
    });
    expect(events.map((e) => [e.recipient, e.type, e.status, e.replyCode, e.reason, e.severity])).toEqual([
      ['jane@example.com', 'bounce', '5.1.1', 550, 'user_unknown', 'hard'],
      ['joe@example.com', 'bounce', '5.2.2', 552, 'mailbox_full', 'soft'],
    ]);
    expect(events[0]).toMatchObject({
      provider: 'ses',
      messageId: '<ses-2@shop.example>',
      providerMessageId: '0100018e2b3c4d5e-000000',
      diagnostic: '550 5.1.1 user unknown',
      providerDetail: { bounce_type: 'Permanent', bounce_sub_type: 'General' },
    });
    expect(events[0]?.occurredAt?.toISOString()).toBe('2026-03-10T09:12:03.000Z');
  });

  it('keeps an SES transient bounce soft, and maps complaints and deliveries', () => {
    const transient = sesEvents({
      notificationType: 'Bounce',
      bounce: {
        bounceType: 'Transient',
        bouncedRecipients: [
          { emailAddress: 'a@example.com', diagnosticCode: 'smtp; 550 5.1.1 user unknown' },
        ],
      },
      mail: { messageId: 'x' },
    });
    expect(transient[0]?.severity).toBe('soft');
    const complaint = sesEvents({
      eventType: 'Complaint',
      complaint: {
        complainedRecipients: [{ emailAddress: 'b@example.com' }],
        complaintFeedbackType: 'abuse',
      },
      mail: { messageId: 'y' },
    });
    expect(complaint[0]).toMatchObject({
      type: 'complaint',
      recipient: 'b@example.com',
      reason: 'complaint',
      providerDetail: { feedback_type: 'abuse' },
    });
    const delivery = sesEvents({
      notificationType: 'Delivery',
      delivery: { recipients: ['c@example.com'], smtpResponse: '250 2.0.0 OK' },
      mail: { messageId: 'z' },
    });
    expect(delivery[0]).toMatchObject({ type: 'delivery', recipient: 'c@example.com', replyCode: 250 });
    expect(sesEvents({ eventType: 'Open', mail: {} })).toEqual([]);
  });

  it('maps SendGrid bounce, blocked, deferred, dropped, spamreport and delivered events', () => {
    const events = sendgridEvents([
      {
        email: 'a@example.com',
        event: 'bounce',
        type: 'bounce',
        status: '5.1.1',
        reason: '550 5.1.1 The email account that you tried to reach does not exist',
        'smtp-id': '<sg-1@shop.example>',
        sg_message_id: 'abc.filter',
        timestamp: 1773133923,
      },
      {
        email: 'b@example.com',
        event: 'bounce',
        type: 'blocked',
        status: '5.7.1',
        reason: '550 5.7.1 blocked using Spamhaus',
      },
      { email: 'c@example.com', event: 'deferred', response: '450 4.2.0 try again later' },
      { email: 'd@example.com', event: 'spamreport' },
      { email: 'e@example.com', event: 'delivered', response: '250 OK' },
      { email: 'f@example.com', event: 'open' },
    ]);
    expect(events.map((e) => [e.recipient, e.type, e.reason, e.severity])).toEqual([
      ['a@example.com', 'bounce', 'user_unknown', 'hard'],
      ['b@example.com', 'bounce', 'blocked', 'soft'],
      ['c@example.com', 'delay', 'rate_limited', 'soft'],
      ['d@example.com', 'complaint', 'complaint', null],
      ['e@example.com', 'delivery', null, null],
    ]);
    expect(events[0]).toMatchObject({ messageId: '<sg-1@shop.example>', providerMessageId: 'abc.filter' });
    expect(events[0]?.occurredAt?.toISOString()).toBe('2026-03-10T09:12:03.000Z');
  });

  it('maps Mailgun failed (permanent and temporary), complained and delivered events', () => {
    const failed = mailgunEvents({
      event: 'failed',
      severity: 'permanent',
      reason: 'bounce',
      recipient: 'a@example.com',
      timestamp: 1773133923.5,
      message: { headers: { 'message-id': 'mg-1@shop.example' } },
      'delivery-status': {
        code: 550,
        message: '5.1.1 The email account that you tried to reach does not exist',
        description: '',
      },
    });
    expect(failed[0]).toMatchObject({
      type: 'bounce',
      status: '5.1.1',
      replyCode: 550,
      reason: 'user_unknown',
      severity: 'hard',
      messageId: '<mg-1@shop.example>',
    });
    const temporary = mailgunEvents({
      event: 'failed',
      severity: 'temporary',
      recipient: 'b@example.com',
      'delivery-status': { code: 452, message: '4.2.2 mailbox full' },
    });
    expect(temporary[0]).toMatchObject({ type: 'delay', reason: 'mailbox_full', severity: 'soft' });
    expect(mailgunEvents({ event: 'complained', recipient: 'c@example.com' })[0]?.type).toBe('complaint');
    expect(mailgunEvents({ event: 'delivered', recipient: 'd@example.com' })[0]?.type).toBe('delivery');
  });

  it('maps Postmark bounces by type, spam complaints, and ignores auto-responders', () => {
    const hard = postmarkEvents({
      RecordType: 'Bounce',
      Type: 'HardBounce',
      TypeCode: 1,
      MessageID: '883953f4-6105-42a2-a16a-77a8eac79483',
      Email: 'a@example.com',
      Details: 'smtp;550 5.1.1 The email account that you tried to reach does not exist',
      BouncedAt: '2026-03-10T09:12:03Z',
    });
    expect(hard[0]).toMatchObject({
      type: 'bounce',
      reason: 'user_unknown',
      severity: 'hard',
      providerMessageId: '883953f4-6105-42a2-a16a-77a8eac79483',
    });
    const soft = postmarkEvents({
      RecordType: 'Bounce',
      Type: 'SoftBounce',
      Email: 'b@example.com',
      Details: '550 5.1.1 user unknown',
    });
    expect(soft[0]).toMatchObject({ type: 'bounce', severity: 'soft' });
    expect(postmarkEvents({ RecordType: 'Bounce', Type: 'AutoResponder', Email: 'c@example.com' })).toEqual(
      [],
    );
    expect(
      postmarkEvents({ RecordType: 'SpamComplaint', Type: 'SpamComplaint', Email: 'd@example.com' })[0]?.type,
    ).toBe('complaint');
  });

  it('refuses payloads that are not the documented shape, naming the path', () => {
    const refusals: [() => unknown, string][] = [
      [() => sesEvents('nope'), '/'],
      [
        () =>
          sesEvents({
            notificationType: 'Bounce',
            mail: {},
            bounce: { bounceType: 'Permanent', bouncedRecipients: [] },
          }),
        '/bounce/bouncedRecipients',
      ],
      [
        () =>
          sesEvents({
            notificationType: 'Bounce',
            mail: {},
            bounce: { bounceType: 'Permanent', bouncedRecipients: [{}] },
          }),
        '/bounce/bouncedRecipients/0/emailAddress',
      ],
      [() => sendgridEvents({ event: 'bounce' }), '/'],
      [() => sendgridEvents([{ event: 'bounce' }]), '/0/email'],
      [() => mailgunEvents({ recipient: 'a@example.com' }), '/event-data/event'],
      [() => postmarkEvents({ RecordType: 'Bounce', Email: 'a@example.com' }), '/Type'],
    ];
    for (const [call, path] of refusals) {
      let caught: unknown;
      try {
        call();
      } catch (error) {
        caught = error;
      }
      expect(caught, path).toBeInstanceOf(ProviderPayloadError);
      expect((caught as ProviderPayloadError).path).toBe(path);
    }
  });
});

describe('provider signatures', () => {
  it('verifies SendGrid ECDSA signatures over timestamp and raw body', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const verificationKey = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const body = '[{"email":"a@example.com","event":"bounce"}]\r\n';
    const timestamp = '1773133923';
    const signature = sign('sha256', Buffer.from(timestamp + body), privateKey).toString('base64');
    const check = (over: Partial<Parameters<typeof verifySendgridSignature>[0]>) =>
      verifySendgridSignature({ publicKey: verificationKey, signature, timestamp, rawBody: body, ...over });
    expect(check({})).toBe(true);
    expect(check({ publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() })).toBe(true);
    expect(check({ rawBody: body.replace('bounce', 'delivered') })).toBe(false);
    expect(check({ timestamp: '1773133924' })).toBe(false);
    expect(check({ signature: 'not base64 at all' })).toBe(false);
    expect(check({ publicKey: 'garbage' })).toBe(false);
  });

  it('verifies Mailgun HMAC signatures and refuses stale timestamps', () => {
    const signingKey = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';
    const timestamp = '1773133923';
    const token = 'a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0';
    const signature = createHmac('sha256', signingKey)
      .update(timestamp + token)
      .digest('hex');
    const now = new Date(1773133923_000 + 60_000);
    const check = (over: Partial<Parameters<typeof verifyMailgunSignature>[0]>) =>
      verifyMailgunSignature({ signingKey, timestamp, token, signature, now, maxAgeMs: 300_000, ...over });
    expect(check({})).toBe(true);
    expect(check({ token: `${token}x` })).toBe(false);
    expect(check({ signature: signature.replace(/^./, signature[0] === 'a' ? 'b' : 'a') })).toBe(false);
    expect(check({ signature: 'zz' })).toBe(false);
    expect(check({ now: new Date(1773133923_000 + 600_000) })).toBe(false);
    expect(check({ timestamp: 'soon' })).toBe(false);
  });

  it('checks Basic credentials', () => {
    const header = `Basic ${Buffer.from('postmark:s3cret').toString('base64')}`;
    expect(verifyBasicAuth(header, 'postmark', 's3cret')).toBe(true);
    expect(verifyBasicAuth(header, 'postmark', 's3cret!')).toBe(false);
    expect(verifyBasicAuth('Bearer abc', 'postmark', 's3cret')).toBe(false);
    expect(verifyBasicAuth(undefined, 'postmark', 's3cret')).toBe(false);
  });

  describe('Amazon SNS', () => {
    let dir: string;
    let certificate: string;
    let key: string;
    const certUrl =
      'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem';

    beforeAll(() => {
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
        '/CN=sns.amazonaws.com',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ]);
      expect(made.status, made.stderr.toString()).toBe(0);
      certificate = readFileSync(join(dir, 'cert.pem'), 'utf8');
      key = readFileSync(join(dir, 'key.pem'), 'utf8');
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const notification = (version: '1' | '2', extra: Record<string, string> = {}) => {
      const message: Record<string, string> = {
        Type: 'Notification',
        MessageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
        TopicArn: 'arn:aws:sns:eu-west-1:123456789012:herald-bounces',
        Message: '{"notificationType":"Bounce"}',
        Timestamp: '2026-03-10T09:12:03.000Z',
        SignatureVersion: version,
        SigningCertURL: certUrl,
        ...extra,
      };
      const text = snsStringToSign(message) as string;
      message.Signature = sign(version === '1' ? 'sha1' : 'sha256', Buffer.from(text), key).toString(
        'base64',
      );
      return message;
    };
    const fetched: string[] = [];
    const fetchCertificate = async (url: string) => {
      fetched.push(url);
      return certificate;
    };

    it('builds the string to sign per type, with Subject only when present', () => {
      expect(
        snsStringToSign({
          Type: 'Notification',
          Message: 'm',
          MessageId: 'i',
          Timestamp: 't',
          TopicArn: 'a',
        }),
      ).toBe('Message\nm\nMessageId\ni\nTimestamp\nt\nTopicArn\na\nType\nNotification\n');
      expect(
        snsStringToSign({
          Type: 'SubscriptionConfirmation',
          Message: 'm',
          MessageId: 'i',
          SubscribeURL: 'u',
          Timestamp: 't',
          Token: 'k',
          TopicArn: 'a',
        }),
      ).toBe(
        'Message\nm\nMessageId\ni\nSubscribeURL\nu\nTimestamp\nt\nToken\nk\nTopicArn\na\nType\nSubscriptionConfirmation\n',
      );
      expect(snsStringToSign({ Type: 'Other' })).toBeUndefined();
    });

    it('verifies signature versions 1 and 2 with the certificate from Amazon', async () => {
      expect(await verifySnsSignature(notification('1'), fetchCertificate)).toBe(true);
      expect(
        await verifySnsSignature(notification('2', { Subject: 'Amazon SES Email Event' }), fetchCertificate),
      ).toBe(true);
      expect(fetched.every((url) => url === certUrl)).toBe(true);
    });

    it('refuses tampered messages and certificates from anywhere but Amazon', async () => {
      const tampered = { ...notification('2'), Message: '{"notificationType":"Complaint"}' };
      expect(await verifySnsSignature(tampered, fetchCertificate)).toBe(false);
      fetched.length = 0;
      for (const url of [
        'http://sns.eu-west-1.amazonaws.com/cert.pem',
        'https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem',
        'https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem',
      ]) {
        const forged = notification('2', { SigningCertURL: url });
        expect(await verifySnsSignature(forged, fetchCertificate), url).toBe(false);
      }
      expect(fetched).toEqual([]); // never even fetched
      expect(
        await verifySnsSignature({ ...notification('2'), SignatureVersion: '3' }, fetchCertificate),
      ).toBe(false);
      expect(await verifySnsSignature(notification('2'), async () => 'not a certificate')).toBe(false);
    });
  });
});
