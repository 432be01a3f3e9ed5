import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { PageOf, PageQuery, responses, Timestamp } from '../../http/schemas.js';
import type { AttributeService } from './attributes.service.js';

const AttributeType = Type.Union(
  [
    Type.Literal('string'),
    Type.Literal('number'),
    Type.Literal('boolean'),
    Type.Literal('date'),
    Type.Literal('json'),
  ],
  { description: 'date values are ISO 8601 (2026-01-31 or 2026-01-31T09:00:00Z)' },
);

const AttributeDefinitionSchema = Type.Object(
  {
    name: Type.String(),
    type: AttributeType,
    description: Type.Union([Type.String(), Type.Null()]),
    sensitive: Type.Boolean({
      description:
        'Values are stored encrypted with the workspace data key and decrypted only to show or render them',
    }),
    created_at: Timestamp,
  },
  { title: 'AttributeDefinition' },
);

const NameParams = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);

export function attributesRoutes(deps: { attributes: AttributeService }): FastifyPluginAsyncTypebox {
  const { attributes } = deps;
  const tags = ['attributes'];
  return async (app) => {
    app.get(
      '/v1/attributes',
      {
        config: { scope: 'contacts:read' },
        schema: {
          tags,
          summary: 'List attribute definitions',
          description: 'The workspace attribute schema. Attributes without a definition are stored as given.',
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: responses({ 200: PageOf(AttributeDefinitionSchema) }),
        },
      },
      async (request) =>
        attributes.list(principalOf(request).workspaceId, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );

    app.post(
      '/v1/attributes',
      {
        config: { scope: 'admin' },
        schema: {
          tags,
          summary: 'Define an attribute',
          description:
            'Refused with 409 ATTRIBUTE_IN_USE when existing contacts hold values of another type, ' +
            'or any values when `sensitive` is true.',
          body: Type.Object(
            {
              name: Type.String({ minLength: 1, maxLength: 64 }),
              type: AttributeType,
              description: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
              sensitive: Type.Optional(
                Type.Boolean({
                  description:
                    'Store values encrypted (AES-256-GCM, workspace data key). Only string attributes; ' +
                    'segments can only test whether a sensitive attribute exists. Changes only while no contact holds a value.',
                }),
              ),
            },
            { additionalProperties: false },
          ),
          response: responses({ 201: AttributeDefinitionSchema }),
        },
      },
      async (request, reply) =>
        reply.code(201).send(await attributes.create(principalOf(request).workspaceId, request.body)),
    );

    app.get(
      '/v1/attributes/:name',
      {
        config: { scope: 'contacts:read' },
        schema: {
          tags,
          summary: 'Get an attribute definition',
          params: NameParams,
          response: responses({ 200: AttributeDefinitionSchema }),
        },
      },
      async (request) => attributes.get(principalOf(request).workspaceId, request.params.name),
    );

    app.patch(
      '/v1/attributes/:name',
      {
        config: { scope: 'admin' },
        schema: {
          tags,
          summary: 'Change an attribute definition',
          params: NameParams,
          body: Type.Object(
            {
              type: Type.Optional(AttributeType),
              description: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
              sensitive: Type.Optional(
                Type.Boolean({
                  description:
                    'Store values encrypted (AES-256-GCM, workspace data key). Only string attributes; ' +
                    'segments can only test whether a sensitive attribute exists. Changes only while no contact holds a value.',
                }),
              ),
            },
            { additionalProperties: false, minProperties: 1 },
          ),
          response: responses({ 200: AttributeDefinitionSchema }),
        },
      },
      async (request) =>
        attributes.update(principalOf(request).workspaceId, request.params.name, request.body),
    );

    app.delete(
      '/v1/attributes/:name',
      {
        config: { scope: 'admin' },
        schema: {
          tags,
          summary: 'Remove an attribute definition',
          description:
            'Contacts keep their values; they are no longer type-checked. A sensitive attribute is only removed ' +
            'while no contact holds a value (409 ATTRIBUTE_IN_USE), since its values could no longer be read.',
          params: NameParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await attributes.remove(principalOf(request).workspaceId, request.params.name);
        return reply.code(204).send(null);
      },
    );
  };
}
