import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Shopify (X-Shopify-Hmac-Sha256) and WooCommerce (X-WC-Webhook-Signature)
 * sign alike: base64 of HMAC-SHA256 over the raw request body, keyed with
 * the shared secret. Compared in constant time; a header that is missing or
 * not base64 of 32 bytes fails.
 */
export function verifyBodySignature(secret: string, rawBody: Buffer, header: string | undefined): boolean {
  if (header === undefined) return false;
  const trimmed = header.trim();
  if (!/^[A-Za-z0-9+/]{43}=$/.test(trimmed)) return false;
  const given = Buffer.from(trimmed, 'base64');
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The header value a shop would send for this body: for tests and for documentation. */
export function signBody(secret: string, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(rawBody).digest('base64');
}
