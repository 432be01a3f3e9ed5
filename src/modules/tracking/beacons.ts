import { htmlPage, htmlPageHeaders } from '../../http/public-page.js';
import { createTokenLimiter } from './token-limiter.js';
import type { TrackingService } from './tracking.service.js';

/** The transparent 1x1 GIF: 43 bytes. */
export const PIXEL_GIF = Buffer.from(
  'R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==',
  'base64',
);

const NO_STORE = 'no-store, no-cache, must-revalidate, private, max-age=0';

/** Headers of every pixel answer. Webmail shows the image from its own origin; a same-origin resource policy would block it. */
const PIXEL_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'content-type': 'image/gif',
  'cache-control': NO_STORE,
  pragma: 'no-cache',
  expires: '0',
  'cross-origin-resource-policy': 'cross-origin',
  'content-length': String(PIXEL_GIF.length),
};

/**
 * What a beacon request is answered with: status, every header (the length
 * included, so a HEAD answer carries it too) and the body. Built by
 * `createBeacons` and written as it is by the Fastify routes
 * (tracking.routes.ts) and by the server's fast path (http/beacon-fast-path.ts).
 */
export interface BeaconAnswer {
  status: number;
  headers: Readonly<Record<string, string>>;
  /** Undefined for a redirect, which has no body. */
  body: Buffer | undefined;
}

const PIXEL_ANSWERS = {
  200: { status: 200, headers: PIXEL_HEADERS, body: PIXEL_GIF },
  404: { status: 404, headers: PIXEL_HEADERS, body: PIXEL_GIF },
  429: { status: 429, headers: PIXEL_HEADERS, body: PIXEL_GIF },
} as const satisfies Record<number, BeaconAnswer>;

/** A public page answer, rendered once: these pages never change. */
function pageAnswer(
  status: number,
  title: string,
  html: string,
  extra: Record<string, string> = {},
): BeaconAnswer {
  const body = Buffer.from(htmlPage(title, html));
  return {
    status,
    headers: {
      'x-content-type-options': 'nosniff',
      ...htmlPageHeaders(),
      ...extra,
      'content-length': String(body.length),
    },
    body,
  };
}

const CLICK_LIMITED = pageAnswer(429, 'Too many requests', '<p>Please try again in a minute.</p>', {
  'retry-after': '60',
});
const CLICK_HONEYPOT = pageAnswer(200, 'Nothing here', '<p>There is nothing here.</p>');
const CLICK_INVALID = pageAnswer(
  404,
  'Link not valid',
  '<p>This link is not valid. Please use the links in the email you received.</p>',
);

/** A beacon request; it is also the hit's metadata (user agent and address). */
export interface BeaconRequest {
  token: string;
  /** GET is recorded; HEAD (link checkers) gets the same answer without being recorded. */
  method: string;
  userAgent: string | undefined;
  ip: string | undefined;
}

export type Beacons = ReturnType<typeof createBeacons>;

/**
 * The open pixel and click redirect answers, with the per-token rate limit
 * (see tracking.routes.ts for why per token). One instance serves both ways
 * a beacon request arrives, so they share the limit and the counters.
 */
export function createBeacons(deps: { tracking: TrackingService; rateLimitPerMinute: number }) {
  const { tracking } = deps;
  const limiter = createTokenLimiter(deps.rateLimitPerMinute);

  return {
    /** Synchronous: no promise per pixel. */
    pixel(request: BeaconRequest): BeaconAnswer {
      if (!limiter.allow('o', request.token)) {
        tracking.countLimited('open');
        return PIXEL_ANSWERS[429];
      }
      const valid = tracking.open(request.token, request, request.method === 'GET');
      return valid ? PIXEL_ANSWERS[200] : PIXEL_ANSWERS[404];
    },

    /** A promise only when the link's target is not cached yet (its first click in this process). */
    click(request: BeaconRequest): BeaconAnswer | Promise<BeaconAnswer> {
      if (!limiter.allow('c', request.token)) {
        tracking.countLimited('click');
        return CLICK_LIMITED;
      }
      const outcome = tracking.click(request.token, request, request.method === 'GET');
      return outcome instanceof Promise ? outcome.then(clickAnswer) : clickAnswer(outcome);
    },
  };
}

function clickAnswer(outcome: Awaited<ReturnType<TrackingService['click']>>): BeaconAnswer {
  if (outcome.kind === 'redirect') {
    return {
      status: 302,
      headers: {
        'x-content-type-options': 'nosniff',
        'cache-control': NO_STORE,
        'referrer-policy': 'no-referrer',
        location: outcome.location,
        'content-length': '0',
      },
      body: undefined,
    };
  }
  return outcome.kind === 'honeypot' ? CLICK_HONEYPOT : CLICK_INVALID;
}
