import { createRemoteJWKSet, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import type { Clock } from '../../lib/clock.js';

/**
 * The relying-party side of OpenID Connect that Herald needs: discovery,
 * the authorization-code exchange and ID token verification. Provider
 * answers are bounded in time and size, and redirects are not followed.
 */
export interface ProviderMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
}

/** A provider that could not be reached or answered something unusable: not the user's fault. */
export class OidcProviderError extends Error {
  override name = 'OidcProviderError';
}

/** An ID token that must not sign anyone in; the message says which check failed. */
export class IdTokenRejected extends Error {
  override name = 'IdTokenRejected';
}

const FETCH_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_CHARS = 100_000;
const METADATA_TTL_MS = 10 * 60_000;
/** Allowed difference between the provider's clock and Herald's when checking iat/exp. */
const CLOCK_TOLERANCE_S = 60;

async function fetchJson(url: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      redirect: 'error',
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch (error) {
    throw new OidcProviderError(`${new URL(url).host} could not be reached: ${(error as Error).message}`);
  }
  const text = await response.text();
  if (text.length > MAX_RESPONSE_CHARS) throw new OidcProviderError(`${new URL(url).host} answered too much`);
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    throw new OidcProviderError(`${new URL(url).host} answered ${response.status} without JSON`);
  }
}

export function createOidcClient(deps: { clock: Clock }) {
  const { clock } = deps;
  const metadataCache = new Map<string, { metadata: ProviderMetadata; until: number }>();
  const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  /** The issuer's discovery document (cached ten minutes); its `issuer` must be the configured one exactly. */
  async function discover(issuer: string): Promise<ProviderMetadata> {
    const cached = metadataCache.get(issuer);
    if (cached && cached.until > clock.now().getTime()) return cached.metadata;
    const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const { status, body } = await fetchJson(url);
    if (status !== 200) throw new OidcProviderError(`discovery at ${url} answered ${status}`);
    const doc = body as Record<string, unknown>;
    for (const field of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
      if (typeof doc[field] !== 'string') throw new OidcProviderError(`discovery document lacks ${field}`);
    }
    // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
    if (doc.issuer !== issuer)
      throw new OidcProviderError(`discovery document names issuer ${String(doc.issuer)}, not ${issuer}`);
    const metadata = doc as unknown as ProviderMetadata;
    if (metadataCache.size > 1000) metadataCache.clear();
    metadataCache.set(issuer, { metadata, until: clock.now().getTime() + METADATA_TTL_MS });
    return metadata;
  }

  function keySet(jwksUri: string) {
    let set = keySets.get(jwksUri);
    if (!set) {
      set = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: FETCH_TIMEOUT_MS });
      if (keySets.size > 1000) keySets.clear();
      keySets.set(jwksUri, set);
    }
    return set;
  }

  return {
    discover,

    /** Exchanges the authorization code (with the PKCE verifier) for the provider's ID token. */
    async exchangeCode(input: {
      metadata: ProviderMetadata;
      clientId: string;
      clientSecret: string;
      clientAuthMethod: 'client_secret_basic' | 'client_secret_post';
      code: string;
      redirectUri: string;
      codeVerifier: string;
    }): Promise<string> {
      const form = new URLSearchParams({
        grant_type: 'authorization_code',
        code: input.code,
        redirect_uri: input.redirectUri,
        code_verifier: input.codeVerifier,
      });
      const headers: Record<string, string> = {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      };
      if (input.clientAuthMethod === 'client_secret_basic') {
        // RFC 6749 §2.3.1: form-encode each part before base64.
        const user = encodeURIComponent(input.clientId);
        const password = encodeURIComponent(input.clientSecret);
        headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      } else {
        form.set('client_id', input.clientId);
        form.set('client_secret', input.clientSecret);
      }
      const { status, body } = await fetchJson(input.metadata.token_endpoint, {
        method: 'POST',
        headers,
        body: form.toString(),
      });
      const answer = body as Record<string, unknown>;
      if (status !== 200) {
        const error = typeof answer.error === 'string' ? answer.error.slice(0, 100) : `status ${status}`;
        throw new OidcProviderError(`the token endpoint refused the code: ${error}`);
      }
      if (typeof answer.id_token !== 'string')
        throw new OidcProviderError('the token response has no id_token');
      return answer.id_token;
    },

    /** Verifies signature (JWKS), iss, aud, azp, exp and nonce; returns the claims. */
    async verifyIdToken(input: {
      idToken: string;
      metadata: ProviderMetadata;
      clientId: string;
      nonce: string;
    }): Promise<JWTPayload> {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(input.idToken, keySet(input.metadata.jwks_uri), {
          issuer: input.metadata.issuer,
          audience: input.clientId,
          currentDate: clock.now(),
          clockTolerance: CLOCK_TOLERANCE_S,
          requiredClaims: ['sub', 'iat', 'exp'],
        }));
      } catch (error) {
        if (error instanceof joseErrors.JOSEError && !(error instanceof joseErrors.JWKSTimeout))
          throw new IdTokenRejected(`the ID token failed verification: ${error.message}`);
        throw new OidcProviderError(
          `the provider's signing keys could not be read: ${(error as Error).message}`,
        );
      }
      // OpenID Connect Core §3.1.3.7: with several audiences, azp must name this client.
      if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== input.clientId)
        throw new IdTokenRejected(
          'the ID token is meant for several clients and not authorized for this one',
        );
      if (payload.nonce !== input.nonce)
        throw new IdTokenRejected('the ID token does not carry the nonce of this sign-in');
      return payload;
    },
  };
}

export type OidcClient = ReturnType<typeof createOidcClient>;
