import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Field values encrypted with a workspace's data key (AES-256-GCM):
 * `hdk1.<dataKeyId>.<base64url iv>.<base64url ciphertext+tag>`.
 *
 * The value names its data key, so keys rotate while values are rewritten in
 * the background. The workspace id and the field's purpose are authenticated
 * (AAD) but not stored: a value copied to another workspace, another row or
 * another field fails to decrypt instead of disclosing itself there.
 *
 * Pure: no I/O. Keys are looked up by the caller (`DataKeyLookup`).
 */
export const ENVELOPE_PREFIX = 'hdk1.';

export interface EnvelopeContext {
  workspaceId: string;
  /** What the value is, and where it lives, e.g. `transports:<id>:secrets` or `attribute:vip_note`. */
  purpose: string;
}

export class EnvelopeError extends Error {
  constructor(
    message: string,
    readonly reason: 'format' | 'unknown_key' | 'authentication',
  ) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** True for a string in this format (it may still fail to decrypt). */
export function isEnvelope(value: string): boolean {
  return value.startsWith(ENVELOPE_PREFIX);
}

function aad(context: EnvelopeContext): Buffer {
  // Length-prefixed, so ("a:b", "c") and ("a", "b:c") never authenticate the same bytes.
  const workspace = Buffer.from(context.workspaceId, 'utf8');
  const purpose = Buffer.from(context.purpose, 'utf8');
  const lengths = Buffer.alloc(8);
  lengths.writeUInt32BE(workspace.length, 0);
  lengths.writeUInt32BE(purpose.length, 4);
  return Buffer.concat([Buffer.from('herald-data-envelope\0'), lengths, workspace, purpose]);
}

export function sealEnvelope(
  key: { id: string; key: Buffer },
  context: EnvelopeContext,
  plaintext: string,
): string {
  if (!KEY_ID.test(key.id))
    throw new EnvelopeError(`data key id "${key.id}" cannot be carried in a value`, 'format');
  if (key.key.length !== 32) throw new EnvelopeError('a data key must be 32 bytes', 'format');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  cipher.setAAD(aad(context));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${ENVELOPE_PREFIX}${key.id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
}

export interface ParsedEnvelope {
  keyId: string;
  iv: Buffer;
  /** Ciphertext followed by the 16-byte tag. */
  body: Buffer;
}

export function parseEnvelope(value: string): ParsedEnvelope {
  if (!isEnvelope(value))
    throw new EnvelopeError('value is not a Herald data-key envelope (hdk1.)', 'format');
  const parts = value.slice(ENVELOPE_PREFIX.length).split('.');
  const [keyId, iv, body] = parts;
  if (parts.length !== 3 || !keyId || iv === undefined || body === undefined) {
    throw new EnvelopeError('envelope must have three parts after hdk1.: key id, iv, ciphertext', 'format');
  }
  if (!KEY_ID.test(keyId)) throw new EnvelopeError('envelope key id is malformed', 'format');
  if (!BASE64URL.test(iv) || !BASE64URL.test(body)) {
    throw new EnvelopeError('envelope iv and ciphertext must be base64url', 'format');
  }
  const ivBytes = Buffer.from(iv, 'base64url');
  const bodyBytes = Buffer.from(body, 'base64url');
  if (ivBytes.length !== IV_BYTES) throw new EnvelopeError('envelope iv must be 12 bytes', 'format');
  if (bodyBytes.length < TAG_BYTES)
    throw new EnvelopeError('envelope ciphertext is shorter than its tag', 'format');
  return { keyId, iv: ivBytes, body: bodyBytes };
}

/** The data key id a value names, without decrypting it. */
export function envelopeKeyId(value: string): string {
  return parseEnvelope(value).keyId;
}

export type DataKeyLookup = (keyId: string) => Buffer | undefined;

export function openEnvelope(lookup: DataKeyLookup, context: EnvelopeContext, value: string): string {
  const parsed = parseEnvelope(value);
  const key = lookup(parsed.keyId);
  if (!key) {
    throw new EnvelopeError(
      `value was encrypted with data key ${parsed.keyId}, which this workspace does not have`,
      'unknown_key',
    );
  }
  return decryptParsed(key, context, parsed);
}

export function decryptParsed(key: Buffer, context: EnvelopeContext, parsed: ParsedEnvelope): string {
  const decipher = createDecipheriv('aes-256-gcm', key, parsed.iv);
  decipher.setAAD(aad(context));
  decipher.setAuthTag(parsed.body.subarray(parsed.body.length - TAG_BYTES));
  try {
    return Buffer.concat([
      decipher.update(parsed.body.subarray(0, parsed.body.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    throw new EnvelopeError(
      'value failed authentication: it was altered, or belongs to another workspace or field',
      'authentication',
    );
  }
}

/**
 * Wrapping a data key under a master key: the same AES-256-GCM, with the
 * workspace and data key id as AAD so a wrapped key cannot be swapped
 * between rows. Returns `<base64url iv>.<base64url ciphertext+tag>`.
 */
export function wrapDataKey(
  masterKey: Buffer,
  ids: { workspaceId: string; dataKeyId: string },
  dataKey: Buffer,
): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  cipher.setAAD(aad({ workspaceId: ids.workspaceId, purpose: `data-key:${ids.dataKeyId}` }));
  const body = Buffer.concat([cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  return `${iv.toString('base64url')}.${body.toString('base64url')}`;
}

export function unwrapDataKey(
  masterKey: Buffer,
  ids: { workspaceId: string; dataKeyId: string },
  wrapped: string,
): Buffer {
  const [iv, body, extra] = wrapped.split('.');
  if (!iv || !body || extra !== undefined) throw new EnvelopeError('wrapped data key is malformed', 'format');
  const ivBytes = Buffer.from(iv, 'base64url');
  const bodyBytes = Buffer.from(body, 'base64url');
  if (ivBytes.length !== IV_BYTES || bodyBytes.length !== 32 + TAG_BYTES) {
    throw new EnvelopeError('wrapped data key is malformed', 'format');
  }
  const decipher = createDecipheriv('aes-256-gcm', masterKey, ivBytes);
  decipher.setAAD(aad({ workspaceId: ids.workspaceId, purpose: `data-key:${ids.dataKeyId}` }));
  decipher.setAuthTag(bodyBytes.subarray(32));
  try {
    return Buffer.concat([decipher.update(bodyBytes.subarray(0, 32)), decipher.final()]);
  } catch {
    throw new EnvelopeError(
      `data key ${ids.dataKeyId} failed to unwrap: the master key is wrong or the row was altered`,
      'authentication',
    );
  }
}
