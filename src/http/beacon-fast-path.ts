import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { FastifyServerFactory } from 'fastify';
import type { Logger } from 'pino';
import { type BeaconAnswer, type Beacons, PIXEL_GIF } from '../modules/tracking/index.js';

/** A token as the beacon routes take it (TokenParams: at most 400 characters), base64url only. */
const TOKEN = /^[A-Za-z0-9_-]{1,400}$/;

/** The pixel's bytes, one character per byte. */
const PIXEL_GIF_LATIN1 = PIXEL_GIF.toString('latin1');

const SLASH = 0x2f;
const LETTER_O = 0x6f;
const LETTER_C = 0x63;

/**
 * Answers GET and HEAD `/o/<token>` and `/c/<token>` (query string ignored,
 * as the routes ignore it) straight from the HTTP server, before Fastify
 * routes the request, with the answers the Fastify routes give
 * (tracking/beacons.ts). Every open and click of every email sent lands
 * here, and Fastify's per-request work (request and reply objects, routing,
 * hooks, a request id) costs about as much as recording the hit does.
 * Anything else, a token with other characters included, goes on to
 * Fastify, which routes, validates and answers it as before.
 *
 * Returns whether it answered the request.
 */
export function createBeaconFastPath(
  beacons: Beacons,
  logger: Logger,
): (request: IncomingMessage, response: ServerResponse) => boolean {
  const fail = (response: ServerResponse, error: unknown) => {
    logger.error({ err: error }, 'beacon request failed');
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const body = JSON.stringify({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      code: 'INTERNAL',
      detail: 'The request could not be answered.',
    });
    response.writeHead(500, {
      'content-type': 'application/problem+json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
  };
  const write = (response: ServerResponse, method: string, answer: BeaconAnswer) => {
    response.writeHead(answer.status, answer.headers);
    // A HEAD answer carries the headers (the length included) without the body.
    if (method === 'HEAD' || answer.body === undefined) response.end();
    // The GIF as a latin1 string goes out in one write with the headers; as a Buffer it is a second chunk (writev).
    else if (answer.body === PIXEL_GIF) response.end(PIXEL_GIF_LATIN1, 'latin1');
    else response.end(answer.body);
  };

  return (request, response) => {
    const method = request.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const url = request.url ?? '';
    const kind = url.charCodeAt(1);
    if (
      url.charCodeAt(0) !== SLASH ||
      url.charCodeAt(2) !== SLASH ||
      (kind !== LETTER_O && kind !== LETTER_C)
    )
      return false;
    const query = url.indexOf('?', 3);
    const token = query < 0 ? url.slice(3) : url.slice(3, query);
    if (!TOKEN.test(token)) return false;
    const ua = request.headers['user-agent'];
    const beacon = { token, method, userAgent: ua, ip: request.socket.remoteAddress };
    try {
      if (kind === LETTER_O) write(response, method, beacons.pixel(beacon));
      else {
        const answer = beacons.click(beacon);
        if (answer instanceof Promise)
          answer.then(
            (ready) => write(response, method, ready),
            (error: unknown) => fail(response, error),
          );
        else write(response, method, answer);
      }
    } catch (error) {
      fail(response, error);
    }
    return true;
  };
}

/**
 * Fastify's HTTP/1 server with the beacon fast path in front of its handler,
 * and the timeouts Fastify would set on a server it made itself.
 */
export function beaconServerFactory(beacons: Beacons, logger: Logger): FastifyServerFactory {
  const fastPath = createBeaconFastPath(beacons, logger);
  return (handler, options): Server => {
    const server = createServer((request, response) => {
      if (!fastPath(request, response)) handler(request, response);
    });
    // Fastify fills these with its defaults before it calls the factory.
    const timeouts = options as {
      keepAliveTimeout?: number;
      requestTimeout?: number;
      connectionTimeout?: number;
      maxRequestsPerSocket?: number;
    };
    if (timeouts.keepAliveTimeout !== undefined) server.keepAliveTimeout = timeouts.keepAliveTimeout;
    if (timeouts.requestTimeout !== undefined) server.requestTimeout = timeouts.requestTimeout;
    if (timeouts.connectionTimeout !== undefined) server.setTimeout(timeouts.connectionTimeout);
    if (timeouts.maxRequestsPerSocket) server.maxRequestsPerSocket = timeouts.maxRequestsPerSocket;
    return server;
  };
}
