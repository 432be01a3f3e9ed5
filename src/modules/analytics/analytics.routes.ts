import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, responses } from '../../http/schemas.js';
import {
  CampaignReportSchema,
  ConversionCreateBody,
  ConversionSchema,
  OverviewQuery,
  OverviewSchema,
} from './analytics.schemas.js';
import { type AnalyticsService, EVENT_COLUMNS } from './analytics.service.js';

export function analyticsRoutes(deps: { analytics: AnalyticsService }): FastifyPluginAsyncTypebox {
  const { analytics } = deps;
  const tags = ['analytics'];
  return async (app) => {
    app.post(
      '/v1/conversions',
      {
        // High-volume ingestion: the conversions table is its own record.
        config: { scope: 'conversions:write', audit: false },
        schema: {
          tags,
          summary: 'Record a conversion',
          description:
            'Attributed to the click named by click_id (the `hid` parameter of tracked links) when it lies within ' +
            'the attribution window (HERALD_ATTRIBUTION_WINDOW_HOURS, default 7 days) before occurred_at; else to the ' +
            "contact's last human click within the window; else stored unattributed. 201 when recorded, 200 when " +
            'the idempotency_key names an earlier conversion with the same data.',
          body: ConversionCreateBody,
          response: responses({ 200: ConversionSchema, 201: ConversionSchema }),
        },
      },
      async (request, reply) => {
        const { conversion, created } = await analytics.recordConversion(
          principalOf(request).workspaceId,
          request.body,
        );
        return reply.code(created ? 201 : 200).send(conversion);
      },
    );

    app.get(
      '/v1/campaigns/:id/report',
      {
        config: { scope: 'analytics:read' },
        schema: {
          tags,
          summary: 'Campaign report',
          description:
            'Sent, bounces, opens and clicks (total, unique, human), rates, unsubscribes, conversions and revenue, ' +
            'per link, per mailbox provider and per hour. Read from rollups the workers keep current, so it answers ' +
            'in milliseconds for any campaign size; hits are counted a few seconds after they happen ' +
            '(events_counted_until says up to when).',
          params: IdParams,
          response: responses({ 200: CampaignReportSchema }),
        },
      },
      async (request) => analytics.report(principalOf(request).workspaceId, request.params.id),
    );

    app.get(
      '/v1/campaigns/:id/events.csv',
      {
        config: { scope: 'contacts:export', audit: 'campaign_events.export' },
        schema: {
          tags,
          summary: "Export a campaign's raw opens and clicks as CSV",
          description:
            `Streams every recorded hit in time order with its classification. Columns: ${EVENT_COLUMNS.join(', ')}. ` +
            'Holds personal data (addresses, anonymized IPs, user agents).',
          params: IdParams,
          response: {
            ...responses({}),
            200: {
              description: 'The CSV file, streamed.',
              content: { 'text/csv': { schema: Type.String() } },
            },
          },
        },
      },
      async (request, reply) => {
        const file = await analytics.eventsCsv(principalOf(request).workspaceId, request.params.id, {
          onEnd: ({ count, complete }) =>
            request.log.info({ exported: count, complete }, 'campaign events export finished'),
        });
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${file.filename}"`)
          .header('cache-control', 'no-store')
          .send(file.stream);
      },
    );

    app.get(
      '/v1/analytics/overview',
      {
        config: { scope: 'analytics:read' },
        schema: {
          tags,
          summary: 'Workspace overview over a date range',
          description:
            'Opens and clicks from hourly rollups whose hour starts in [from, to) (unique = contacts whose first ' +
            'open/click of a campaign fell in the range), sends of the campaigns started in the range, ' +
            'unsubscribes and conversions that happened in the range. At most 366 days.',
          querystring: OverviewQuery,
          response: responses({ 200: OverviewSchema }),
        },
      },
      async (request) => analytics.overview(principalOf(request).workspaceId, request.query),
    );
  };
}
