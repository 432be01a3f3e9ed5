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
        // High-volume transactional sending: the messages table is its own record.
        config: { scope: 'messages:send', audit: false },
        schema: {
          tags,
          summary: 'Send a transactional message',
          description:
            'Accepted durably and sent in the background (202). The same request again with its idempotency_key ' +
            'returns the first message (200) and sends nothing; a different request (to, template_id or inline, ' +
            'data, sender, reply_to, transport_id) with a used key is refused with 409 IDEMPOTENCY_KEY_REUSED. ' +
            "Inline content is Liquid and may render the workspace's snippets; errors are 400 TEMPLATE_INVALID " +
            'with line and column.',
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
