import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type ApiKeyService, grants, type Principal, SCOPES, type Scope } from '../modules/auth/index.js';
import { type AuthenticatedSession, readSessionCookie, type UserService } from '../modules/users/index.js';
import { problem, sendProblem } from './problem.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope an API key needs for this route. Every route has one unless it is public. */
    scope?: Scope;
    /** Reachable without an API key (health, docs, signed-token endpoints). */
    public?: boolean;
    /**
     * Also accepts the key as HTTP Basic user name with an empty password, as
     * Segment's libraries send their write key (the event ingestion routes).
     */
    basicAuth?: boolean;
    /**
     * Reachable by any signed-in user (session cookie), whatever their role:
     * their own session, password and second factor. API keys are refused.
     */
    session?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | undefined;
    /** The sign-in session of a request authenticated by cookie. */
    userSession: AuthenticatedSession | undefined;
  }
}

/** The session of a `config.session` route (or any cookie-authenticated request). */
export function sessionOf(request: FastifyRequest): AuthenticatedSession {
  if (!request.userSession) throw new Error('sessionOf called on a request without a session');
  return request.userSession;
}

/** Methods that change something: with a cookie they need the CSRF token. */
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The principal of an authenticated route; only call from routes that declare a scope. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('principalOf called on a public route');
  return request.principal;
}

/**
 * Authenticates every request by its route's declared scope. Routes must say
 * `config.scope`, `config.session` or `config.public`: a route that says none
 * fails at start-up, so no endpoint is left open by omission.
 *
 * A request authenticates with an API key (Authorization header) or, without
 * that header, with a sign-in session cookie; a cookie-authenticated write
 * must carry the session's CSRF token, and an Origin, when sent, must be
 * HERALD_PUBLIC_URL's.
 */
export const authPlugin = fp<{
  apiKeys: ApiKeyService;
  accessTokens?: AccessTokenAuthenticator;
  sessions: Pick<UserService, 'authenticate'>;
  publicOrigin: string;
}>(async (app: FastifyInstance, { apiKeys, accessTokens, sessions, publicOrigin }) => {
  app.decorateRequest('principal', undefined);
  app.decorateRequest('userSession', undefined);

  app.addHook('onRoute', (route) => {
    const config = route.config as { scope?: Scope; public?: boolean; session?: boolean } | undefined;
    if (!config?.public && !config?.scope && !config?.session) {
      throw new Error(
        `Route ${route.method} ${route.url} declares none of config.scope, config.session, config.public`,
      );
    }
    if (config.scope && !(config.scope in SCOPES)) {
      throw new Error(`Route ${route.method} ${route.url} declares unknown scope ${config.scope}`);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    if (config.public || !request.routeOptions.url) return;
    const header = request.headers.authorization;
    const cookie = header ? undefined : readSessionCookie(request.headers.cookie);
    if (cookie) {
      const session = await sessions.authenticate(cookie);
      if (!session) {
        return sendProblem(
          reply,
          problem(
            request,
            'UNAUTHENTICATED',
            'The session has ended (signed out, expired, idle too long, or no longer a member): sign in again with POST /v1/session.',
          ),
        );
      }
      if (WRITE_METHODS.has(request.method)) {
        const origin = request.headers.origin;
        if (origin !== undefined && origin !== publicOrigin) {
          return sendProblem(
            reply,
            problem(
              request,
              'CSRF_FAILED',
              `A request from a page of origin ${origin} is refused: only ${publicOrigin} (HERALD_PUBLIC_URL) may write with the session cookie.`,
            ),
          );
        }
        const token = request.headers['x-csrf-token'];
        if (typeof token !== 'string' || !sameText(token, session.csrfToken)) {
          return sendProblem(
            reply,
            problem(
              request,
              'CSRF_FAILED',
              token === undefined
                ? 'A write request signed in by cookie needs the header X-CSRF-Token with the csrf_token from POST /v1/session (or GET /v1/session).'
                : 'The X-CSRF-Token header does not match this session: take csrf_token from GET /v1/session.',
            ),
          );
        }
      }
      request.principal = session.principal;
      request.userSession = session;
      const needed = config.scope;
      if (needed && !grants(session.principal.scopes, needed)) {
        return sendProblem(
          reply,
          problem(
            request,
            'FORBIDDEN',
            `Your role (${session.role}) lacks the scope "${needed}" that this endpoint requires.`,
          ),
        );
      }
      return;
    }
    const secret = header ? presentedKey(header, config.basicAuth === true) : undefined;
    if (!secret) {
      return sendProblem(
        reply,
        problem(
          request,
          'UNAUTHENTICATED',
          config.basicAuth
            ? 'Send an API key as "Authorization: Bearer <key>", or as HTTP Basic user name with an empty password (a Segment write key).'
            : 'Send an API key in the header "Authorization: Bearer <key>", or sign in (POST /v1/session) and send the session cookie.',
        ),
      );
    }
    // API keys start with hk_; anything else may be an OAuth access token (a JWT).
    const isApiKey = secret.startsWith('hk_');
    const principal = isApiKey
      ? await apiKeys.authenticate(secret)
      : await accessTokens?.authenticate(secret);
    if (!principal) {
      return sendProblem(
        reply,
        problem(
          request,
          'UNAUTHENTICATED',
          isApiKey || !accessTokens
            ? 'The API key is unknown or has been revoked.'
            : 'The access token is not valid: tampered, expired, or its OAuth client was revoked. Get a new one at POST /oauth/token.',
        ),
      );
    }
    request.principal = principal;
    if (config.session) {
      return sendProblem(
        reply,
        problem(
          request,
          'SESSION_REQUIRED',
          'This endpoint acts on a signed-in user (their session, password or second factor): API keys cannot use it.',
        ),
      );
    }
    const needed = config.scope;
    if (needed && !grants(principal.scopes, needed)) {
      return sendProblem(
        reply,
        problem(
          request,
          'FORBIDDEN',
          `This ${principal.actor.type === 'oauth_client' ? 'access token' : 'API key'} lacks the scope "${needed}" that this endpoint requires.`,
        ),
      );
    }
  });
});

/** Checks OAuth access tokens (modules/oauth); undefined for any token that does not authenticate. */
export interface AccessTokenAuthenticator {
  authenticate(token: string): Promise<Principal | undefined>;
}

/** The key in an Authorization header: Bearer, or (where allowed) Basic with the key as user name. */
function presentedKey(header: string, basic: boolean): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer?.[1]) return bearer[1];
  if (!basic) return undefined;
  const encoded = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)?.[1];
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const user = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
  return user.length > 0 ? user : undefined;
}

/** Who made an API change, for the consent ledger: the key, and the caller's address and user agent. */
export function apiOrigin(request: FastifyRequest): {
  source: 'api';
  sourceId: string;
  ip: string;
  userAgent: string | null;
} {
  return {
    source: 'api',
    sourceId: principalOf(request).actor.id,
    ip: request.ip,
    userAgent: request.headers['user-agent']?.slice(0, 500) ?? null,
  };
}
