import { formatUuid } from './ids.js';
import { type SecretKeyring, sign, verifySignature } from './secret-keys.js';

/**
 * Compact signed tokens for URLs (unsubscribe, preferences, confirm, tracking)
 * and for VERP return paths. A token is bytes, base64url-encoded:
 *
 *   version(1) | field mask(1) | key id(6) | ids present (16 each) | expiry(4, optional) | tag(16)
 *
 * The tag is HMAC-SHA256 truncated to 128 bits, under a sub-key per token kind,
 * so a token of one kind never verifies as another. The key id names the
 * keyring key, so tokens signed with an older key verify until it is removed.
 */
export type TokenKind = 'unsubscribe' | 'preferences' | 'confirm' | 'open' | 'click' | 'view';

/** Each kind's signing purpose, spelled once: every open and click verifies a token. */
const PURPOSE: Readonly<Record<TokenKind, string>> = {
  unsubscribe: 'token:unsubscribe',
  preferences: 'token:preferences',
  confirm: 'token:confirm',
  open: 'token:open',
  click: 'token:click',
  view: 'token:view',
};

export interface TokenPayload {
  workspaceId?: string;
  messageId?: string;
  contactId?: string;
  campaignId?: string;
  listId?: string;
  linkId?: string;
  /** Whole seconds; the token stops verifying at this instant. */
  expiresAt?: Date;
}

const VERSION = 1;
const TAG_BYTES = 16;
const KEY_ID_BYTES = 6;
const EXPIRY_FLAG = 0x80;
// The order of the mask bits is the wire order; append new fields, never reorder.
const ID_FIELDS = ['workspaceId', 'messageId', 'contactId', 'campaignId', 'listId', 'linkId'] as const;
type IdField = (typeof ID_FIELDS)[number];

export function createToken(
  keyring: SecretKeyring,
  kind: TokenKind,
  payload: Omit<TokenPayload, 'expiresAt'>,
  options: { expiresAt?: Date } = {},
): string {
  let mask = 0;
  let ids = 0;
  for (let bit = 0; bit < ID_FIELDS.length; bit++) {
    if (payload[ID_FIELDS[bit] as IdField] === undefined) continue;
    mask |= 1 << bit;
    ids++;
  }
  if (options.expiresAt) mask |= EXPIRY_FLAG;
  // One buffer, written in place: tokens are made several times per email sent.
  const bodyLength = 2 + KEY_ID_BYTES + ids * 16 + (options.expiresAt ? 4 : 0);
  const bytes = Buffer.allocUnsafe(bodyLength + TAG_BYTES);
  bytes[0] = VERSION;
  bytes[1] = mask;
  bytes.write(keyring.current.id, 2, KEY_ID_BYTES, 'base64url');
  let offset = 2 + KEY_ID_BYTES;
  for (const field of ID_FIELDS) {
    const value = payload[field];
    if (value === undefined) continue;
    writeUuid(bytes, offset, value);
    offset += 16;
  }
  if (options.expiresAt) bytes.writeUInt32BE(Math.ceil(options.expiresAt.getTime() / 1000), offset);
  sign(keyring, PURPOSE[kind], bytes.subarray(0, bodyLength)).copy(bytes, bodyLength, 0, TAG_BYTES);
  return bytes.toString('base64url');
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** The 6-bit value of a base64url character (one already checked against BASE64URL). */
function base64urlValue(code: number): number {
  if (code >= 97) return code - 71; // a-z: 26-51
  if (code >= 65) return code === 95 ? 63 : code - 65; // A-Z: 0-25, _: 63
  return code === 45 ? 62 : code + 4; // -: 62, 0-9: 52-61
}

/**
 * One token, one spelling: only base64url characters (decoding would skip
 * others), no padding, a length that encodes whole bytes, and no bits set
 * past the last byte (variants that differ only there decode to the same
 * bytes). Checked on the string, before decoding, without re-encoding it.
 */
function canonicalBase64url(token: string): boolean {
  const rest = token.length % 4;
  if (rest === 1 || !BASE64URL.test(token)) return false;
  if (rest === 0) return true;
  // The last character carries 4 (2 left over) or 2 (3 left over) bits past the last byte.
  return (base64urlValue(token.charCodeAt(token.length - 1)) & (rest === 2 ? 0x0f : 0x03)) === 0;
}

/** The payload of a valid, unexpired token of this kind; undefined for anything else. */
export function verifyToken(
  keyring: SecretKeyring,
  kind: TokenKind,
  token: string,
  now: Date,
): TokenPayload | undefined {
  if (token.length > 200 || !canonicalBase64url(token)) return undefined;
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length < 2 + KEY_ID_BYTES + TAG_BYTES || bytes[0] !== VERSION) return undefined;
  const mask = bytes[1] as number;
  let idCount = 0;
  for (let bit = 0; bit < ID_FIELDS.length; bit++) if (mask & (1 << bit)) idCount++;
  const hasExpiry = (mask & EXPIRY_FLAG) !== 0;
  const bodyLength = 2 + KEY_ID_BYTES + idCount * 16 + (hasExpiry ? 4 : 0);
  if (bytes.length !== bodyLength + TAG_BYTES || (mask & 0x40) !== 0) return undefined;

  const body = bytes.subarray(0, bodyLength);
  const keyId = bytes.toString('base64url', 2, 2 + KEY_ID_BYTES);
  if (!verifySignature(keyring, PURPOSE[kind], body, keyId, bytes.subarray(bodyLength))) return undefined;

  const payload: TokenPayload = {};
  let offset = 2 + KEY_ID_BYTES;
  for (let bit = 0; bit < ID_FIELDS.length; bit++) {
    if (!(mask & (1 << bit))) continue;
    payload[ID_FIELDS[bit] as IdField] = formatUuid(bytes, offset);
    offset += 16;
  }
  if (hasExpiry) {
    const expiresAt = new Date(bytes.readUInt32BE(offset) * 1000);
    if (now.getTime() >= expiresAt.getTime()) return undefined;
    payload.expiresAt = expiresAt;
  }
  return payload;
}

