import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type ApiKeyService, grants, type Principal, SCOPES, type Scope } from '../modules/auth/index.js';
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
  }
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

/** The principal of an authenticated route; only call from routes that declare a scope. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('principalOf called on a public route');
  return request.principal;
}

/**
 * Authenticates every request by its route's declared scope. Routes must say
 * either `config.scope` or `config.public`: a route that says neither fails at
 * start-up, so no endpoint is left open by omission.
 */
export const authPlugin = fp<{ apiKeys: ApiKeyService; accessTokens?: AccessTokenAuthenticator }>(
  async (app: FastifyInstance, { apiKeys, accessTokens }) => {
    app.decorateRequest('principal', undefined);

    app.addHook('onRoute', (route) => {
      const config = route.config as { scope?: Scope; public?: boolean } | undefined;
      if (!config?.public && !config?.scope) {
        throw new Error(`Route ${route.method} ${route.url} declares neither config.scope nor config.public`);
      }
      if (config.scope && !(config.scope in SCOPES)) {
        throw new Error(`Route ${route.method} ${route.url} declares unknown scope ${config.scope}`);
      }
    });

    app.addHook('onRequest', async (request, reply) => {
      const config = request.routeOptions.config;
      if (config.public || !request.routeOptions.url) return;
      const header = request.headers.authorization;
      const secret = header ? presentedKey(header, config.basicAuth === true) : undefined;
      if (!secret) {
        return sendProblem(
          reply,
          problem(
            request,
            'UNAUTHENTICATED',
            config.basicAuth
              ? 'Send an API key as "Authorization: Bearer <key>", or as HTTP Basic user name with an empty password (a Segment write key).'
              : 'Send an API key in the header "Authorization: Bearer <key>".',
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
  },
);

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
