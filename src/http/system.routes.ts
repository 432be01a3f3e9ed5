import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { problem, sendProblem } from './problem.js';

export interface SystemRouteDeps {
  /** Throws when the process cannot serve (database unreachable, migrations missing). */
  checkReady: () => Promise<void>;
}

export function systemRoutes(deps: SystemRouteDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/healthz',
      {
        config: { public: true, rateLimit: false },
        schema: {
          tags: ['system'],
          summary: 'Liveness: the process is up',
          response: { 200: Type.Object({ status: Type.Literal('ok') }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );

    app.get(
      '/readyz',
      {
        config: { public: true, rateLimit: false },
        schema: {
          tags: ['system'],
          summary: 'Readiness: the database answers and is migrated',
          response: { 200: Type.Object({ status: Type.Literal('ready') }), 503: Type.Ref('Problem') },
        },
      },
      async (request, reply) => {
        try {
          await deps.checkReady();
          return { status: 'ready' as const };
        } catch (error) {
          request.log.warn({ err: (error as Error).message }, 'not ready');
          return sendProblem(
            reply,
            problem(request, 'NOT_READY', 'The database is not reachable or not migrated.'),
          );
        }
      },
    );

    app.get(
      '/metrics',
      {
        config: { scope: 'metrics:read', rateLimit: false },
        schema: {
          tags: ['system'],
          summary: 'Prometheus metrics',
          description:
            'Request rates and latencies by route, job queue depth and age, in Prometheus text format.',
          produces: ['text/plain'],
        },
      },
      async (_request, reply) => {
        const metrics = await app.metricsText();
        return reply.type(metrics.contentType).send(metrics.body);
      },
    );

    app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  };
}
