import pino, { type Logger } from 'pino';
import type { Config } from '../config/index.js';

/**
 * One JSON logger per process. Authorization headers and anything named like
 * an email are redacted as a second line of defence; the first is never
 * logging URLs, bodies or addresses at all.
 */
export function createLogger(level: Config['logLevel'], destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'herald' },
      redact: {
        paths: ['req.headers.authorization', '*.email', 'email', '*.secret', 'secret'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
