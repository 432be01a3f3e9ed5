import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { type Config, loadConfig } from '../../src/config/index.js';
import { createManualClock } from '../../src/lib/clock.js';
import { buildHttpApp } from '../../src/main/api.js';
import { type Container, createContainer } from '../../src/main/container.js';
import { createLogger } from '../../src/main/logger.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

/** A fixed key for tests, so nothing is written to ./data. */
export const TEST_SECRET_KEY = Buffer.alloc(32, 7).toString('base64');

export interface TestApp {
  app: FastifyInstance;
  container: Container;
  database: TestDatabase;
  clock: ReturnType<typeof createManualClock>;
  config: Config;
  workspaceId: string;
  /** Secret of an admin key in the default workspace. */
  adminKey: string;
  /** Creates another workspace with an admin key, for tenant-isolation tests. */
  createWorkspace(name?: string): Promise<{ workspaceId: string; adminKey: string }>;
  createKey(scopes: string[], workspaceId?: string): Promise<string>;
  /** Authorization header for a key. */
  auth(key?: string): { authorization: string };
  /**
   * Registers an SMTP transport pointing at a test SMTP sink (name 'Local sink' unless given;
   * other fields such as rate_limit, max_concurrency, is_default are passed through) and returns
   * the created transport. Throws with the response body when it is not created.
   */
  addSinkTransport(
    sink: { host: string; port: number },
    extra?: SinkTransportExtra,
  ): Promise<CreatedTransport>;
  close(): Promise<void>;
}

export interface SinkTransportExtra {
  name?: string;
  [field: string]: unknown;
}

export interface CreatedTransport {
  id: string;
  [field: string]: unknown;
}

export async function createTestApp(
  overrides: Partial<Record<string, string>> = {},
  options: { logStream?: NodeJS.WritableStream } = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  const config = loadConfig({
    env: {
      HERALD_LOG_LEVEL: 'silent',
      HERALD_WORKER: 'false',
      HERALD_JOB_POLL_INTERVAL_MS: '10',
      HERALD_SECRET_KEYS: TEST_SECRET_KEY,
      ...overrides,
    },
  });
  const clock = createManualClock(new Date());
  const logger = options.logStream
    ? createLogger('debug', options.logStream as pino.DestinationStream)
    : pino({ level: config.logLevel });
  const container = createContainer({ config, database, logger, clock });
  const boot = await container.workspaces.bootstrap();
  if (!boot) throw new Error('test database was not empty');
  const app = await buildHttpApp(container);
  await app.ready();

  const auth = (key = boot.adminKey.secret) => ({ authorization: `Bearer ${key}` });
  const createKey = async (scopes: string[], workspaceId = boot.workspace.id) =>
    (await container.apiKeys.create({ workspaceId, name: 'test', scopes })).secret;

  return {
    app,
    container,
    database,
    clock,
    config,
    workspaceId: boot.workspace.id,
    adminKey: boot.adminKey.secret,
    async createWorkspace(name = 'Other') {
      const workspace = await container.workspaces.create(name);
      return { workspaceId: workspace.id, adminKey: await createKey(['admin'], workspace.id) };
    },
    createKey,
    auth,
    async addSinkTransport(sink, { name = 'Local sink', ...extra } = {}) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/transports',
        headers: auth(),
        payload: {
          name,
          type: 'smtp',
          settings: { host: sink.host, port: sink.port, tls: 'none' },
          ...extra,
        },
      });
      if (res.statusCode !== 201) {
        throw new Error(`registering the SMTP sink transport returned ${res.statusCode}: ${res.body}`);
      }
      return res.json() as CreatedTransport;
    },
    async close() {
      await app.close();
      await container.close();
    },
  };
}
