import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, PageOf, PageQuery, responses } from '../../http/schemas.js';
import {
  AudienceSchema,
  CampaignCreateBody,
  CampaignListQuery,
  CampaignPatchBody,
  CampaignSchema,
} from './campaigns.schemas.js';
import type { CampaignService } from './campaigns.service.js';

export function campaignsRoutes(deps: { campaigns: CampaignService }): FastifyPluginAsyncTypebox {
  const { campaigns } = deps;
  const tags = ['campaigns'];
  return async (app) => {
    app.get(
      '/v1/campaigns',
      {
        config: { scope: 'campaigns:read' },
        schema: {
          tags,
          summary: 'List campaigns',
          querystring: CampaignListQuery,
          response: responses({ 200: PageOf(CampaignSchema) }),
        },
      },
      async (request) =>
        campaigns.list(
          principalOf(request).workspaceId,
          { status: request.query.status },
          { cursor: request.query.cursor, limit: request.query.limit ?? 100 },
        ),
    );

    app.post(
      '/v1/campaigns',
      {
        config: { scope: 'campaigns:write' },
        schema: {
          tags,
          summary: 'Create a draft campaign',
          body: CampaignCreateBody,
          response: responses({ 201: CampaignSchema }),
        },
      },
      async (request, reply) =>
        reply.code(201).send(await campaigns.create(principalOf(request).workspaceId, request.body)),
    );

    app.get(
      '/v1/campaigns/:id',
      {
        config: { scope: 'campaigns:read' },
        schema: {
          tags,
          summary: 'Get a campaign with its progress',
          params: IdParams,
          response: responses({ 200: CampaignSchema }),
        },
      },
      async (request) => campaigns.get(principalOf(request).workspaceId, request.params.id),
    );

    app.patch(
      '/v1/campaigns/:id',
      {
        config: { scope: 'campaigns:write' },
        schema: {
          tags,
          summary: 'Change a draft or scheduled campaign',
          description: 'Refused with 409 CAMPAIGN_STATE_CONFLICT once the campaign is sending or done.',
          params: IdParams,
          body: CampaignPatchBody,
          response: responses({ 200: CampaignSchema }),
        },
      },
      async (request) => campaigns.update(principalOf(request).workspaceId, request.params.id, request.body),
    );

    app.delete(
      '/v1/campaigns/:id',
      {
        config: { scope: 'campaigns:write' },
        schema: {
          tags,
          summary: 'Delete a draft or cancelled campaign',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await campaigns.remove(principalOf(request).workspaceId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/v1/campaigns/:id/audience',
      {
        config: { scope: 'campaigns:read' },
        schema: {
          tags,
          summary: 'Who would receive the campaign now',
          description:
            'Active contacts on an included list (confirmed on double opt-in lists, not unsubscribed on single ' +
            'opt-in lists), minus current members of excluded lists, each once.',
          params: IdParams,
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: responses({ 200: AudienceSchema }),
        },
      },
      async (request) =>
        campaigns.audience(principalOf(request).workspaceId, request.params.id, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        }),
    );
  };
}
