import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { type HmacSha256Key, hmacSha256Key } from './hmac-sha256.js';

/**
 * Herald's secret keys: 32-byte keys that encrypt stored secrets (DKIM
 * private keys, transport credentials) with AES-256-GCM and sign tokens with
 * HMAC-SHA256. The first key is current; older keys still decrypt and verify,
 * so keys rotate by prepending a new one. Each key is named by a short id
 * derived from it, carried in ciphertexts and tokens.
 */
export interface SecretKey {
  id: string;
  key: Buffer;
}

export interface SecretKeyring {
  current: SecretKey;
  all: SecretKey[];
  find(id: string): SecretKey | undefined;
}

export class SecretKeyError extends Error {}

export function parseSecretKeys(text: string): SecretKeyring {
  const keys = text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((encoded, index) => {
      const key = Buffer.from(encoded, 'base64');
      if (key.length !== 32) {
        throw new SecretKeyError(
          `HERALD_SECRET_KEYS: key ${index + 1} is ${key.length} bytes; each key must be 32 random bytes in base64 (openssl rand -base64 32)`,
        );
      }
      return { id: keyId(key), key };
    });
  const current = keys[0];
  if (!current) throw new SecretKeyError('HERALD_SECRET_KEYS holds no key');
  return { current, all: keys, find: (id) => keys.find((k) => k.id === id) };
}

export function generateSecretKey(): string {
  return randomBytes(32).toString('base64');
}

function keyId(key: Buffer): string {
  return createHash('sha256').update('herald-key-id').update(key).digest('base64url').slice(0, 8);
}

const derived = new WeakMap<Buffer, Map<string, Buffer>>();

/**
 * Sub-keys per purpose, so a token key never doubles as an encryption key.
 * Memoized per key and purpose: verifying a tracking token is on the open
 * pixel's hot path, and the derivation is a full HMAC.
 */
function derive(key: Buffer, purpose: string): Buffer {
  let byPurpose = derived.get(key);
  if (!byPurpose) {
    byPurpose = new Map();
    derived.set(key, byPurpose);
  }
  let sub = byPurpose.get(purpose);
  if (!sub) {
    sub = createHmac('sha256', key).update(`herald:${purpose}`).digest();
    // Purposes are a small fixed set of names; never let the cache grow without bound.
    if (byPurpose.size < 1000) byPurpose.set(purpose, sub);
  }
  return sub;
}

const VERSION = 'v1';

/** Encrypts a secret for storage: `v1.<key id>.<iv>.<tag>.<ciphertext>`, base64url parts. */
export function encryptSecret(keyring: SecretKeyring, plaintext: string, context = ''): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', derive(keyring.current.key, 'encrypt'), iv);
  // The context (e.g. table and row id) is authenticated, so a ciphertext copied to another row fails to decrypt.
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, keyring.current.id, iv, cipher.getAuthTag(), body]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

export function decryptSecret(keyring: SecretKeyring, stored: string, context = ''): string {
  const [version, id, iv, tag, body] = stored.split('.');
  if (version !== VERSION || !id || iv === undefined || tag === undefined || body === undefined) {
    throw new SecretKeyError('stored secret is not in a format Herald wrote');
  }
  const key = keyring.find(id);
  if (!key)
    throw new SecretKeyError(
      `stored secret was encrypted with key ${id}, which is not in HERALD_SECRET_KEYS`,
    );
  const decipher = createDecipheriv('aes-256-gcm', derive(key.key, 'encrypt'), Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new SecretKeyError('stored secret failed authentication: it was altered or belongs elsewhere');
  }
}

const signers = new WeakMap<Buffer, Map<string, HmacSha256Key>>();

/** The purpose's signing sub-key, prepared once: signing is on the hot paths of sending and tracking. */
function signer(key: Buffer, purpose: string): HmacSha256Key {
  let byPurpose = signers.get(key);
  if (!byPurpose) {
    byPurpose = new Map();
    signers.set(key, byPurpose);
  }
  let prepared = byPurpose.get(purpose);
  if (!prepared) {
    prepared = hmacSha256Key(derive(key, `sign:${purpose}`));
    if (byPurpose.size < 1000) byPurpose.set(purpose, prepared);
  }
  return prepared;
}

/** HMAC-SHA256 of `data` under the purpose's sub-key of the given key (default: current). */
export function sign(
  keyring: SecretKeyring,
  purpose: string,
  data: string | Buffer,
  key = keyring.current,
): Buffer {
  return signer(key.key, purpose).digest(typeof data === 'string' ? Buffer.from(data) : data);
}

export function verifySignature(
  keyring: SecretKeyring,
  purpose: string,
  data: string | Buffer,
  keyIdUsed: string,
  signature: Buffer,
): boolean {
  const key = keyring.find(keyIdUsed);
  if (!key) return false;
  const expected = sign(keyring, purpose, data, key).subarray(0, signature.length);
  return signature.length >= 16 && timingSafeEqual(expected, signature);
}

/**
 * A key's sub-key for one purpose, for callers that do their own AES-GCM
 * (the workspace data keys are wrapped under `subKey(master, 'wrap-data-keys')`).
 */
export function subKey(key: SecretKey, purpose: string): Buffer {
  return derive(key.key, purpose);
}
