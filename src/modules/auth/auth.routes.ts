import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, PageOf, PageQuery, responses } from '../../http/schemas.js';
import type { WorkspaceService } from '../workspaces/index.js';
import type { ApiKeyService } from './api-keys.service.js';
import {
  ApiKeySchema,
  CreateApiKeyBody,
  CreatedApiKeySchema,
  UpdateWorkspaceBody,
  WorkspaceSchema,
} from './auth.schemas.js';

export function authRoutes(deps: {
  apiKeys: ApiKeyService;
  workspaces: WorkspaceService;
}): FastifyPluginAsyncTypebox {
  const { apiKeys, workspaces } = deps;
  return async (app) => {
    app.get(
      '/v1/workspace',
      {
        config: { scope: 'contacts:read' },
        schema: {
          tags: ['workspace'],
          summary: 'The workspace of the calling API key',
          response: responses({ 200: WorkspaceSchema }),
        },
      },
      async (request) => workspaces.get(principalOf(request).workspaceId),
    );

    app.patch(
      '/v1/workspace',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['workspace'],
          summary: 'Change the workspace: name, time zone, sending policy, hygiene, postal address',
          description:
            'Fields left out keep their value. Frequency caps and quiet hours apply to marketing email from campaigns and automations from their next send on; transactional email is exempt. A campaign recipient over a cap is skipped (send status skipped, error frequency_cap); an automation email over a cap or in quiet hours waits until it is allowed; a campaign recipient in quiet hours waits until they end.',
          body: UpdateWorkspaceBody,
          response: responses({ 200: WorkspaceSchema }),
        },
      },
      async (request) => workspaces.update(principalOf(request).workspaceId, request.body),
    );

    app.get(
      '/v1/api-keys',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['api-keys'],
          summary: 'List API keys (never their secrets)',
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: responses({ 200: PageOf(ApiKeySchema) }),
        },
      },
      async (request) =>
        apiKeys.list(principalOf(request).workspaceId, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );

    app.post(
      '/v1/api-keys',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['api-keys'],
          summary: 'Create an API key',
          description:
            'The secret is returned once, in this response. A key cannot grant scopes its creator lacks.',
          body: CreateApiKeyBody,
          response: responses({ 201: CreatedApiKeySchema }),
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const key = await apiKeys.create({
          workspaceId: principal.workspaceId,
          name: request.body.name,
          scopes: request.body.scopes,
          creator: principal,
        });
        return reply.code(201).send(key);
      },
    );

    app.get(
      '/v1/api-keys/:id',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['api-keys'],
          summary: 'Get an API key',
          params: IdParams,
          response: responses({ 200: ApiKeySchema }),
        },
      },
      async (request) => apiKeys.get(principalOf(request).workspaceId, request.params.id),
    );

    app.delete(
      '/v1/api-keys/:id',
      {
        config: { scope: 'admin', audit: 'api_key.revoke' },
        schema: {
          tags: ['api-keys'],
          summary: 'Revoke an API key',
          description: 'Takes effect at once. Revoking a revoked key returns it unchanged.',
          params: IdParams,
          response: responses({ 200: ApiKeySchema }),
        },
      },
      async (request) => apiKeys.revoke(principalOf(request).workspaceId, request.params.id),
    );
  };
}
