import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, PageOf, PageQuery, responses } from '../../http/schemas.js';
import { requireEmail } from '../contacts/index.js';
import type { CampaignSender } from './campaign-sender.js';
import {
  AudienceSchema,
  CampaignCreateBody,
  CampaignListQuery,
  CampaignPatchBody,
  CampaignSchema,
} from './campaigns.schemas.js';
import type { CampaignService } from './campaigns.service.js';

export function campaignsRoutes(deps: {
  campaigns: CampaignService;
  sender: Pick<CampaignSender, 'sendTest'>;
}): FastifyPluginAsyncTypebox {
  const { campaigns, sender } = deps;
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
      async (request, reply) => {
        const { workspaceId } = principalOf(request);
        const created = await campaigns.create(workspaceId, request.body);
        return reply.code(201).send(await campaigns.withWarnings(workspaceId, created));
      },
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
      async (request) => {
        const { workspaceId } = principalOf(request);
        return campaigns.withWarnings(workspaceId, await campaigns.get(workspaceId, request.params.id));
      },
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
      async (request) => {
        const { workspaceId } = principalOf(request);
        const updated = await campaigns.update(workspaceId, request.params.id, request.body);
        return campaigns.withWarnings(workspaceId, updated);
      },
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

    const actions = [
      [
        'send',
        'Start sending now',
        'Pins the template version and the audience size. 409 when not ready, empty, or already sending.',
      ],
      ['unschedule', 'Return a scheduled campaign to draft', ''],
      ['pause', 'Pause sending', 'Messages in flight finish; nobody else is sent to until resumed.'],
      ['resume', 'Resume a paused campaign', ''],
      [
        'cancel',
        'Cancel for good',
        'Works on draft, scheduled, sending and paused campaigns; recipients not yet sent to are not.',
      ],
    ] as const;
    for (const [action, summary, description] of actions) {
      app.post(
        `/v1/campaigns/:id/${action}`,
        {
          config: { scope: 'campaigns:send' },
          schema: {
            tags,
            summary,
            description,
            params: IdParams,
            response: responses({ 200: CampaignSchema }),
          },
        },
        async (request) => {
          const { workspaceId } = principalOf(request);
          const campaign = await campaigns[action](workspaceId, request.params.id);
          // Sending is where the warnings matter most; the other actions answer as GET does.
          return campaigns.withWarnings(workspaceId, campaign);
        },
      );
    }

    app.post(
      '/v1/campaigns/:id/schedule',
      {
        config: { scope: 'campaigns:send' },
        schema: {
          tags,
          summary: 'Schedule sending',
          description:
            'send_at is stored in UTC. Give an instant with an offset (2026-12-01T09:00:00+01:00), or a wall-clock ' +
            'time with a timezone (2026-12-01T09:00 and Europe/Berlin). 400 SCHEDULE_IN_PAST for a time not in the future.',
          params: IdParams,
          body: Type.Object(
            {
              send_at: Type.String({ minLength: 1, maxLength: 40 }),
              timezone: Type.Optional(Type.String({ maxLength: 64 })),
            },
            { additionalProperties: false },
          ),
          response: responses({ 200: CampaignSchema }),
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request);
        const scheduled = await campaigns.schedule(workspaceId, request.params.id, request.body);
        return campaigns.withWarnings(workspaceId, scheduled);
      },
    );

    app.post(
      '/v1/campaigns/:id/test',
      {
        config: { scope: 'campaigns:send' },
        schema: {
          tags,
          summary: 'Send a test of the campaign to a few addresses',
          description:
            "Renders the template's latest version with each address's contact data when the address is a contact, " +
            'signs and sends through the campaign transport. An A/B campaign sends each variant to each address. ' +
            'Not counted in the campaign, works in any status.',
          params: IdParams,
          body: Type.Object(
            {
              emails: Type.Array(Type.String({ minLength: 3, maxLength: 320 }), {
                minItems: 1,
                maxItems: 10,
              }),
            },
            { additionalProperties: false },
          ),
          response: responses({
            200: Type.Object({
              results: Type.Array(
                Type.Object({
                  email: Type.String(),
                  variant: Type.Optional(
                    Type.String({ description: 'The A/B variant sent (each is sent).' }),
                  ),
                  delivered: Type.Boolean(),
                  error: Type.Optional(Type.String()),
                }),
              ),
            }),
          }),
        },
      },
      async (request) => {
        const emails = request.body.emails.map((email, index) => requireEmail(email, `/emails/${index}`));
        const { campaign, variants } = await campaigns.forTestSend(
          principalOf(request).workspaceId,
          request.params.id,
        );
        return { results: await sender.sendTest(campaign, emails, variants) };
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
            'opt-in lists) or matching the segment, minus current members of excluded lists and contacts matching ' +
            'an excluded segment, each once. Segments are evaluated now.',
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
