import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { escapeHtml, htmlPage, sendHtml } from '../../http/public-page.js';
import { IdParams, PageOf, PageQuery, responses } from '../../http/schemas.js';
import { CreateOidcProviderBody, OidcProviderSchema, UpdateOidcProviderBody } from './oidc.schemas.js';
import { OidcProviderError } from './oidc-client.js';
import type { OidcProviderService } from './oidc-providers.service.js';
import { type OidcSignIn, STATE_COOKIE } from './oidc-sign-in.service.js';

const Html = Type.String({ description: 'A minimal HTML page.' });

/** OpenID Connect providers (/v1/oauth/oidc-providers) and the browser sign-in (/auth/oidc/...). */
export function oidcRoutes(deps: {
  providers: OidcProviderService;
  signIn: OidcSignIn;
  /** Cookies get Secure when Herald is reached over https. */
  secureCookies: boolean;
}): FastifyPluginAsyncTypebox {
  const { providers, signIn, secureCookies } = deps;
  const stateCookie = (value: string, maxAge: number) =>
    `${STATE_COOKIE}=${value}; Path=/auth/oidc; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secureCookies ? '; Secure' : ''}`;

  return async (app) => {
    const tags = ['oidc'];
    app.get(
      '/v1/oauth/oidc-providers',
      {
        config: { scope: 'admin' },
        schema: {
          tags,
          summary: 'List OpenID Connect providers (never their client secrets)',
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: responses({ 200: PageOf(OidcProviderSchema) }),
        },
      },
      async (request) =>
        providers.list(principalOf(request).workspaceId, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );

    app.post(
      '/v1/oauth/oidc-providers',
      {
        config: { scope: 'admin' },
        schema: {
          tags,
          summary: 'Add an OpenID Connect provider for sign-in',
          description:
            "Register redirect_uri (in the response) with the provider as the client's redirect URI, then send people to start_url. " +
            'The client secret is stored encrypted and never returned.',
          body: CreateOidcProviderBody,
          response: responses({ 201: OidcProviderSchema }),
        },
      },
      async (request, reply) =>
        reply.code(201).send(await providers.create(principalOf(request).workspaceId, request.body)),
    );

    app.get(
      '/v1/oauth/oidc-providers/:id',
      {
        config: { scope: 'admin' },
        schema: {
          tags,
          summary: 'Get an OpenID Connect provider',
          params: IdParams,
          response: responses({ 200: OidcProviderSchema }),
        },
      },
      async (request) => providers.get(principalOf(request).workspaceId, request.params.id),
    );

    app.patch(
      '/v1/oauth/oidc-providers/:id',
      {
        config: { scope: 'admin' },
        schema: {
          tags,
          summary: 'Change an OpenID Connect provider',
          description: 'Fields left out keep their value.',
          params: IdParams,
          body: UpdateOidcProviderBody,
          response: responses({ 200: OidcProviderSchema }),
        },
      },
      async (request) => providers.update(principalOf(request).workspaceId, request.params.id, request.body),
    );

    app.delete(
      '/v1/oauth/oidc-providers/:id',
      {
        config: { scope: 'admin' },
        schema: {
          tags,
          summary: 'Remove an OpenID Connect provider',
          description:
            'Sign-ins in progress through it fail at their callback; sessions already started stay.',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await providers.remove(principalOf(request).workspaceId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/auth/oidc/:providerId/start',
      {
        config: { public: true },
        schema: {
          tags,
          summary: 'Start signing in through an OpenID Connect provider',
          description:
            "Redirects (302) to the provider's authorization endpoint with state, nonce and a PKCE S256 code challenge, " +
            'and sets an HttpOnly cookie that ties the callback to this browser. Unknown providers answer 404.',
          params: Type.Object(
            { providerId: Type.String({ format: 'uuid' }) },
            { additionalProperties: false },
          ),
          response: { 404: Html, 502: Html },
        },
      },
      async (request, reply) => {
        let started: Awaited<ReturnType<OidcSignIn['start']>>;
        try {
          started = await signIn.start(request.params.providerId);
        } catch (error) {
          if (!(error instanceof OidcProviderError)) throw error;
          request.log.warn({ err: error.message }, 'OpenID Connect discovery failed');
          return sendHtml(
            reply,
            502,
            htmlPage(
              'Sign-in unavailable',
              '<p>The identity provider cannot be reached. Please try again later.</p>',
            ),
          );
        }
        if (!started)
          return sendHtml(
            reply,
            404,
            htmlPage(
              'Sign-in not found',
              '<p>There is no such sign-in. Please use the link your administrator gave you.</p>',
            ),
          );
        return reply
          .header('set-cookie', stateCookie(started.state, started.maxAgeSeconds))
          .header('cache-control', 'no-store')
          .header('referrer-policy', 'no-referrer')
          .redirect(started.location, 302);
      },
    );

    app.get(
      '/auth/oidc/callback',
      {
        config: { public: true },
        schema: {
          tags,
          summary: 'Where the OpenID Connect provider sends the browser back',
          description:
            "Exchanges the code (with the PKCE verifier) at the token endpoint, verifies the ID token (signature by the provider's JWKS, " +
            'issuer, audience, expiry, nonce), requires a verified email in an allowed domain, and starts a Herald session (its cookie). ' +
            'A state works once. Refusals are pages that say why: 400 (start again), 403 (not allowed), 502 (provider failed).',
          // Providers add parameters of their own (iss, session_state): they are ignored.
          querystring: Type.Object(
            {
              state: Type.Optional(Type.String({ maxLength: 200 })),
              code: Type.Optional(Type.String({ maxLength: 2000 })),
              error: Type.Optional(Type.String({ maxLength: 200 })),
              error_description: Type.Optional(Type.String({ maxLength: 1000 })),
            },
            { additionalProperties: true },
          ),
          response: { 200: Html, 400: Html, 403: Html, 502: Html },
        },
      },
      async (request, reply) => {
        const result = await signIn.finish({
          state: request.query.state,
          code: request.query.code,
          error: request.query.error,
          errorDescription: request.query.error_description,
          cookieState: cookie(request, STATE_COOKIE),
          ip: request.ip,
          userAgent: request.headers['user-agent']?.slice(0, 500) ?? null,
        });
        // The state is spent either way.
        const cookies = [stateCookie('', 0)];
        if (!result.ok) {
          request.log.info({ reason: result.reason }, 'OpenID Connect sign-in refused');
          reply.header('set-cookie', cookies);
          return sendHtml(
            reply,
            result.status,
            htmlPage('Sign-in refused', `<p>${escapeHtml(result.message)}</p>`),
          );
        }
        reply.header('set-cookie', [...cookies, ...result.setCookie]);
        return sendHtml(
          reply,
          200,
          htmlPage('Signed in', '<p>You are signed in to Herald. You can close this page.</p>'),
        );
      },
    );
  };
}

/** One cookie's value from the Cookie header. */
function cookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
