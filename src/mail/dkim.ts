import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';

/**
 * DKIM signing (RFC 6376, relaxed/relaxed; RSA-SHA256 and Ed25519-SHA256 per
 * RFC 8463). `signMessage` is a pure function of the raw message and a
 * pre-parsed key, so it can move to a worker thread unchanged; keys are parsed
 * once per domain with `createDomainKey`, never per message.
 */
export type DkimAlgorithm = 'rsa' | 'ed25519';

export interface DomainKey {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  privateKey: KeyObject;
}

/**
 * Headers signed when present. From, Subject and the List-Unsubscribe pair are
 * also signed once more than they occur ("oversigned"), so nobody can add a
 * second instance after signing without breaking the signature.
 */
export const SIGNED_HEADERS = [
  'from',
  'to',
  'cc',
  'subject',
  'date',
  'message-id',
  'reply-to',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'list-unsubscribe',
  'list-unsubscribe-post',
  'list-id',
  'feedback-id',
] as const;
const OVERSIGNED = new Set(['from', 'subject', 'list-unsubscribe', 'list-unsubscribe-post']);

export function createDomainKey(options: {
  domain: string;
  selector: string;
  privateKeyPem: string;
}): DomainKey {
  const privateKey = createPrivateKey(options.privateKeyPem);
  return {
    domain: options.domain,
    selector: options.selector,
    algorithm: privateKey.asymmetricKeyType === 'ed25519' ? 'ed25519' : 'rsa',
    privateKey,
  };
}

/** The `p=` value of the DNS record: SPKI DER for RSA, the raw 32-byte key for Ed25519 (RFC 8463). */
export function dkimPublicKeyValue(privateKey: KeyObject): string {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return (privateKey.asymmetricKeyType === 'ed25519' ? spki.subarray(spki.length - 32) : spki).toString(
    'base64',
  );
}

export function dkimDnsRecord(selector: string, domain: string, algorithm: DkimAlgorithm, publicKey: string) {
  return {
    name: `${selector}._domainkey.${domain}`,
    type: 'TXT' as const,
    value: `v=DKIM1; k=${algorithm}; p=${publicKey}`,
  };
}

export interface SignOptions {
  /** Signature time (t=); omitted when not given. */
  signedAt?: Date;
}

/** Returns the message with a DKIM-Signature header prepended. */
export function signMessage(raw: Buffer, key: DomainKey, options: SignOptions = {}): Buffer {
  const pending = prepareSignature(raw, key, options);
  return completeSignature(pending, sign(pending.digest, pending.data, key.privateKey));
}

/**
 * A signature waiting for its one expensive step, the private-key operation:
 * `sign(digest, data, key)` from node:crypto. Split out so that step can run
 * on a worker thread while canonicalization stays with the caller.
 */
export interface PendingSignature {
  raw: Buffer;
  /** The digest argument of crypto.sign: sha256 for RSA; null for Ed25519, whose data is already the SHA-256 hash (RFC 8463). */
  digest: 'sha256' | null;
  data: Buffer;
  unsignedHeader: string;
}

export function prepareSignature(raw: Buffer, key: DomainKey, options: SignOptions = {}): PendingSignature {
  const split = raw.indexOf('\r\n\r\n');
  const headerEnd = split < 0 ? raw.length : split + 2;
  const headerText = raw.subarray(0, headerEnd).toString('latin1');
  const body = split < 0 ? Buffer.alloc(0) : raw.subarray(split + 4);

  const bodyHash = relaxedBodyHash(body);
  const fields = parseHeaders(headerText);

  const signed: string[] = [];
  let canonical = '';
  for (const name of SIGNED_HEADERS) {
    const instances = fields.get(name);
    if (!instances) continue;
    // Bottom-up, as verifiers select instances (RFC 6376 5.4.2).
    for (let i = instances.length - 1; i >= 0; i--) {
      signed.push(name);
      canonical += `${instances[i]}\r\n`;
    }
    if (OVERSIGNED.has(name)) signed.push(name);
  }

  const algorithm = key.algorithm === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256';
  const tags = [
    'v=1',
    `a=${algorithm}`,
    'c=relaxed/relaxed',
    `d=${key.domain}`,
    `s=${key.selector}`,
    ...(options.signedAt ? [`t=${Math.floor(options.signedAt.getTime() / 1000)}`] : []),
    `h=${signed.join(':')}`,
    `bh=${bodyHash}`,
    'b=',
  ];
  const unsignedHeader = `DKIM-Signature: ${tags.join(';\r\n\t')}`;
  const data = Buffer.from(canonical + relaxedHeader(unsignedHeader), 'latin1');
  return key.algorithm === 'ed25519'
    ? { raw, digest: null, data: createHash('sha256').update(data).digest(), unsignedHeader }
    : { raw, digest: 'sha256', data, unsignedHeader };
}

export function completeSignature(pending: PendingSignature, signature: Buffer): Buffer {
  const header = `${pending.unsignedHeader}${fold(signature.toString('base64'))}\r\n`;
  return Buffer.concat([Buffer.from(header, 'latin1'), pending.raw]);
}

/** Header fields by lowercased name, each in relaxed canonical form without CRLF. */
function parseHeaders(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const field of text.split(/\r\n(?![ \t])/)) {
    if (!field) continue;
    const canonical = relaxedHeader(field);
    const name = canonical.slice(0, canonical.indexOf(':'));
    const list = fields.get(name);
    if (list) list.push(canonical);
    else fields.set(name, [canonical]);
  }
  return fields;
}

function relaxedHeader(field: string): string {
  const colon = field.indexOf(':');
  const name = field.slice(0, colon).trim().toLowerCase();
  const value = field
    .slice(colon + 1)
    .replace(/\r\n/g, '')
    .replace(/[ \t]+/g, ' ')
    .trim();
  return `${name}:${value}`;
}

/** The relaxed canonical body (RFC 6376 3.4.4): blanks squeezed, none at line ends, no empty lines at the end. */
export function relaxedBody(body: Buffer): Buffer {
  if (body.length === 0) return body;
  const text = body
    .toString('latin1')
    .replace(/[ \t]+/g, ' ')
    .replace(/ (?=\r\n|$)/g, '')
    .replace(/(\r\n)+$/, '');
  return text.length === 0 ? Buffer.alloc(0) : Buffer.from(`${text}\r\n`, 'latin1');
}

/** Anything relaxed canonicalization would change inside the lines: a tab, two blanks, a blank before a line end. */
function needsRelaxing(body: Buffer): boolean {
  return (
    body.indexOf(9) >= 0 ||
    body.indexOf('  ') >= 0 ||
    body.indexOf(' \r\n') >= 0 ||
    body[body.length - 1] === 32
  );
}

/**
 * SHA-256 of the relaxed canonical body, base64. Herald's own parts
 * (quoted-printable or base64, CRLF line ends) need nothing changed inside
 * their lines, so the body is usually hashed as it is, less any empty lines
 * at its end, without building the canonical copy.
 */
export function relaxedBodyHash(body: Buffer): string {
  const hash = createHash('sha256');
  if (needsRelaxing(body)) return hash.update(relaxedBody(body)).digest('base64');
  let end = body.length;
  while (end >= 2 && body[end - 2] === 13 && body[end - 1] === 10) end -= 2;
  if (end === 0) return hash.digest('base64');
  return hash.update(body.subarray(0, end)).update('\r\n').digest('base64');
}

function fold(base64: string): string {
  let out = '';
  for (let i = 0; i < base64.length; i += 72) out += `${i === 0 ? '' : '\r\n\t'}${base64.slice(i, i + 72)}`;
  return out;
}
