import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, PageOf, PageQuery, responses } from '../../http/schemas.js';
import {
  EvaluateBody,
  EvaluateSchema,
  ExplainQuery,
  ExplainSchema,
  SegmentContactSchema,
  SegmentCountSchema,
  SegmentCreateBody,
  SegmentListQuery,
  SegmentPatchBody,
  SegmentSchema,
} from './segments.schemas.js';
import type { SegmentService } from './segments.service.js';

const INVALID =
  'A bad definition is 400 SEGMENT_INVALID with one entry per problem in `errors`, each with the JSON pointer of the failing node (/definition/all/1/operator).';

export function segmentsRoutes(deps: { segments: SegmentService }): FastifyPluginAsyncTypebox {
  const { segments } = deps;
  const tags = ['segments'];
  return async (app) => {
    app.get(
      '/v1/segments',
      {
        config: { scope: 'segments:read' },
        schema: {
          tags,
          summary: 'List segments',
          querystring: SegmentListQuery,
          response: responses({ 200: PageOf(SegmentSchema) }),
        },
      },
      async (request) =>
        segments.list(principalOf(request).workspaceId, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );

    app.post(
      '/v1/segments',
      {
        config: { scope: 'segments:write' },
        schema: {
          tags,
          summary: 'Create a segment',
          description: `Saved segments are live: counts, previews and campaign audiences evaluate the definition when they run. ${INVALID}`,
          body: SegmentCreateBody,
          response: responses({ 201: SegmentSchema }),
        },
      },
      async (request, reply) =>
        reply.code(201).send(await segments.create(principalOf(request).workspaceId, request.body)),
    );

    app.post(
      '/v1/segments/evaluate',
      {
        config: { scope: 'segments:read' },
        schema: {
          tags,
          summary: 'Count and preview a definition without saving it',
          description: INVALID,
          body: EvaluateBody,
          response: responses({ 200: EvaluateSchema }),
        },
      },
      async (request) =>
        segments.evaluate(
          principalOf(request).workspaceId,
          request.body.definition,
          request.body.limit ?? 20,
        ),
    );

    app.get(
      '/v1/segments/:id',
      {
        config: { scope: 'segments:read' },
        schema: {
          tags,
          summary: 'Get a segment',
          params: IdParams,
          response: responses({ 200: SegmentSchema }),
        },
      },
      async (request) => segments.get(principalOf(request).workspaceId, request.params.id),
    );

    app.patch(
      '/v1/segments/:id',
      {
        config: { scope: 'segments:write' },
        schema: {
          tags,
          summary: 'Change a segment',
          description: `A new definition applies at once, also to campaigns that are sending to the segment. ${INVALID}`,
          params: IdParams,
          body: SegmentPatchBody,
          response: responses({ 200: SegmentSchema }),
        },
      },
      async (request) => segments.update(principalOf(request).workspaceId, request.params.id, request.body),
    );

    app.delete(
      '/v1/segments/:id',
      {
        config: { scope: 'segments:write' },
        schema: {
          tags,
          summary: 'Delete a segment',
          description:
            '409 SEGMENT_IN_USE while another segment names it or an unfinished campaign sends to it or excludes it.',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await segments.remove(principalOf(request).workspaceId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/v1/segments/:id/count',
      {
        config: { scope: 'segments:read' },
        schema: {
          tags,
          summary: 'How many contacts match now',
          description: 'Contacts of any status; campaigns send only to the active ones.',
          params: IdParams,
          response: responses({ 200: SegmentCountSchema }),
        },
      },
      async (request) => segments.count(principalOf(request).workspaceId, request.params.id),
    );

    app.get(
      '/v1/segments/:id/contacts',
      {
        config: { scope: 'segments:read' },
        schema: {
          tags,
          summary: 'The contacts matching now (preview), in id order',
          params: IdParams,
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: responses({ 200: PageOf(SegmentContactSchema) }),
        },
      },
      async (request) =>
        segments.contacts(principalOf(request).workspaceId, request.params.id, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );

    app.get(
      '/v1/segments/:id/explain',
      {
        config: { scope: 'admin' },
        schema: {
          tags,
          summary: 'The SQL a segment compiles to, with its parameters and plan',
          description:
            "For debugging slow segments: the count query (one aggregated subquery per condition on another table, hash-joined) and the per-contact shape campaign claims embed, each with PostgreSQL's EXPLAIN. Every value is a bound parameter. Admins only: parameters show the values of the definition.",
          params: IdParams,
          querystring: ExplainQuery,
          response: responses({ 200: ExplainSchema }),
        },
      },
      async (request) =>
        segments.explain(principalOf(request).workspaceId, request.params.id, request.query.analyze ?? false),
    );
  };
}
