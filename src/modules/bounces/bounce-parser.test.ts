import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseReport } from './bounce-parser.js';
import { classifyFailure } from './bounce-reasons.js';
import { splitMbox } from './mbox.js';
import { parseMessage } from './raw-message.js';
import { unsubscribeAddressTokens } from './unsubscribe-request.js';

/** Bounce and complaint reports as real MTAs and providers write them (test/fixtures/bounces). */

const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, '../../../test/fixtures/bounces', name));

interface Expected {
  kind: string;
  format: string;
  recipient: string | null;
  status?: string | null;
  replyCode?: number | null;
  reason: string;
  severity: string | null;
  messageId: string | null;
  returnPath: string | null;
}

const verp = (token: string) => `b-${token}@bounce.shop.example`;

const cases: Record<string, Expected> = {
  'postfix-user-unknown.eml': {
    kind: 'bounce',
    format: 'dsn',
    recipient: 'nobody@example.org',
    status: '5.1.1',
    replyCode: 550,
    reason: 'user_unknown',
    severity: 'hard',
    messageId: '<0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@shop.example>',
    returnPath: verp('ab7kq3mzx2w4p6rt9vn5yc8d'),
  },
  'postfix-host-unknown.eml': {
    kind: 'bounce',
    format: 'dsn',
    recipient: 'ann@no-such-domain.example',
    status: '5.4.4',
    replyCode: null,
    reason: 'host_unknown',
    severity: 'hard',
    messageId: '<host-unknown-1@shop.example>',
    returnPath: verp('cd7kq3mzx2w4p6rt9vn5yc8e'),
  },
  'sendmail-mailbox-full.eml': {
    kind: 'bounce',
    format: 'dsn',
    recipient: 'bob@example.net',
    status: '5.2.2',
    replyCode: 552,
    reason: 'mailbox_full',
    severity: 'soft',
    messageId: '<sendmail-full-1@shop.example>',
    returnPath: verp('ef7kq3mzx2w4p6rt9vn5yc8f'),
  },
  'exim-user-unknown.eml': {
    kind: 'bounce',
    format: 'text',
    recipient: 'carol@example.com',
    status: '5.1.1',
    replyCode: 550,
    reason: 'user_unknown',
    severity: 'hard',
    messageId: '<exim-unknown-1@shop.example>',
    returnPath: verp('gh7kq3mzx2w4p6rt9vn5yc8g'),
  },
  'exim-delayed.eml': {
    kind: 'delay',
    format: 'text',
    recipient: 'dave@example.com',
    status: '4.3.0',
    replyCode: 451,
    reason: 'other',
    severity: 'soft',
    messageId: null,
    returnPath: verp('ij7kq3mzx2w4p6rt9vn5yc8h'),
  },
  'qmail-no-mailbox.eml': {
    kind: 'bounce',
    format: 'text',
    recipient: 'erin@example.info',
    status: '5.1.1',
    reason: 'user_unknown',
    severity: 'hard',
    messageId: '<qmail-1@shop.example>',
    returnPath: verp('kl7kq3mzx2w4p6rt9vn5yc8i'),
  },
  'yahoo-user-unknown.eml': {
    kind: 'bounce',
    format: 'text',
    recipient: 'frank@yahoo.com',
    status: null,
    replyCode: 554,
    reason: 'user_unknown',
    severity: 'hard',
    messageId: '<yahoo-1@shop.example>',
    returnPath: verp('mn7kq3mzx2w4p6rt9vn5yc8j'),
  },
  'office365-recipient-not-found.eml': {
    kind: 'bounce',
    format: 'dsn',
    recipient: 'grace@contoso.example',
    status: '5.1.10',
    replyCode: 550,
    reason: 'user_unknown',
    severity: 'hard',
    messageId: '<o365-1@shop.example>',
    returnPath: verp('op7kq3mzx2w4p6rt9vn5yc8k'),
  },
  'gmail-does-not-exist.eml': {
    kind: 'bounce',
    format: 'dsn',
    recipient: 'heidi@gmail.com',
    status: '5.1.1',
    replyCode: 550,
    reason: 'user_unknown',
    severity: 'hard',
    messageId: '<gmail-1@shop.example>',
    returnPath: verp('qr7kq3mzx2w4p6rt9vn5yc8l'),
  },
  'gmail-dmarc-policy.eml': {
    kind: 'bounce',
    format: 'dsn',
    recipient: 'ivan@gmail.com',
    status: '5.7.26',
    replyCode: 550,
    reason: 'policy',
    severity: 'soft',
    messageId: null,
    returnPath: verp('st7kq3mzx2w4p6rt9vn5yc8m'),
  },
  'gmail-rate-limited.eml': {
    kind: 'delay',
    format: 'dsn',
    recipient: 'judy@gmail.com',
    status: '4.7.28',
    replyCode: 421,
    reason: 'rate_limited',
    severity: 'soft',
    messageId: null,
    returnPath: verp('uv7kq3mzx2w4p6rt9vn5yc8n'),
  },
  'ses-user-unknown.eml': {
    kind: 'bounce',
    format: 'dsn',
    recipient: 'kim@example.co',
    status: '5.1.1',
    replyCode: 550,
    reason: 'user_unknown',
    severity: 'hard',
    messageId: '<ses-1@shop.example>',
    returnPath: verp('wx7kq3mzx2w4p6rt9vn5yc8o'),
  },
  'blocked-spamhaus.eml': {
    kind: 'bounce',
    format: 'dsn',
    recipient: 'pat@example.net',
    status: '5.7.1',
    reason: 'blocked',
    severity: 'soft',
    messageId: '<blocked-spamhaus.eml@shop.example>',
    returnPath: verp('ef8kq3mzx2w4p6rt9vn5yc8s'),
  },
  'spam-content.eml': {
    kind: 'bounce',
    format: 'dsn',
    recipient: 'quinn@example.net',
    reason: 'spam',
    severity: 'soft',
    messageId: '<spam-content.eml@shop.example>',
    returnPath: verp('gh8kq3mzx2w4p6rt9vn5yc8t'),
  },
  'too-big.eml': {
    kind: 'bounce',
    format: 'dsn',
    recipient: 'rae@example.net',
    reason: 'too_big',
    severity: 'soft',
    messageId: '<too-big.eml@shop.example>',
    returnPath: verp('ij8kq3mzx2w4p6rt9vn5yc8u'),
  },
  'expired.eml': {
    kind: 'bounce',
    format: 'dsn',
    recipient: 'sam@example.net',
    status: '4.4.7',
    reason: 'expired',
    severity: 'soft',
    messageId: '<expired.eml@shop.example>',
    returnPath: verp('kl8kq3mzx2w4p6rt9vn5yc8v'),
  },
  'generic-permanent.eml': {
    kind: 'bounce',
    format: 'dsn',
    recipient: 'tom@example.net',
    status: '5.0.0',
    replyCode: 554,
    reason: 'other',
    severity: 'hard',
    messageId: '<generic-permanent.eml@shop.example>',
    returnPath: verp('mn8kq3mzx2w4p6rt9vn5yc8w'),
  },
  'arf-abuse.eml': {
    kind: 'complaint',
    format: 'arf',
    recipient: 'liz@hotmail.com',
    reason: 'complaint',
    severity: null,
    messageId: '<arf-1@shop.example>',
    returnPath: verp('yz7kq3mzx2w4p6rt9vn5yc8p'),
  },
  'arf-redacted.eml': {
    kind: 'complaint',
    format: 'arf',
    recipient: null,
    reason: 'complaint',
    severity: null,
    messageId: '<arf-2@shop.example>',
    returnPath: verp('ab8kq3mzx2w4p6rt9vn5yc8q'),
  },
};

