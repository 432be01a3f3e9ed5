import pino from 'pino';
import { loadConfig } from '../config/index.js';
import { openPglite } from '../db/index.js';
import { createManualClock } from '../lib/clock.js';
import { buildHttpApp } from './api.js';
import { createContainer } from './container.js';

/**
 * Builds Herald's OpenAPI document without listening and without the
 * environment: a fixed configuration, so the document is the same on every
 * machine, and an empty in-memory database that nothing queries (building the
 * routes reads no data). Keys are sorted, so a route change shows up as a small,
 * stable diff in packages/client/openapi.json.
 */
export async function buildOpenApiDocument(): Promise<Record<string, unknown>> {
  const config = loadConfig({
    env: {
      HERALD_LOG_LEVEL: 'silent',
      HERALD_WORKER: 'false',
      // A fixed key, so no key file is written to a data folder.
      HERALD_SECRET_KEYS: Buffer.alloc(32, 1).toString('base64'),
      HERALD_PUBLIC_URL: 'http://localhost:3000',
    },
  });
  const database = await openPglite({});
  const container = createContainer({
    config,
    database,
    logger: pino({ level: 'silent' }),
    clock: createManualClock(new Date(0)),
  });
  try {
    const app = await buildHttpApp(container);
    try {
      await app.ready();
      return sortKeys(app.swagger()) as Record<string, unknown>;
    } finally {
      await app.close();
    }
  } finally {
    await container.close();
  }
}

/** The document as written to disk: sorted keys, two-space indent, final newline. */
export function serializeOpenApiDocument(document: Record<string, unknown>): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}
