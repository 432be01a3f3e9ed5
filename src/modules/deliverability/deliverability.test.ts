import { describe, expect, it } from 'vitest';
import { TransportError } from '../../mail/transports/index.js';
import { parseReport } from '../bounces/index.js';
import { refusalReport, reportsFromParsed } from './deliverability.service.js';
import { describeImapError } from './imap-poller.js';

/** The pure parts: which send-time errors are bounces, and how a parsed report becomes per-recipient reports. */

const refusal = (error: unknown, final = true) =>
  refusalReport({ email: 'ann@example.com', messageId: '0193a1b2@shop.example', error, final });

describe('refusalReport', () => {
  it('turns an SMTP 550 5.1.1 into a hard user_unknown bounce and a 552 into a soft one', () => {
    const hard = refusal(new TransportError('permanent', '550 5.1.1 <ann@example.com>: User unknown', 550));
    expect(hard).toMatchObject({
      type: 'bounce',
      severity: 'hard',
      reason: 'user_unknown',
      status: '5.1.1',
      replyCode: 550,
      messageId: '<0193a1b2@shop.example>',
    });
    expect(refusal(new TransportError('permanent', '552 5.2.2 Mailbox full', 552))).toMatchObject({
      severity: 'soft',
      reason: 'mailbox_full',
    });
    expect(refusal(new TransportError('temporary', '451 4.7.1 try later', 451))).toMatchObject({
      severity: 'soft',
    });
  });

  it('ignores what is not the receiving server refusing the address', () => {
    // An HTTP provider's API error, a dropped connection, a render failure, a retry still to come.
    expect(refusal(new TransportError('permanent', '{"message":"bad request"}', 400))).toBeUndefined();
    expect(refusal(new TransportError('connection', 'ECONNRESET', 'ECONNRESET'))).toBeUndefined();
    expect(refusal(new Error('render failed'))).toBeUndefined();
    expect(refusal(new TransportError('temporary', '451 try later', 451), false)).toBeUndefined();
  });

  it('keys a refusal by message and code, so recording it twice dedups', () => {
    const a = refusal(new TransportError('permanent', '550 5.1.1 unknown', 550));
    const b = refusal(new TransportError('permanent', '550 5.1.1 unknown (again)', 550));
    expect(a?.dedupKey).toBe(b?.dedupKey);
  });
});

describe('reportsFromParsed', () => {
  it('gives one report per failed recipient and none for auto-replies', () => {
    const raw = [
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
      'Action: delayed',
      'Status: 4.4.1',
      '--b--',
    ].join('\r\n');
    const reports = reportsFromParsed(parseReport(raw), 'abc');
    expect(reports.map((r) => [r.type, r.recipient, r.severity, r.dedupKey])).toEqual([
      ['bounce', 'one@example.com', 'hard', 'raw:abc:0'],
      ['delay', 'two@example.com', 'soft', 'raw:abc:1'],
    ]);
    const auto = parseReport(
      'From: mia@example.com\r\nAuto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\nAway',
    );
    expect(reportsFromParsed(auto, 'x')).toEqual([]);
  });
});

describe('describeImapError', () => {
  it('says what failed without the server text, which can echo the user name', () => {
    const auth = Object.assign(new Error('Command failed'), {
      authenticationFailed: true,
      responseText: 'Authentication failed for ann@example.com',
    });
    expect(describeImapError(auth)).toBe('authentication failed (check imap_user and imap_password)');
    expect(describeImapError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(
      'connection failed (ECONNREFUSED)',
    );
    expect(
      describeImapError(Object.assign(new Error('Command failed'), { serverResponseCode: 'NONEXISTENT' })),
    ).toBe('server refused (NONEXISTENT)');
  });
});
