import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { IdParams, responses } from '../../http/schemas.js';
import type { BeaconAnswer, BeaconRequest, Beacons } from './beacons.js';
import {
  Gif,
  Html,
  ReclassifyResult,
  TokenParams,
  TrackingSettingsPatch,
  TrackingSettingsSchema,
} from './tracking.schemas.js';
import type { TrackingService } from './tracking.service.js';

/**
 * The public open pixel and click redirect: the busiest routes, one request
 * per email opened and per link clicked. build-app.ts serves them in a
 * context of their own, without the API's hooks (authentication, helmet,
 * rate limit per key, request log line, latency histogram): a GIF and a
 * redirect need none of them, and the tracking service counts their outcomes
 * for /metrics (`herald_tracking_requests_total`). Requests over the network
 * are mostly answered before they reach these routes, by the server's fast
 * path (http/beacon-fast-path.ts) with the same answers (beacons.ts); these
 * routes answer the rest (and `inject`) and describe both in the OpenAPI
 * document.
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
export function trackingBeaconRoutes(deps: { beacons: Beacons }): FastifyPluginAsyncTypebox {
  const { beacons } = deps;
  const config = { public: true } as const;
  const beaconRequest = (request: FastifyRequest, token: string): BeaconRequest => {
    const ua = request.headers['user-agent'];
    return {
      token,
      method: request.method,
      userAgent: typeof ua === 'string' ? ua : undefined,
      ip: request.ip,
    };
  };
  const send = (reply: FastifyReply, answer: BeaconAnswer) =>
    reply.code(answer.status).headers(answer.headers).send(answer.body);

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
        send(reply, beacons.pixel(beaconRequest(request, request.params.token)));
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
      async (request, reply) =>
        send(reply, await beacons.click(beaconRequest(request, request.params.token))),
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
