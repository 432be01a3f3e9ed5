import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, responses } from '../../http/schemas.js';
import { MessageCreateBody, MessageSchema } from './messages.schemas.js';
import type { MessageService } from './messages.service.js';

export function messagesRoutes(deps: { messages: MessageService }): FastifyPluginAsyncTypebox {
  const { messages } = deps;
  const tags = ['messages'];
  return async (app) => {
    app.post(
      '/v1/messages',
      {
        config: { scope: 'messages:send' },
        schema: {
          tags,
          summary: 'Send a transactional message',
          description:
            'Accepted durably and sent in the background (202). With an idempotency_key already used, the first message is returned (200) and nothing is sent again.',
          body: MessageCreateBody,
          response: responses({ 200: MessageSchema, 202: MessageSchema }),
        },
      },
      async (request, reply) => {
        const { message, created } = await messages.accept(principalOf(request).workspaceId, request.body);
        return reply.code(created ? 202 : 200).send(message);
      },
    );

    app.get(
      '/v1/messages/:id',
      {
        config: { scope: 'messages:send' },
        schema: {
          tags,
          summary: 'Get a transactional message and its status',
          params: IdParams,
          response: responses({ 200: MessageSchema }),
        },
      },
      async (request) => messages.get(principalOf(request).workspaceId, request.params.id),
    );
  };
}