/**
 * Address tokens sit in the local part of an address: the VERP bounce address
 * (`b-<token>@...`) and the mailto unsubscribe address (`u-<token>@...`). Local
 * parts hold at most 64 characters and MTAs may change their case, so these
 * tokens carry only the message id, in lowercase base32:
 *
 *   version(1) | key id prefix(3) | message id(16) | tag(16)  -> 58 characters
 *
 * A 3-byte key id prefix is enough to pick among the few keys of a keyring;
 * on a prefix clash every matching key is tried.
 */
const RP_VERSION = 1;
const RP_KEY_PREFIX = 3;
const RP_LENGTH = 1 + RP_KEY_PREFIX + 16 + TAG_BYTES;

export type AddressTokenKind = 'return-path' | 'unsubscribe';

export function createReturnPathToken(keyring: SecretKeyring, messageId: string): string {
  return createAddressToken(keyring, 'return-path', messageId);
}

export function verifyReturnPathToken(keyring: SecretKeyring, token: string): string | undefined {
  return verifyAddressToken(keyring, 'return-path', token);
}

export function createAddressToken(
  keyring: SecretKeyring,
  kind: AddressTokenKind,
  messageId: string,
): string {
  const body = Buffer.concat([
    Buffer.from([RP_VERSION]),
    Buffer.from(keyring.current.id, 'base64url').subarray(0, RP_KEY_PREFIX),
    uuidToBytes(messageId),
  ]);
  const tag = sign(keyring, `address-token:${kind}`, body).subarray(0, TAG_BYTES);
  return base32Encode(Buffer.concat([body, tag]));
}

/** The message id of a valid address token of this kind, in any letter case; undefined otherwise. */
export function verifyAddressToken(
  keyring: SecretKeyring,
  kind: AddressTokenKind,
  token: string,
): string | undefined {
  const text = token.toLowerCase();
  const bytes = base32Decode(text);
  if (!bytes || base32Encode(bytes) !== text || bytes.length !== RP_LENGTH || bytes[0] !== RP_VERSION)
    return undefined;
  const body = bytes.subarray(0, RP_LENGTH - TAG_BYTES);
  const tag = bytes.subarray(RP_LENGTH - TAG_BYTES);
  const prefix = bytes.subarray(1, 1 + RP_KEY_PREFIX);
  for (const key of keyring.all) {
    if (!Buffer.from(key.id, 'base64url').subarray(0, RP_KEY_PREFIX).equals(prefix)) continue;
    if (verifySignature(keyring, `address-token:${kind}`, body, key.id, tag)) {
      return formatUuid(bytes, 1 + RP_KEY_PREFIX);
    }
  }
  return undefined;
}

function uuidToBytes(uuid: string): Buffer {
  const bytes = Buffer.allocUnsafe(16);
  writeUuid(bytes, 0, uuid);
  return bytes;
}

/** Writes a UUID's 16 bytes at `offset`; anything but the 8-4-4-4-12 hex form is refused. */
function writeUuid(target: Buffer, offset: number, uuid: string): void {
  if (uuid.length !== 36) throw new TypeError('token ids must be UUIDs');
  let out = offset;
  for (let i = 0; i < 36; ) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (uuid.charCodeAt(i) !== 45) throw new TypeError('token ids must be UUIDs');
      i++;
      continue;
    }
    const high = hexValue(uuid.charCodeAt(i));
    const low = hexValue(uuid.charCodeAt(i + 1));
    if (high < 0 || low < 0) throw new TypeError('token ids must be UUIDs');
    target[out++] = (high << 4) | low;
    i += 2;
  }
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export function base32Encode(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text: string): Buffer | undefined {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of text) {
    const index = BASE32.indexOf(char);
    if (index < 0) return undefined;
    value = ((value << 5) | index) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}
