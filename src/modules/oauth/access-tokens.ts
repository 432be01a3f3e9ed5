import { timingSafeEqual } from 'node:crypto';
import { type SecretKeyring, sign } from '../../lib/secret-keys.js';

/**
 * OAuth access tokens: JWTs (RFC 9068 shape) signed HS256 with a sub-key of
 * Herald's keyring, so every process sharing HERALD_SECRET_KEYS verifies them
 * and rotating the keyring rotates them. Only Herald reads them, so a
 * symmetric key is enough; the `kid` names the keyring key used.
 */
export interface AccessTokenClaims {
  iss: string;
  aud: string;
  /** The client's public client_id. */
  sub: string;
  /** The client's row id: the principal's actor id. */
  client: string;
  workspace: string;
  /** Space-separated scopes. */
  scope: string;
  jti: string;
  iat: number;
  exp: number;
}

export const ACCESS_TOKEN_AUDIENCE = 'herald-api';
const PURPOSE = 'oauth-access-token';
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** True for a string shaped like a JWT (three base64url parts), as opposed to an hk_ API key. */
export function looksLikeJwt(token: string): boolean {
  return token.length <= 4096 && JWT_SHAPE.test(token);
}

function encodePart(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function signAccessToken(keyring: SecretKeyring, claims: AccessTokenClaims): string {
  const header = encodePart({ alg: 'HS256', typ: 'at+jwt', kid: keyring.current.id });
  const signingInput = `${header}.${encodePart(claims)}`;
  return `${signingInput}.${sign(keyring, PURPOSE, signingInput).toString('base64url')}`;
}

/**
 * The claims of a token this keyring signed, unexpired at `now`, for `issuer`;
 * undefined for anything else. Never throws on hostile input.
 */
export function verifyAccessToken(
  keyring: SecretKeyring,
  token: string,
  now: Date,
  issuer: string,
): AccessTokenClaims | undefined {
  if (!looksLikeJwt(token)) return undefined;
  const [headerPart, payloadPart, signaturePart] = token.split('.') as [string, string, string];
  const header = parsePart(headerPart);
  // Only the exact algorithm Herald signs with: never "none", never a key type an attacker picks.
  if (header?.alg !== 'HS256' || header.typ !== 'at+jwt' || typeof header.kid !== 'string') return undefined;
  const key = keyring.find(header.kid);
  if (!key) return undefined;
  const expected = sign(keyring, PURPOSE, `${headerPart}.${payloadPart}`, key);
  const presented = Buffer.from(signaturePart, 'base64url');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return undefined;
  const claims = parsePart(payloadPart);
  if (!claims || !isClaims(claims)) return undefined;
  if (claims.iss !== issuer || claims.aud !== ACCESS_TOKEN_AUDIENCE) return undefined;
  if (claims.exp * 1000 <= now.getTime()) return undefined;
  return claims;
}

function parsePart(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function isClaims(value: Record<string, unknown>): value is Record<string, unknown> & AccessTokenClaims {
  return (
    ['iss', 'aud', 'sub', 'client', 'workspace', 'scope', 'jti'].every((k) => typeof value[k] === 'string') &&
    Number.isInteger(value.iat) &&
    Number.isInteger(value.exp)
  );
}