describe('bounce and complaint reports', () => {
  for (const [file, expected] of Object.entries(cases)) {
    it(`reads ${file}`, () => {
      const report = parseReport(fixture(file));
      expect(report.kind).toBe(expected.kind);
      expect(report.format).toBe(expected.format);
      expect(report.recipients).toHaveLength(1);
      const [r] = report.recipients;
      expect(r?.recipient).toBe(expected.recipient);
      if (expected.status !== undefined) expect(r?.status).toBe(expected.status);
      if (expected.replyCode !== undefined) expect(r?.replyCode).toBe(expected.replyCode);
      expect(r?.reason).toBe(expected.reason);
      expect(r?.severity).toBe(expected.severity);
      expect(report.originalMessageId).toBe(expected.messageId);
      expect(report.returnPath).toBe(expected.returnPath);
    });
  }

  it('classifies the whole fixture set, and says how accurately', () => {
    // The per-file tests above say which file is wrong; this one prints the score an operator can compare.
    let right = 0;
    const wrong: string[] = [];
    for (const [file, expected] of Object.entries(cases)) {
      const report = parseReport(fixture(file));
      const [r] = report.recipients;
      const ok =
        report.kind === expected.kind &&
        (r?.recipient ?? null) === expected.recipient &&
        (r?.reason ?? report.kind) === expected.reason &&
        (r?.severity ?? null) === expected.severity;
      if (ok) right++;
      else wrong.push(file);
    }
    const total = Object.keys(cases).length;
    console.log(
      `bounce fixtures: ${right} of ${total} classified right (kind, recipient, reason, hard/soft): ${((right / total) * 100).toFixed(1)}%${wrong.length ? `; wrong: ${wrong.join(', ')}` : ''}`,
    );
    expect(wrong).toEqual([]);
  });

  it('keeps the details an operator debugs with: remote MTA, diagnostic, reporting MTA, feedback type', () => {
    const gmail = parseReport(fixture('gmail-does-not-exist.eml'));
    expect(gmail.reportingMta).toBe('googlemail.com');
    expect(gmail.recipients[0]?.remoteMta).toBe('gmail-smtp-in.l.google.com');
    expect(gmail.recipients[0]?.diagnostic).toMatch(/^550-5\.1\.1 The email account that you tried to reach/);
    expect(parseReport(fixture('postfix-user-unknown.eml')).recipients[0]?.action).toBe('failed');
    expect(parseReport(fixture('arf-abuse.eml')).recipients[0]?.feedbackType).toBe('abuse');
    expect(parseReport(fixture('exim-user-unknown.eml')).recipients[0]?.remoteMta).toBe('mail.example.com');
  });

  it('never counts an auto-reply as a bounce', () => {
    for (const file of ['out-of-office.eml', 'vacation-no-headers.eml']) {
      const report = parseReport(fixture(file));
      expect(report.kind, file).toBe('auto_reply');
      expect(report.recipients, file).toEqual([]);
    }
    expect(parseReport(fixture('out-of-office.eml')).from).toBe('mia@example.com');
  });

  it('finds nothing in a message that is neither a report nor an auto-reply', () => {
    const report = parseReport(fixture('not-a-bounce.eml'));
    expect(report).toMatchObject({ kind: 'unknown', format: 'none', recipients: [] });
  });

  it('reports every recipient of a DSN, and skips success notices', () => {
    const raw = [
      'From: MAILER-DAEMON@mail.shop.example',
      'Content-Type: multipart/report; report-type=delivery-status; boundary=b',
      '',
      '--b',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mail.shop.example',
      '',
      'Final-Recipient: rfc822; one@example.com',
      'Action: failed',
      'Status: 5.1.1',
      '',
      'Final-Recipient: rfc822; two@example.com',
      'Action: delivered',
      'Status: 2.0.0',
      '',
      'Final-Recipient: rfc822; three@example.com',
      'Action: failed',
      'Status: 5.2.2',
      '--b--',
    ].join('\r\n');
    const report = parseReport(raw);
    expect(report.recipients.map((r) => [r.recipient, r.reason, r.severity])).toEqual([
      ['one@example.com', 'user_unknown', 'hard'],
      ['three@example.com', 'mailbox_full', 'soft'],
    ]);
  });

  it('reads base64 and quoted-printable parts', () => {
    const status = Buffer.from(
      'Final-Recipient: rfc822; b64@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n',
    ).toString('base64');
    const raw = [
      'From: MAILER-DAEMON@x.example',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
      '',
      '--b',
      'Content-Type: message/delivery-status',
      'Content-Transfer-Encoding: base64',
      '',
      status,
      '--b',
      'Content-Type: text/rfc822-headers',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Message-ID: <qp-1@shop.=',
      'example>',
      '--b--',
    ].join('\n');
    const report = parseReport(raw);
    expect(report.recipients[0]?.recipient).toBe('b64@example.com');
    expect(report.originalMessageId).toBe('<qp-1@shop.example>');
  });

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uint8Array({ maxLength: 2000 })), (input) => {
        const report = parseReport(typeof input === 'string' ? input : Buffer.from(input));
        expect(['bounce', 'delay', 'complaint', 'auto_reply', 'unknown']).toContain(report.kind);
      }),
      { numRuns: 300 },
    );
    // Fragments of real reports: truncated anywhere, they still parse.
    const whole = fixture('postfix-user-unknown.eml').toString();
    for (let cut = 0; cut < whole.length; cut += 97)
      expect(() => parseReport(whole.slice(0, cut))).not.toThrow();
  });
});

