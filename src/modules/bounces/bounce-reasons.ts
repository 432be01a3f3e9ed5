/**
 * Why a delivery failed, from its enhanced status code (RFC 3463), SMTP
 * reply code and diagnostic text, and whether that makes the address bad
 * (hard) or the delivery unlucky (soft). Only a recipient or a domain that
 * does not exist is hard: a full mailbox, a block of the sender's IP, spam
 * content or an authentication failure say nothing about the address, so
 * suppressing it would lose a real subscriber. An unexplained permanent
 * failure (5.x.x without a known cause) is hard, as the SMTP reply says.
 */

export const BOUNCE_REASONS = [
  'user_unknown',
  'mailbox_full',
  'host_unknown',
  'blocked',
  'spam',
  'policy',
  'too_big',
  'expired',
  'rate_limited',
  'other',
] as const;
export type BounceReason = (typeof BOUNCE_REASONS)[number];
export type Severity = 'hard' | 'soft';

export interface FailureEvidence {
  /** Enhanced status code, e.g. `5.1.1`. */
  status?: string | undefined;
  /** SMTP reply code, e.g. 550. */
  replyCode?: number | undefined;
  diagnostic?: string | undefined;
  /** What the report says when it has no codes (DSN Action: failed, "permanent error" in the text). */
  permanent?: boolean | undefined;
}

/** Codes whose meaning does not depend on the text around them. */
const BY_STATUS: Record<string, BounceReason> = {
  '1.0': 'user_unknown', // other address status: servers use it for "no such user"
  '1.1': 'user_unknown',
  '1.10': 'user_unknown', // Microsoft 365: RecipientNotFound
  '1.6': 'user_unknown', // mailbox has moved
  '1.2': 'host_unknown',
  '4.4': 'host_unknown', // unable to route
  '2.2': 'mailbox_full',
  '3.4': 'too_big',
  '2.3': 'too_big',
  '4.7': 'expired',
  '7.23': 'policy', // SPF
  '7.25': 'policy', // reverse DNS
  '7.26': 'policy', // DMARC / authentication
  '7.27': 'policy', // null MX senders
  '7.28': 'rate_limited', // Gmail: unusual rate
};

/** Text patterns, in order: the first that matches names the reason. */
const BY_TEXT: [BounceReason, RegExp][] = [
  [
    'too_big',
    /message (is )?too (big|large)|size (limit|exceeds)|exceeds? (the )?(maximum|size|message size)/,
  ],
  [
    'mailbox_full',
    /mailbox (is )?full|over ?quota|quota (exceeded|full)|exceeded (the )?storage|insufficient (system )?storage|mailbox size limit|out of storage/,
  ],
  [
    'rate_limited',
    /rate limit|ratelimit|too many (messages|connections|recipients|mails)|throttl|unusual rate|sending rate|temporarily deferred|try again later/,
  ],
  [
    'policy',
    /dmarc|\bspf\b|\bdkim\b|authenticat|not authori[sz]ed|relay(ing)? (access )?denied|sender (address )?rejected|sender policy|policy (violation|rejection|reasons)/,
  ],
  [
    'blocked',
    /block(ed|list|ing)|black ?list|deny ?list|\blisted\b|reputation|\brbl\b|\bdnsbl\b|spamhaus|spamcop|barracuda|banned|access denied|connection refused by|ip .*(rejected|refused)/,
  ],
  [
    'spam',
    /spam|unsolicited|\bbulk\b|content (rejected|filter)|message (content )?rejected|suspicious|virus|malware|phish|\buce\b/,
  ],
  [
    'host_unknown',
    /host (or domain name )?not found|domain (does not exist|not found|name not found)|no mx|name or service not known|unrouteable|unable to route|nxdomain|no such domain|host unknown|domain lookup failed/,
  ],
  [
    'user_unknown',
    /user unknown|unknown user|no such (user|mailbox|recipient|address)|does ?n[o']t exist|not exist|recipient not found|address not found|invalid (recipient|mailbox|address)|recipient address rejected|mailbox (unavailable|not found|does not)|no mailbox|account (has been |is )?(disabled|deactivated|suspended|closed)|inactive|unknown (recipient|mailbox)|user not found|not a valid (recipient|mailbox)|doesn't have a .* account|undeliverable address|unknown address/,
  ],
  [
    'expired',
    /expired|time(d)? ?out|retry time|delivery time|could not be delivered within|giving up|too long|connection (refused|reset)/,
  ],
];

export function classifyFailure(evidence: FailureEvidence): { reason: BounceReason; severity: Severity } {
  const status = evidence.status?.match(/^([245])\.(\d{1,3})\.(\d{1,3})$/);
  const text = (evidence.diagnostic ?? '').toLowerCase();
  let reason: BounceReason | undefined = status ? BY_STATUS[`${status[2]}.${status[3]}`] : undefined;
  // A generic x.7.1 or x.0.0 needs the text; so does a status the table does not know.
  if (!reason) reason = BY_TEXT.find(([, pattern]) => pattern.test(text))?.[0];
  const permanent = status
    ? status[1] === '5'
    : evidence.replyCode !== undefined
      ? evidence.replyCode >= 500
      : (evidence.permanent ?? false);
  if (!reason) reason = 'other';
  const hard = reason === 'user_unknown' || reason === 'host_unknown' || (reason === 'other' && permanent);
  // A temporary failure is never hard, whatever its text says: the server itself expects a retry to work.
  return { reason, severity: hard && permanent ? 'hard' : 'soft' };
}

/** The SMTP reply and enhanced status codes a diagnostic text starts with or contains (`550-5.1.1 ...`, `(#5.1.1)`). */
export function failureCodes(diagnostic: string | null | undefined): {
  replyCode: number | null;
  status: string | null;
} {
  if (!diagnostic) return { replyCode: null, status: null };
  const reply = /(?:^|[\s:;])([245]\d\d)(?:[\s:-]|$)/.exec(diagnostic)?.[1];
  return {
    replyCode: reply ? Number(reply) : null,
    status: diagnostic.match(/\b([245]\.\d{1,3}\.\d{1,3})\b/)?.[1] ?? null,
  };
}
