import { createHmac, createPublicKey, timingSafeEqual, verify } from 'node:crypto';

/**
 * Checks that a provider's webhook request is the provider's: each provider
 * signs differently. All checks are constant-time where a secret is compared
 * and return false (never throw) on malformed input, so a forged or broken
 * request is simply refused.
 */

/** SendGrid Event Webhook: ECDSA P-256 / SHA-256 over timestamp + raw body, base64 DER signature. */
export function verifySendgridSignature(input: {
  /** The verification key from SendGrid's Mail Settings: base64 DER (SPKI), or PEM. */
  publicKey: string;
  /** X-Twilio-Email-Event-Webhook-Signature */
  signature: string;
  /** X-Twilio-Email-Event-Webhook-Timestamp */
  timestamp: string;
  rawBody: Buffer | string;
}): boolean {
  try {
    const key = input.publicKey.includes('BEGIN PUBLIC KEY')
      ? createPublicKey(input.publicKey)
      : createPublicKey({ key: Buffer.from(input.publicKey, 'base64'), format: 'der', type: 'spki' });
    const signed = Buffer.concat([Buffer.from(input.timestamp), Buffer.from(input.rawBody)]);
    return verify('sha256', signed, { key, dsaEncoding: 'der' }, Buffer.from(input.signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * Mailgun webhooks: hex HMAC-SHA256 of timestamp + token with the webhook
 * signing key. Replays are refused by the caller remembering tokens; here a
 * timestamp too far from now is refused, which bounds how long it must.
 */
export function verifyMailgunSignature(input: {
  signingKey: string;
  timestamp: string;
  token: string;
  signature: string;
  now: Date;
  maxAgeMs: number;
}): boolean {
  const at = Number(input.timestamp) * 1000;
  if (!Number.isFinite(at) || Math.abs(input.now.getTime() - at) > input.maxAgeMs) return false;
  const expected = createHmac('sha256', input.signingKey).update(`${input.timestamp}${input.token}`).digest();
  const given = /^[0-9a-f]{64}$/i.test(input.signature)
    ? Buffer.from(input.signature, 'hex')
    : Buffer.alloc(0);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** HTTP Basic credentials (Postmark sends the ones configured in its webhook URL). */
export function verifyBasicAuth(header: string | undefined, user: string, password: string): boolean {
  const encoded = header?.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i)?.[1];
  if (!encoded) return false;
  const given = Buffer.from(Buffer.from(encoded, 'base64').toString('utf8'));
  const expected = Buffer.from(`${user}:${password}`);
  // Compare equal lengths only; the length itself is not secret.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export type SnsMessage = Record<string, unknown>;

/** The fields SNS signs, in its order, per message type. */
const SNS_SIGNED_FIELDS: Record<string, string[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: [
    'Message',
    'MessageId',
    'SubscribeURL',
    'Timestamp',
    'Token',
    'TopicArn',
    'Type',
  ],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

/** The string SNS signs: `Name\nvalue\n` for each signed field present (Subject only when given). */
export function snsStringToSign(message: SnsMessage): string | undefined {
  const fields = SNS_SIGNED_FIELDS[String(message.Type)];
  if (!fields) return undefined;
  let out = '';
  for (const name of fields) {
    const value = message[name];
    if (value === undefined || value === null) {
      if (name === 'Subject') continue;
      return undefined;
    }
    if (typeof value !== 'string') return undefined;
    out += `${name}\n${value}\n`;
  }
  return out;
}

/** Where Amazon SNS publishes its signing certificates. */
export const SNS_CERT_URL = /^https:\/\/sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/[^?#]+\.pem$/;

/**
 * Amazon SNS message signature (SignatureVersion 1: SHA1withRSA, 2:
 * SHA256withRSA) with the certificate at SigningCertURL, which must match
 * `certUrl` (by default Amazon's own hosts, so a forged message cannot name
 * its own certificate). `fetchCertificate` returns the PEM; callers cache it.
 */
export async function verifySnsSignature(
  message: SnsMessage,
  fetchCertificate: (url: string) => Promise<string>,
  certUrl: RegExp = SNS_CERT_URL,
): Promise<boolean> {
  const url = message.SigningCertURL;
  const signature = message.Signature;
  if (typeof url !== 'string' || !certUrl.test(url) || typeof signature !== 'string') return false;
  const algorithm =
    message.SignatureVersion === '1' ? 'sha1' : message.SignatureVersion === '2' ? 'sha256' : undefined;
  const text = snsStringToSign(message);
  if (!algorithm || text === undefined) return false;
  try {
    const certificate = await fetchCertificate(url);
    return verify(algorithm, Buffer.from(text, 'utf8'), certificate, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
