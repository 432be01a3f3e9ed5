import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { htmlPage, sendHtml } from '../../http/public-page.js';
import { IdParams, responses } from '../../http/schemas.js';
import {
  Gif,
  Html,
  ReclassifyResult,
  TokenParams,
  TrackingSettingsPatch,
  TrackingSettingsSchema,
} from './tracking.schemas.js';
import type { TrackingService } from './tracking.service.js';

/** The transparent 1x1 GIF: 43 bytes. */
export const PIXEL_GIF = Buffer.from(
  'R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==',
  'base64',
);

const NO_STORE = 'no-store, no-cache, must-revalidate, private, max-age=0';

/** Headers of every pixel answer. Webmail shows the image from its own origin; a same-origin resource policy would block it. */
const PIXEL_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-type': 'image/gif',
  'cache-control': NO_STORE,
  pragma: 'no-cache',
  expires: '0',
  'cross-origin-resource-policy': 'cross-origin',
};

/**
 * The public open pixel and click redirect: the busiest routes, one request
 * per email opened and per link clicked. build-app.ts serves them in a
 * context of their own, without the API's hooks (authentication, helmet,
 * rate limit per key, request log line, latency histogram): a GIF and a
 * redirect need none of them, and the tracking service counts their outcomes
 * for /metrics (`herald_tracking_requests_total`).
 *
 * Rate limits: image proxies (Gmail, Apple) fetch pixels for millions of
 * people from a few addresses, so a per-IP limit would drop real opens.
 * These routes are limited per token instead (`HERALD_TRACKING_RATE_LIMIT_PER_MINUTE`
 * requests per minute for one message's pixel or one link of one message),
 * which stops one token being replayed to inflate counts or fill the table
 * without ever limiting distinct recipients behind one proxy. The limiter is
 * a fixed one-minute window in this process (a map cleared each minute).
 *
 * HEAD requests (link checkers) get the same answer but are not recorded.
 */
export function trackingBeaconRoutes(deps: {
  tracking: TrackingService;
  rateLimitPerMinute: number;
}): FastifyPluginAsyncTypebox {
  const { tracking } = deps;
  const limiter = createTokenLimiter(deps.rateLimitPerMinute);
  const config = { public: true } as const;
  const meta = (request: FastifyRequest) => {
    const ua = request.headers['user-agent'];
    return { userAgent: typeof ua === 'string' ? ua : undefined, ip: request.ip };
  };

  return async (app) => {
    app.get(
      '/o/:token',
      {
        config,
        schema: {
          tags: ['public'],
          summary: 'Open pixel (records an open; always answers with a transparent GIF)',
          description:
            'Embedded in tracked HTML messages. A valid token records an open (classified human, proxy, prefetch or bot) and answers 200; an invalid, tampered or expired one answers 404 with the same GIF, so no broken image shows.',
          params: TokenParams,
          response: { 200: Gif, 404: Gif, 429: Gif },
        },
      },
      // Synchronous: no promise per pixel.
      (request, reply) => {
        const token = request.params.token;
        let status: 200 | 404 | 429 = 429;
        if (limiter.allow('o', token)) {
          status = tracking.open(token, meta(request), request.method === 'GET') ? 200 : 404;
        } else tracking.countLimited('open');
        reply.code(status).headers(PIXEL_HEADERS).send(PIXEL_GIF);
      },
    );

    app.get(
      '/c/:token',
      {
        config,
        schema: {
          tags: ['public'],
          summary: 'Click redirect (records a click and redirects to the link)',
          description:
            "A valid token records a click and redirects (302) to the link's URL as stored for the template version, with the campaign's UTM parameters and `hid=<click id>` appended (pass it to POST /v1/conversions as click_id). An invalid, tampered, expired or unknown token answers 404 with a plain page and never redirects.",
          params: TokenParams,
          response: { 200: Html, 404: Html, 429: Html },
        },
      },
      async (request, reply) => {
        reply.header('x-content-type-options', 'nosniff');
        if (!limiter.allow('c', request.params.token)) {
          tracking.countLimited('click');
          reply.header('retry-after', '60');
          return sendHtml(reply, 429, htmlPage('Too many requests', '<p>Please try again in a minute.</p>'));
        }
        const outcome = await tracking.click(request.params.token, meta(request), request.method === 'GET');
        if (outcome.kind === 'redirect') {
          return reply
            .header('cache-control', NO_STORE)
            .header('referrer-policy', 'no-referrer')
            .redirect(outcome.location, 302);
        }
        if (outcome.kind === 'honeypot')
          return sendHtml(reply, 200, htmlPage('Nothing here', '<p>There is nothing here.</p>'));
        return sendHtml(
          reply,
          404,
          htmlPage(
            'Link not valid',
            '<p>This link is not valid. Please use the links in the email you received.</p>',
          ),
        );
      },
    );
  };
}

/** The tracking settings and the re-classification of a campaign's hits. */
export function trackingRoutes(deps: { tracking: TrackingService }): FastifyPluginAsyncTypebox {
  const { tracking } = deps;
  return async (app) => {
    app.get(
      '/v1/tracking/settings',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags: ['tracking'],
          summary: "The workspace's tracking settings (IP anonymization)",
          response: responses({ 200: TrackingSettingsSchema }),
        },
      },
      async (request) => tracking.settings(principalOf(request).workspaceId),
    );

    app.patch(
      '/v1/tracking/settings',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags: ['tracking'],
          summary: "Change the workspace's tracking settings",
          description:
            'Applies to hits recorded from now on (within a minute on other processes); stored hits keep what was stored.',
          body: TrackingSettingsPatch,
          response: responses({ 200: TrackingSettingsSchema }),
        },
      },
      async (request) => tracking.updateSettings(principalOf(request).workspaceId, request.body),
    );

    app.post(
      '/v1/campaigns/:id/reclassify-hits',
      {
        config: { scope: 'campaigns:send' },
        schema: {
          tags: ['tracking'],
          summary: "Re-run the bot and privacy-proxy classification over a campaign's opens and clicks",
          description:
            'Hits are classified as they are recorded, with what that process has seen of the message so far; this re-run sees every hit of the campaign (e.g. a scanner burst spread over several processes) and updates the labels that change. Analytics are recomputed for the campaign.',
          params: IdParams,
          response: responses({ 200: ReclassifyResult }),
        },
      },
      async (request) => tracking.reclassify(principalOf(request).workspaceId, request.params.id),
    );
  };
}

/**
 * At most `max` requests per token and minute, in this process. Keyed by the
 * token's last 16 characters (96 bits of its signature, so distinct tokens
 * practically never share a count) to keep the map small: a big campaign's
 * opens are mostly distinct tokens. The map is cleared each minute, or sooner
 * once it holds 250,000 tokens (about 25 MB), which bounds memory at the cost
 * of a fresh budget for a replayed token under very heavy traffic.
 */
function createTokenLimiter(max: number) {
  let windowStart = Date.now();
  let counts = new Map<string, number>();
  return {
    allow(kind: 'o' | 'c', token: string): boolean {
      const now = Date.now();
      if (now - windowStart >= 60_000 || counts.size >= 250_000) {
        windowStart = now;
        counts = new Map();
      }
      const key = kind + token.slice(-16);
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      return n <= max;
    },
  };
}
