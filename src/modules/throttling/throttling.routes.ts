import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, PageOf, responses } from '../../http/schemas.js';
import {
  ListQuery,
  ThrottleRuleBody,
  ThrottleRuleSchema,
  WarmupScheduleCreateBody,
  WarmupSchedulePatchBody,
  WarmupScheduleSchema,
} from './throttling.schemas.js';
import type { ThrottlingService } from './throttling.service.js';

const ENFORCEMENT =
  'Marketing email (campaigns, automation emails of kind marketing) waits for room: campaign recipients stay queued and ' +
  'automation runs wait at their node until the window opens. Transactional email is counted but never held.';

export function throttlingRoutes(deps: { throttling: ThrottlingService }): FastifyPluginAsyncTypebox {
  const { throttling } = deps;
  return async (app) => {
    const tags = ['throttling'];

    app.get(
      '/v1/throttles',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags,
          summary: 'List throttle rules',
          description: 'With the current windows: limit, used, when they reset.',
          querystring: ListQuery,
          response: responses({ 200: PageOf(ThrottleRuleSchema) }),
        },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        return throttling.listRules(principalOf(request).workspaceId, { cursor, limit: limit ?? 100 });
      },
    );

    app.post(
      '/v1/throttles',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Add a throttle rule',
          description:
            'Limits mail to some recipient domains (domains, exact) and/or mailbox provider groups (providers) per clock ' +
            `minute, clock hour and day (the workspace's time zone), optionally only through one transport. ${ENFORCEMENT} ` +
            'The limits are shared by all the domains the rule names. Every rule that covers a message applies. 409 ' +
            'THROTTLE_RULE_CONFLICT when another rule for the same transport (or both for any) names one of the same ' +
            'domains or providers.',
          body: ThrottleRuleBody,
          response: responses({ 201: ThrottleRuleSchema }),
        },
      },
      async (request, reply) => {
        const rule = await throttling.createRule(principalOf(request).workspaceId, request.body);
        return reply.code(201).send(rule);
      },
    );

    app.get(
      '/v1/throttles/:id',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags,
          summary: 'Get a throttle rule and its current windows',
          params: IdParams,
          response: responses({ 200: ThrottleRuleSchema }),
        },
      },
      async (request) => throttling.getRule(principalOf(request).workspaceId, request.params.id),
    );

    app.patch(
      '/v1/throttles/:id',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Change a throttle rule',
          description: 'Fields left out keep their value; null removes a limit or the transport restriction.',
          params: IdParams,
          body: ThrottleRuleBody,
          response: responses({ 200: ThrottleRuleSchema }),
        },
      },
      async (request) =>
        throttling.updateRule(principalOf(request).workspaceId, request.params.id, request.body),
    );

    app.delete(
      '/v1/throttles/:id',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Delete a throttle rule',
          description: 'Recipients waiting for it are sent when their wait ends (they are not woken early).',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await throttling.deleteRule(principalOf(request).workspaceId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/v1/warmup-schedules',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags,
          summary: 'List warm-up schedules',
          description: 'Each with where it stands today.',
          querystring: ListQuery,
          response: responses({ 200: PageOf(WarmupScheduleSchema) }),
        },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        return throttling.listSchedules(principalOf(request).workspaceId, { cursor, limit: limit ?? 100 });
      },
    );

    app.post(
      '/v1/warmup-schedules',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Add a warm-up schedule',
          description:
            'Daily caps for the mail of one sending domain (the From domain it signs) or one transport, from start_date ' +
            "(today or later, in the workspace's time zone): daily_caps lists them, growth generates them (start_volume, " +
            `times factor each day, up to target), or both (the generated days follow the listed ones). No cap before ` +
            `start_date or after the last day. ${ENFORCEMENT} 409 WARMUP_SCHEDULE_EXISTS when the domain or transport ` +
            'has a schedule already.',
          body: WarmupScheduleCreateBody,
          response: responses({ 201: WarmupScheduleSchema }),
        },
      },
      async (request, reply) => {
        const schedule = await throttling.createSchedule(principalOf(request).workspaceId, request.body);
        return reply.code(201).send(schedule);
      },
    );

    app.get(
      '/v1/warmup-schedules/:id',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags,
          summary: 'Get a warm-up schedule and where it stands',
          description:
            "status: day N, today's cap, used and remaining today, when the day and the schedule end.",
          params: IdParams,
          response: responses({ 200: WarmupScheduleSchema }),
        },
      },
      async (request) => throttling.getSchedule(principalOf(request).workspaceId, request.params.id),
    );

    app.patch(
      '/v1/warmup-schedules/:id',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Change a warm-up schedule',
          description:
            'name, start_date (not into the past), daily_caps, growth (null removes it). What it caps stays: delete ' +
            'the schedule and add another to cap something else.',
          params: IdParams,
          body: WarmupSchedulePatchBody,
          response: responses({ 200: WarmupScheduleSchema }),
        },
      },
      async (request) =>
        throttling.updateSchedule(principalOf(request).workspaceId, request.params.id, request.body),
    );

    app.delete(
      '/v1/warmup-schedules/:id',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Delete a warm-up schedule',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await throttling.deleteSchedule(principalOf(request).workspaceId, request.params.id);
        return reply.code(204).send(null);
      },
    );
  };
}
