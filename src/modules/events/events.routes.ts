import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { apiOrigin, principalOf } from '../../http/auth.js';
import { IdParams, PageOf, PageQuery, responses, Timestamp } from '../../http/schemas.js';
import { DomainError } from '../../lib/errors.js';
import {
  BatchBody,
  BatchResult,
  IdentifyBody,
  IngestResult,
  PageBody,
  ScreenBody,
  TrackBody,
} from './events.schemas.js';
import type { EventService } from './events.service.js';

const RecordedEventSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    type: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    source: Type.String({
      description: 'api, or herald for the events Herald records (segment.entered/exited).',
    }),
    occurred_at: Timestamp,
    received_at: Timestamp,
    message_id: Type.String(),
    user_id: Type.Union([Type.String(), Type.Null()]),
    anonymous_id: Type.Union([Type.String(), Type.Null()]),
    properties: Type.Object({}, { additionalProperties: true }),
  },
  { title: 'RecordedEvent' },
);

export function eventsRoutes(deps: {
  events: EventService;
  /** Requests per minute per API key to each ingestion route. */
  rateLimitPerMinute: number;
  /** Largest /v1/batch body. */
  batchMaxBytes: number;
}): FastifyPluginAsyncTypebox {
  const { events } = deps;
  const tags = ['events'];
  const config = {
    scope: 'events:write',
    basicAuth: true,
    // High-volume ingestion: the events table is its own record.
    audit: false,
    rateLimit: { max: deps.rateLimitPerMinute, timeWindow: 60_000 },
  } as const;
  const auth =
    'Authenticate with an API key holding `events:write` (the write key): `Authorization: Bearer <key>`, or as ' +
    'Segment sends it, HTTP Basic with the key as user name and an empty password.';

  return async (app) => {
    const single = [
      [
        'track',
        TrackBody,
        'Record an event (Segment track)',
        'Matched to a contact by userId (external_id, else email), context.traits.email or a known anonymousId; else kept until an identify names the sender.',
      ],
      [
        'identify',
        IdentifyBody,
        'Identify a person (Segment identify)',
        'With traits.email, creates or updates the contact through the contact rules (userId becomes its external_id); without, updates the contact the userId or anonymousId already names. Other traits become attributes. Earlier events of the anonymousId (and userId) are attached to the contact.',
      ],
      ['page', PageBody, 'Record a page view (Segment page)', 'Stored as a page event named by `name`.'],
      [
        'screen',
        ScreenBody,
        'Record a screen view (Segment screen)',
        'Stored as a screen event named by `name`.',
      ],
    ] as const;
    for (const [type, body, summary, description] of single) {
      app.post(
        `/v1/${type}`,
        {
          config,
          schema: {
            tags,
            summary,
            description: `${description} A retry with the same messageId is stored once. ${auth}`,
            body,
            response: responses({ 200: IngestResult }),
          },
        },
        async (request: FastifyRequest) => {
          const outcome = await events.ingest(principalOf(request).workspaceId, [request.body], {
            origin: apiOrigin(request),
            type,
            pathPrefix: '',
          });
          if (outcome.rejected > 0) {
            throw new DomainError(
              'VALIDATION_FAILED',
              `The event is invalid: ${outcome.errors.map((e) => `${e.path || '/'}: ${e.message}`).join('; ')}`,
              outcome.errors.map((e) => ({ path: e.path, message: e.message })),
            );
          }
          return { success: true, duplicate: outcome.duplicates > 0 };
        },
      );
    }

    app.post(
      '/v1/batch',
      {
        config,
        bodyLimit: deps.batchMaxBytes,
        schema: {
          tags,
          summary: 'Record many events at once (Segment batch)',
          description:
            `Up to 500 track, identify, page and screen calls in \`batch\`, each with its \`type\`, in a body of at most ${Math.round(deps.batchMaxBytes / 1024)} KB. ` +
            'Each event is checked on its own: bad ones are reported by index in `errors`, the good ones are stored (200). ' +
            'When none could be stored and at least one was bad, the answer is 400 with the same errors. ' +
            `Identify calls are applied first, in order, so the other events of the batch find the contacts they create. ${auth}`,
          body: BatchBody,
          response: responses({ 200: BatchResult }),
        },
      },
      async (request) => {
        const { batch, context, sentAt } = request.body;
        const outcome = await events.ingest(principalOf(request).workspaceId, batch, {
          origin: apiOrigin(request),
          batch: { context: context as Record<string, unknown> | undefined, sentAt },
        });
        if (outcome.rejected > 0 && outcome.accepted === 0 && outcome.duplicates === 0) {
          throw new DomainError(
            'VALIDATION_FAILED',
            `No event of the batch could be stored: ${outcome.errors
              .slice(0, 5)
              .map((e) => `${e.path}: ${e.message}`)
              .join('; ')}${outcome.errors.length > 5 ? '; ...' : ''}`,
            outcome.errors.map((e) => ({ path: e.path, message: e.message, index: e.index })),
          );
        }
        return outcome;
      },
    );

    app.get(
      '/v1/contacts/:id/events',
      {
        config: { scope: 'contacts:read' },
        schema: {
          tags,
          summary: "A contact's events, newest first",
          description:
            'Events sent for the contact (and attached to it on identify), and the segment.entered / segment.exited events Herald records.',
          params: IdParams,
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: responses({ 200: PageOf(RecordedEventSchema) }),
        },
      },
      async (request) =>
        events.listForContact(principalOf(request).workspaceId, request.params.id, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );
  };
}