describe('failure reasons', () => {
  it('trusts specific status codes and reads the text of generic ones', () => {
    expect(classifyFailure({ status: '5.1.1', diagnostic: 'whatever' })).toEqual({
      reason: 'user_unknown',
      severity: 'hard',
    });
    expect(classifyFailure({ status: '5.7.1', diagnostic: '550 5.7.1 Relaying denied' }).reason).toBe(
      'policy',
    );
    expect(
      classifyFailure({ status: '5.7.1', diagnostic: 'blocked using b.barracudacentral.org' }).reason,
    ).toBe('blocked');
    expect(classifyFailure({ replyCode: 550, diagnostic: 'No such user here' })).toEqual({
      reason: 'user_unknown',
      severity: 'hard',
    });
  });

  it('makes a temporary failure soft even when its text sounds permanent', () => {
    expect(classifyFailure({ status: '4.1.1', diagnostic: 'user unknown' }).severity).toBe('soft');
    expect(classifyFailure({ replyCode: 450, diagnostic: 'mailbox unavailable' }).severity).toBe('soft');
  });

  it('never suppresses an address for what is not its fault', () => {
    for (const diagnostic of [
      '552 5.2.2 Mailbox full',
      '554 5.7.1 Message rejected as spam',
      '550 5.7.1 Client host blocked using Spamhaus',
      '550 5.7.26 DMARC policy',
      '552 5.3.4 Message too big',
    ])
      expect(classifyFailure({ diagnostic, replyCode: 550 }).severity, diagnostic).toBe('soft');
  });

  it('calls an unexplained permanent failure hard and an unexplained temporary one soft', () => {
    expect(classifyFailure({ status: '5.0.0' })).toEqual({ reason: 'other', severity: 'hard' });
    expect(classifyFailure({ status: '4.0.0' })).toEqual({ reason: 'other', severity: 'soft' });
    expect(classifyFailure({ diagnostic: 'something odd', permanent: true }).severity).toBe('hard');
  });
});

