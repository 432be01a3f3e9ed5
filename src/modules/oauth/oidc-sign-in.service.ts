import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import * as repo from './oidc.repository.js';
import { IdTokenRejected, type OidcClient, OidcProviderError } from './oidc-client.js';
import { type OidcProviderService, oidcRedirectUri } from './oidc-providers.service.js';

/** Who the identity provider vouched for. */
export interface OidcIdentity {
  workspaceId: string;
  /** Lower-cased, verified by the provider. */
  email: string;
  /** The provider's stable id of the person (`sub`), with `issuer`. */
  subject: string;
  issuer: string;
  name: string | null;
}

/**
 * The port through which a verified identity becomes a Herald user session:
 * the users module implements it (main/container.ts wires it). It refuses
 * people who are not members of the workspace unless `provision` allows
 * creating them.
 */
export interface OidcSessionStarter {
  start(
    identity: OidcIdentity,
    options: { provision: boolean; ip: string; userAgent: string | null },
  ): Promise<{ ok: true; setCookie: string[] } | { ok: false; reason: string }>;
}

export type SignInRefusalReason =
  | 'missing_state'
  | 'state_mismatch'
  | 'unknown_state'
  | 'expired'
  | 'provider_refused'
  | 'missing_code'
  | 'provider_gone'
  | 'provider_error'
  | 'id_token_invalid'
  | 'email_missing'
  | 'email_unverified'
  | 'domain_not_allowed'
  | 'user_refused';

export interface SignInRefusal {
  ok: false;
  /** 400: the request itself is wrong; 403: the person may not sign in; 502: the provider failed. */
  status: 400 | 403 | 502;
  reason: SignInRefusalReason;
  /** What happened and what to do, for the person in the browser. Holds no secrets. */
  message: string;
}

export type SignInResult = { ok: true; setCookie: string[] } | SignInRefusal;

export const STATE_COOKIE = 'herald_oidc_state';

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function refuse(
  status: SignInRefusal['status'],
  reason: SignInRefusalReason,
  message: string,
): SignInRefusal {
  return { ok: false, status, reason, message };
}

/**
 * Sign-in through a workspace's OpenID Connect provider: authorization code
 * flow with PKCE (S256). The state, nonce and code verifier stay in the
 * database; the browser holds only the state, in the URL and in an HttpOnly
 * cookie that ties the callback to the browser that started it.
 */
