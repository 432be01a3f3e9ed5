import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, PageOf, responses } from '../../http/schemas.js';
import {
  TransportCreateBody,
  TransportListQuery,
  TransportPatchBody,
  TransportSchema,
  TransportTestBody,
  TransportTestResult,
} from './transports.schemas.js';
import type { TransportService } from './transports.service.js';

export function transportsRoutes(deps: { transports: TransportService }): FastifyPluginAsyncTypebox {
  const { transports } = deps;
  const tags = ['transports'];
  return async (app) => {
    app.get(
      '/v1/transports',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags,
          summary: 'List transports',
          querystring: TransportListQuery,
          response: responses({ 200: PageOf(TransportSchema) }),
        },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        return transports.list(principalOf(request).workspaceId, { cursor, limit: limit ?? 100 });
      },
    );

    app.post(
      '/v1/transports',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Create a transport',
          description:
            'Settings are checked per type (400 TRANSPORT_INVALID); secrets are stored encrypted and never returned. ' +
            'is_default: true takes the default flag from the previous default (one per workspace, also under ' +
            'concurrent requests: the last to commit wins).',
          body: TransportCreateBody,
          response: responses({ 201: TransportSchema }),
        },
      },
      async (request, reply) =>
        reply.code(201).send(await transports.create(principalOf(request).workspaceId, request.body)),
    );

    app.get(
      '/v1/transports/:id',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags,
          summary: 'Get a transport',
          params: IdParams,
          response: responses({ 200: TransportSchema }),
        },
      },
      async (request) => transports.get(principalOf(request).workspaceId, request.params.id),
    );

    app.patch(
      '/v1/transports/:id',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Change a transport',
          description:
            'settings and secrets are merged (null removes a key); the type cannot change. is_default: true ' +
            'takes the default flag from the previous default. is_default: false on the default is refused ' +
            'with 409 TRANSPORT_IN_USE while unfinished campaigns name no transport (they would go to the ' +
            '.eml outbox).',
          params: IdParams,
          body: TransportPatchBody,
          response: responses({ 200: TransportSchema }),
        },
      },
      async (request) => transports.update(principalOf(request).workspaceId, request.params.id, request.body),
    );

    app.delete(
      '/v1/transports/:id',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Delete a transport',
          description:
            'Refused with 409 TRANSPORT_IN_USE while an unfinished campaign (draft, scheduled, sending, paused) ' +
            'sends through it: by transport_id, or by naming none when it is the default. The error names them.',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await transports.remove(principalOf(request).workspaceId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/v1/transports/:id/test',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Send a test message through a transport',
          description:
            'Answers 200 either way: delivered with the provider message id, or the classified error.',
          params: IdParams,
          body: TransportTestBody,
          response: responses({ 200: TransportTestResult }),
        },
      },
      async (request) =>
        transports.sendTest(principalOf(request).workspaceId, request.params.id, request.body),
    );
  };
}