describe('mbox and MIME', () => {
  it('splits an mbox and unquotes >From lines', () => {
    const mbox = [
      'From MAILER-DAEMON Tue Mar 10 09:12:03 2026',
      'Subject: one',
      '',
      '>From the start',
      '',
      'From MAILER-DAEMON Tue Mar 10 09:13:03 2026',
      'Subject: two',
      '',
      'body',
    ].join('\n');
    const messages = splitMbox(mbox);
    expect(messages).toHaveLength(2);
    expect(messages[0]).toContain('From the start');
    expect(messages[1]).toContain('Subject: two');
    expect(splitMbox('Subject: single\n\nFrom here on')).toEqual(['Subject: single\n\nFrom here on']);
  });

  it('unfolds headers and keeps the parts of a report that lost its closing boundary', () => {
    const root = parseMessage(
      'Subject: a\n b\nContent-Type: multipart/mixed; boundary="z"\n\n--z\nContent-Type: text/plain\n\nhello\n--z\nContent-Type: text/plain\n\ncut off',
    );
    expect(root.headers[0]).toEqual({ name: 'subject', value: 'a b' });
    expect(root.children.map((c) => c.body.trim())).toEqual(['hello', 'cut off']);
  });
});

describe('unsubscribe requests (mail to a List-Unsubscribe mailto address)', () => {
  const token = (c: string) => c.repeat(58);
  it('reads the envelope headers first, then To and Cc, in any letter case, once each', () => {
    const raw = [
      `To: "List" <u-${token('c')}@shop.example>, other@example.org`,
      `Cc: u-${token('d')}@shop.example`,
      `Delivered-To: U-${token('A')}@Shop.Example`,
      `X-Original-To: u-${token('b')}@shop.example`,
      `Envelope-To: u-${token('a')}@shop.example`,
      'Subject: unsubscribe',
      '',
      `u-${token('e')}@shop.example in the body is not an address it was delivered to`,
    ].join('\r\n');
    expect(unsubscribeAddressTokens(Buffer.from(raw))).toEqual([
      token('a'),
      token('b'),
      token('c'),
      token('d'),
    ]);
  });

  it('finds none in other mail, in embedded messages, or in look-alike addresses', () => {
    expect(unsubscribeAddressTokens(fixture('postfix-user-unknown.eml'))).toEqual([]);
    const dsn = [
      'To: b-abcdefghij@shop.example',
      'Content-Type: multipart/report; boundary="B"',
      '',
      '--B',
      'Content-Type: text/rfc822-headers',
      '',
      `To: u-${token('a')}@shop.example`,
      '--B--',
    ].join('\r\n');
    expect(unsubscribeAddressTokens(dsn)).toEqual([]);
    expect(unsubscribeAddressTokens(`To: menu-${token('a')}@shop.example\r\n\r\n`)).toEqual([]);
    expect(unsubscribeAddressTokens(`To: u-short@shop.example\r\n\r\n`)).toEqual([]);
  });
});
