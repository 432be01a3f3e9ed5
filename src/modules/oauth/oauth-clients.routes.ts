import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, PageOf, PageQuery, ProblemRef, responses } from '../../http/schemas.js';
import {
  CreatedOAuthClientSchema,
  CreateOAuthClientBody,
  OAuthClientSchema,
  OAuthErrorSchema,
  TokenRequestBody,
  TokenResponseSchema,
} from './oauth.schemas.js';
import { type OAuthClientService, OAuthError } from './oauth-clients.service.js';

/** Client management under /v1/oauth/clients and the token endpoint POST /oauth/token. */
export function oauthClientsRoutes(deps: { clients: OAuthClientService }): FastifyPluginAsyncTypebox {
  const { clients } = deps;
  return async (app) => {
    app.get(
      '/v1/oauth/clients',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['oauth'],
          summary: 'List OAuth clients (never their secrets)',
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: responses({ 200: PageOf(OAuthClientSchema) }),
        },
      },
      async (request) =>
        clients.list(principalOf(request).workspaceId, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );

    app.post(
      '/v1/oauth/clients',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['oauth'],
          summary: 'Create an OAuth client (client credentials grant)',
          description:
            'The client_secret is returned once, in this response. A client cannot hold scopes its creator lacks. ' +
            'The client exchanges its credentials for short-lived access tokens at POST /oauth/token.',
          body: CreateOAuthClientBody,
          response: responses({ 201: CreatedOAuthClientSchema }),
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const created = await clients.create({
          workspaceId: principal.workspaceId,
          name: request.body.name,
          scopes: request.body.scopes,
          creator: principal,
        });
        return reply.code(201).send(created);
      },
    );

    app.get(
      '/v1/oauth/clients/:id',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['oauth'],
          summary: 'Get an OAuth client',
          params: IdParams,
          response: responses({ 200: OAuthClientSchema }),
        },
      },
      async (request) => clients.get(principalOf(request).workspaceId, request.params.id),
    );

    app.delete(
      '/v1/oauth/clients/:id',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['oauth'],
          summary: 'Revoke an OAuth client',
          description:
            'Takes effect at once: no new tokens, and tokens already issued stop working. Revoking twice returns the client unchanged.',
          params: IdParams,
          response: responses({ 200: OAuthClientSchema }),
        },
      },
      async (request) => clients.revoke(principalOf(request).workspaceId, request.params.id),
    );

    // The token endpoint speaks OAuth, not Herald's problem+json: its own body
    // parser (forms, where a repeated parameter is an error) and error shape.
    app.register(async (token) => {
      token.addContentTypeParser(
        'application/x-www-form-urlencoded',
        { parseAs: 'string', bodyLimit: 16 * 1024 },
        (_request, body, done) => {
          const params = new URLSearchParams(body as string);
          const form: Record<string, string | string[]> = {};
          for (const name of new Set(params.keys())) {
            const values = params.getAll(name);
            form[name] = values.length === 1 ? (values[0] as string) : values;
          }
          done(null, form);
        },
      );

      token.post(
        '/oauth/token',
        {
          config: { public: true },
          attachValidation: true,
          schema: {
            tags: ['oauth'],
            summary: 'Get an access token (OAuth 2.0 client credentials grant, RFC 6749 §4.4)',
            description:
              'Authenticate the client with HTTP Basic (client_id:client_secret) or client_id and client_secret in the body, ' +
              'not both. The body is application/x-www-form-urlencoded or JSON. Errors are RFC 6749 §5.2 JSON: ' +
              'invalid_client (401), invalid_request, unsupported_grant_type, invalid_scope (400).',
            consumes: ['application/x-www-form-urlencoded', 'application/json'],
            body: TokenRequestBody,
            // A body Fastify cannot parse (malformed JSON, another media type) is refused before the
            // handler, as problem+json like every other route.
            response: {
              200: TokenResponseSchema,
              400: Type.Union([OAuthErrorSchema, ProblemRef]),
              401: OAuthErrorSchema,
              413: ProblemRef,
              415: ProblemRef,
              429: ProblemRef,
            },
          },
        },
        async (request, reply) => {
          // Tokens and refusals must never be cached (RFC 6749 §5.1).
          reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
          try {
            if (request.validationError) {
              throw new OAuthError(
                'invalid_request',
                'Send the parameters as an application/x-www-form-urlencoded or JSON object of strings, each once.',
              );
            }
            const body = request.body as Record<string, unknown>;
            const repeated = Object.keys(body).filter((name) => Array.isArray(body[name]));
            if (repeated.length > 0)
              throw new OAuthError(
                'invalid_request',
                `Parameter sent more than once: ${repeated.join(', ')}.`,
              );
            const grantType = body.grant_type;
            if (typeof grantType !== 'string' || grantType === '')
              throw new OAuthError(
                'invalid_request',
                'grant_type is missing; Herald supports client_credentials.',
              );
            if (grantType !== 'client_credentials')
              throw new OAuthError(
                'unsupported_grant_type',
                `grant_type "${grantType.slice(0, 100)}" is not supported; use client_credentials.`,
              );
            const credentials = clientCredentials(request.headers.authorization, body);
            const issued = await clients.issueToken({
              ...credentials,
              scope: typeof body.scope === 'string' ? body.scope : undefined,
            });
            return reply.code(200).send(issued);
          } catch (error) {
            if (error instanceof OAuthError) return sendOAuthError(reply, error);
            throw error;
          }
        },
      );
    });
  };
}

function sendOAuthError(reply: FastifyReply, error: OAuthError): FastifyReply {
  if (error.status === 401) reply.header('www-authenticate', 'Basic realm="herald", charset="UTF-8"');
  return reply.code(error.status).send({ error: error.error, error_description: error.description });
}

/** The client's credentials from HTTP Basic or the body (RFC 6749 §2.3.1); exactly one of the two. */
function clientCredentials(
  header: string | undefined,
  body: Record<string, unknown>,
): { clientId: string; clientSecret: string } {
  const bodyId = typeof body.client_id === 'string' ? body.client_id : undefined;
  const bodySecret = typeof body.client_secret === 'string' ? body.client_secret : undefined;
  if (header !== undefined) {
    const encoded = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)?.[1];
    if (!encoded)
      throw new OAuthError(
        'invalid_client',
        'The Authorization header is not HTTP Basic client authentication.',
      );
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0)
      throw new OAuthError('invalid_client', 'HTTP Basic credentials need client_id:client_secret.');
    const clientId = formDecode(decoded.slice(0, colon));
    const clientSecret = formDecode(decoded.slice(colon + 1));
    if (clientId === undefined || clientSecret === undefined)
      throw new OAuthError('invalid_client', 'HTTP Basic credentials are not form-encoded correctly.');
    if (bodySecret !== undefined)
      throw new OAuthError(
        'invalid_request',
        'Authenticate with HTTP Basic or client_secret in the body, not both.',
      );
    if (bodyId !== undefined && bodyId !== clientId)
      throw new OAuthError('invalid_request', 'client_id in the body differs from the HTTP Basic user name.');
    return { clientId, clientSecret };
  }
  if (bodyId === undefined || bodySecret === undefined)
    throw new OAuthError(
      'invalid_client',
      'Client authentication is missing: send HTTP Basic client_id:client_secret, or client_id and client_secret in the body.',
    );
  return { clientId: bodyId, clientSecret: bodySecret };
}

/** RFC 6749 §2.3.1: Basic credentials are form-encoded before base64. */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}
