import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { uuidv7 } from '../lib/ids.js';
import { createBeacons } from '../modules/tracking/index.js';
import { auditTrailPlugin } from './audit-trail.js';
import { authPlugin } from './auth.js';
import { beaconServerFactory } from './beacon-fast-path.js';
import { metricsPlugin } from './metrics.js';
import { problem, sendProblem, toProblem } from './problem.js';
import { type RouteDeps, registerBeaconRoutes, registerRoutes } from './routes.js';
import { Problem } from './schemas.js';
import { createValidatorCompiler } from './validation.js';

export interface AppOptions {
  config: Pick<Config, 'bodyLimitBytes' | 'rateLimitPerMinute' | 'publicUrl'>;
  logger: Logger;
  deps: RouteDeps;
}

export interface RouteInfo {
  method: string;
  url: string;
  scope: string | undefined;
  public: boolean;
  /** Needs a signed-in user (session cookie), any role; API keys are refused. */
  session: boolean;
  /** Takes a JSON body (has a body schema). */
  jsonBody: boolean;
  /** Takes limit/cursor pagination. */
  paginated: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route with its declared scope: the route table. */
    routeTable: RouteInfo[];
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Builds the HTTP app without listening, so tests can `inject` and main can `listen`. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, logger, deps } = options;
  // One instance for the Fastify beacon routes and the server's fast path: one rate limit, one set of counters.
  const beacons = createBeacons({
    tracking: deps.tracking,
    rateLimitPerMinute: deps.trackingRateLimitPerMinute,
  });
  const app = Fastify({
    // The open pixel and click redirect are answered before Fastify routes them (beacon-fast-path.ts).
    serverFactory: beaconServerFactory(beacons, logger),
    loggerInstance: logger as FastifyBaseLogger,
    // Fastify's own request lines include the URL, which may carry email addresses; see onResponse below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // Signed URL tokens (confirm links) are longer than the default 100 characters.
    routerOptions: { maxParamLength: 500 },
    trustProxy: false,
    // genReqId validates the incoming X-Request-Id; Fastify's own handling would accept any string.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : uuidv7();
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(createValidatorCompiler());

  const routeTable: RouteInfo[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    // The browsable docs served by @fastify/swagger-ui describe the API and hold no data.
    if (route.url === '/docs' || route.url.startsWith('/docs/'))
      route.config = { ...route.config, public: true };
    const cfg = (route.config ?? {}) as {
      scope?: string;
      public?: boolean;
      basicAuth?: boolean;
      session?: boolean;
    };
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      const query = route.schema?.querystring as { properties?: Record<string, unknown> } | undefined;
      routeTable.push({
        method,
        url: route.url,
        scope: cfg.scope,
        public: Boolean(cfg.public),
        session: Boolean(cfg.session),
        jsonBody: Boolean(route.schema?.body),
        paginated: Boolean(query?.properties && 'cursor' in query.properties),
      });
    }
    if (!cfg.public && route.schema && !route.schema.hide) {
      // Alternatives: either scheme authenticates a route that takes Basic (Segment's write key).
      route.schema.security = cfg.session
        ? [{ sessionCookie: [] }]
        : cfg.basicAuth
          ? [{ apiKey: [] }, { writeKey: [] }, { sessionCookie: [] }]
          : [{ apiKey: [] }, { sessionCookie: [] }];
      const note = cfg.scope
        ? `Requires scope \`${cfg.scope}\`.`
        : cfg.session
          ? 'Requires a signed-in user (session cookie); API keys are refused.'
          : '';
      // A GET route and its HEAD twin share one schema object: add the note once.
      if (!route.schema.description?.includes(note))
        route.schema.description = [route.schema.description, note].filter(Boolean).join('\n\n');
    }
  });

  app.addSchema(Problem);

  app.setErrorHandler((error, request, reply) => {
    const body = toProblem(request, error as Error);
    if (body.status >= 500) request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, body);
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Herald API',
        version: '1',
        description:
          'Self-hosted email marketing backend. Authenticate with an API key: `Authorization: Bearer <key>`. ' +
          'Errors are application/problem+json with a stable `code`. List endpoints are paginated with ' +
          '`limit` and `cursor` (pass `next_cursor` from the previous page).',
      },
      servers: [{ url: config.publicUrl }],
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'A Herald API key (hk_...), or an OAuth access token from POST /oauth/token.',
          },
          sessionCookie: {
            type: 'apiKey',
            in: 'cookie',
            name: 'herald_session',
            description:
              'A sign-in session (POST /v1/session). Write requests also need the header X-CSRF-Token; a role grants scopes like a key does.',
          },
          writeKey: {
            type: 'http',
            scheme: 'basic',
            description:
              'An API key as HTTP Basic user name with an empty password, as Segment libraries send a write key (event ingestion routes only).',
          },
        },
      },
    },
    // Streaming uploads (CSV imports) have no body schema, so validation never buffers them;
    // describe their body in the document only.
    transform: ({ schema, url }) => {
      const described = schema as { consumes?: string[]; body?: unknown } | undefined;
      if (!described?.consumes?.includes('text/csv') || described.body) return { schema, url };
      const body = { type: 'string', description: 'The CSV file, UTF-8, header row first.' };
      return { schema: { ...schema, body } as typeof schema, url };
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });

  // The open pixel and click redirect answer every image load and link click
  // of every email sent: they get a context of their own without the API's
  // hooks below. Only public routes belong there.
  await app.register(async (context) => {
    context.addHook('onRoute', (route) => {
      if (!(route.config as { public?: boolean } | undefined)?.public)
        throw new Error(`Beacon route ${route.method} ${route.url} must be public`);
    });
    // No per-request child logger: these routes log nothing per request.
    context.setChildLoggerFactory((logger) => logger);
    await registerBeaconRoutes(context, beacons);
  });

  // Everything else: the API, the public pages, health and docs.
  await app.register(async (api) => {
    api.setNotFoundHandler((request, reply) =>
      sendProblem(
        reply,
        problem(request, 'NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`),
      ),
    );
    api.addHook('onSend', async (request, reply) => {
      reply.header('x-request-id', request.id);
    });
    api.addHook('onResponse', async (request, reply) => {
      // Route pattern only: URLs and bodies may carry email addresses.
      request.log.info(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime),
          actor: request.principal
            ? `${request.principal.actor.type}:${request.principal.actor.id}`
            : undefined,
        },
        'request',
      );
    });
    await api.register(helmet, {
      // The docs page needs inline styles and scripts; everything else is JSON.
      contentSecurityPolicy: false,
    });
    await api.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true }, staticCSP: true });

    await api.register(authPlugin, {
      apiKeys: deps.apiKeys,
      accessTokens: deps.oauthClients,
      sessions: deps.users,
      publicOrigin: new URL(config.publicUrl).origin,
    });
    // After authentication: the entry names the principal. See audit-trail.ts for what is recorded.
    await api.register(auditTrailPlugin, { audit: deps.audit });
    await api.register(rateLimit, {
      global: true,
      // After authentication, so the limit applies per API key rather than per address.
      hook: 'preHandler',
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request) => request.principal?.actor.id ?? request.ip,
      errorResponseBuilder: (_request, context) => ({
        statusCode: 429,
        message: `Rate limit of ${context.max} requests per minute exceeded; retry in ${Math.ceil(context.ttl / 1000)} s.`,
      }),
    });
    await api.register(metricsPlugin, {
      queueStats: deps.jobs.stats,
      now: () => deps.clock.now(),
      trackingStats: deps.tracking?.stats,
    });

    await registerRoutes(api, deps);
  });
  return app;
}