export function createOidcSignIn(deps: {
  db: Db;
  clock: Clock;
  providers: OidcProviderService;
  client: OidcClient;
  sessions: OidcSessionStarter;
  publicUrl: string;
  loginTtlSeconds: number;
}) {
  const { db, clock, providers, client, sessions, publicUrl, loginTtlSeconds } = deps;
  const redirectUri = oidcRedirectUri(publicUrl);

  return {
    /** Where to send the browser, and the state for its cookie; undefined for an unknown provider. */
    async start(
      providerId: string,
    ): Promise<{ location: string; state: string; maxAgeSeconds: number } | undefined> {
      const provider = await providers.forSignIn(providerId);
      if (!provider) return undefined;
      const metadata = await client.discover(provider.issuer);
      const state = randomBytes(32).toString('base64url');
      const nonce = randomBytes(32).toString('base64url');
      const codeVerifier = randomBytes(32).toString('base64url');
      const now = clock.now();
      await repo.deleteExpiredLogins(db, now);
      await repo.insertLogin(db, {
        state_hash: sha256(state),
        workspace_id: provider.workspaceId,
        provider_id: provider.id,
        nonce,
        code_verifier: codeVerifier,
        created_at: now,
        expires_at: new Date(now.getTime() + loginTtlSeconds * 1000),
      });
      const url = new URL(metadata.authorization_endpoint);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('client_id', provider.clientId);
      url.searchParams.set('redirect_uri', redirectUri);
      url.searchParams.set('scope', provider.scopes);
      url.searchParams.set('state', state);
      url.searchParams.set('nonce', nonce);
      url.searchParams.set('code_challenge', createHash('sha256').update(codeVerifier).digest('base64url'));
      url.searchParams.set('code_challenge_method', 'S256');
      return { location: url.toString(), state, maxAgeSeconds: loginTtlSeconds };
    },

    /** Ends a sign-in at the callback: a session, or a refusal that says why. Never both. */
    async finish(input: {
      state: string | undefined;
      code: string | undefined;
      error: string | undefined;
      errorDescription: string | undefined;
      cookieState: string | undefined;
      ip: string;
      userAgent: string | null;
    }): Promise<SignInResult> {
      const { state } = input;
      if (!state)
        return refuse(400, 'missing_state', 'The sign-in answer has no state. Start signing in again.');
      if (input.cookieState !== state)
        return refuse(
          400,
          'state_mismatch',
          'This sign-in was not started in this browser, or took too long. Start signing in again.',
        );
      const login = await repo.takeLogin(db, sha256(state));
      if (!login)
        return refuse(
          400,
          'unknown_state',
          'This sign-in was already used or never started. Start signing in again.',
        );
      if (login.expires_at <= clock.now())
        return refuse(400, 'expired', 'This sign-in took too long. Start signing in again.');
      if (input.error) {
        const said = `${input.error}${input.errorDescription ? `: ${input.errorDescription}` : ''}`.slice(
          0,
          300,
        );
        return refuse(403, 'provider_refused', `The identity provider did not sign you in (${said}).`);
      }
      if (!input.code)
        return refuse(400, 'missing_code', 'The sign-in answer has no code. Start signing in again.');
      const provider = await providers.forSignIn(login.provider_id);
      if (!provider || provider.workspaceId !== login.workspace_id)
        return refuse(
          400,
          'provider_gone',
          'This identity provider was removed from Herald while you signed in.',
        );

      let claims: Awaited<ReturnType<OidcClient['verifyIdToken']>>;
      try {
        const metadata = await client.discover(provider.issuer);
        const idToken = await client.exchangeCode({
          metadata,
          clientId: provider.clientId,
          clientSecret: provider.clientSecret,
          clientAuthMethod: provider.clientAuthMethod,
          code: input.code,
          redirectUri,
          codeVerifier: login.code_verifier,
        });
        claims = await client.verifyIdToken({
          idToken,
          metadata,
          clientId: provider.clientId,
          nonce: login.nonce,
        });
      } catch (error) {
        if (error instanceof IdTokenRejected)
          return refuse(403, 'id_token_invalid', `Sign-in refused: ${error.message}.`);
        if (error instanceof OidcProviderError)
          return refuse(
            502,
            'provider_error',
            `The identity provider failed: ${error.message}. Try again later.`,
          );
        throw error;
      }

      if (typeof claims.email !== 'string' || !claims.email.includes('@'))
        return refuse(403, 'email_missing', 'The identity provider did not share your email address.');
      if (claims.email_verified !== true)
        return refuse(
          403,
          'email_unverified',
          'Your email address is not verified at the identity provider.',
        );
      const email = claims.email.toLowerCase();
      const domain = email.slice(email.lastIndexOf('@') + 1);
      if (provider.allowedDomains.length > 0 && !provider.allowedDomains.includes(domain))
        return refuse(403, 'domain_not_allowed', `Addresses at ${domain} may not sign in to this workspace.`);

      const session = await sessions.start(
        {
          workspaceId: provider.workspaceId,
          email,
          subject: String(claims.sub),
          issuer: provider.issuer,
          name: typeof claims.name === 'string' ? claims.name.slice(0, 200) : null,
        },
        { provision: provider.provisionUsers, ip: input.ip, userAgent: input.userAgent },
      );
      if (!session.ok) return refuse(403, 'user_refused', session.reason);
      return session;
    },
  };
}

export type OidcSignIn = ReturnType<typeof createOidcSignIn>;
