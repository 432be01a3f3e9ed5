import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import pino from 'pino';
import { loadConfig } from '../src/config/index.js';
import { migrate, openPglite, openPostgres } from '../src/db/index.js';
import { createValidatorCompiler } from '../src/http/validation.js';
import { systemClock } from '../src/lib/clock.js';
import { generateSecretKey } from '../src/lib/secret-keys.js';
import { buildHttpApp } from '../src/main/api.js';
import { createContainer } from '../src/main/container.js';
import { ContactCreateBody, ContactSchema } from '../src/modules/contacts/contacts.schemas.js';
import { type BenchDatabase, freshPostgres } from './bench-database.js';

interface LoadResult {
  requestsPerSecond: number;
  latencyP50: number;
  latencyP99: number;
  non2xx: number;
  errors: number;
  total: number;
}

function load(url: string, authorization: string, seconds: number, connections: number): Promise<LoadResult> {
  const script = fileURLToPath(new URL('./load-child.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [script, url, authorization, String(seconds), String(connections)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load exit ${code}`)),
    );
  });
}

/** The baseline: the same route, body schema and serializer, but no database work. */
async function startNoopServer() {
  const app = Fastify({ logger: false }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(createValidatorCompiler());
  const now = new Date();
  app.put(
    '/v1/contacts',
    { schema: { body: ContactCreateBody, response: { 200: ContactSchema } } },
    async (request) => ({
      id: '01900000-0000-7000-8000-000000000000',
      email: request.body.email,
      external_id: null,
      status: 'active' as const,
      attributes: request.body.attributes ?? {},
      tags: request.body.tags ?? [],
      timezone: null,
      locale: null,
      tracking_consent: true,
      do_not_sell: false,
      created_at: now,
      updated_at: now,
    }),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return {
    app,
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1/contacts`,
  };
}

export async function benchApiUpsert(options: {
  seconds: number;
  connections: number;
  postgresUrl?: string | undefined;
}) {
  const noop = await startNoopServer();
  await load(noop.url, '', 2, options.connections); // warm-up
  const baseline = await load(noop.url, '', options.seconds, options.connections);
  await noop.app.close();

  const results: { target: string; result: LoadResult }[] = [];
  const targets: ('pglite' | 'postgres')[] = options.postgresUrl ? ['pglite', 'postgres'] : ['pglite'];
  for (const target of targets) {
    const bench: BenchDatabase | undefined =
      target === 'postgres' ? await freshPostgres(options.postgresUrl as string) : undefined;
    const database = bench ? openPostgres({ url: bench.url, poolSize: 10 }) : await openPglite({});
    await migrate(database.db);
    const config = loadConfig({
      env: {
        HERALD_LOG_LEVEL: 'silent',
        HERALD_RATE_LIMIT_PER_MINUTE: '100000000',
        HERALD_SECRET_KEYS: generateSecretKey(),
      },
    });
    const container = createContainer({
      config,
      database,
      logger: pino({ level: 'silent' }),
      clock: systemClock,
    });
    const boot = await container.workspaces.bootstrap();
    const app = await buildHttpApp(container);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1/contacts`;
    const auth = `Bearer ${boot?.adminKey.secret}`;
    await load(url, auth, 2, options.connections);
    results.push({ target, result: await load(url, auth, options.seconds, options.connections) });
    await app.close();
    await container.close();
    await bench?.drop();
  }

  console.log('\n== Contact upsert API (PUT /v1/contacts, real HTTP, load from a separate process) ==');
  console.log(
    `baseline: Fastify route with the same schemas, no database: ${baseline.requestsPerSecond.toFixed(0)} req/s ` +
      `(p50 ${baseline.latencyP50} ms, p99 ${baseline.latencyP99} ms)`,
  );
  for (const { target, result } of results) {
    console.log(
      `${target.padEnd(8)}: ${result.requestsPerSecond.toFixed(0)} req/s, ratio to baseline ${(
        result.requestsPerSecond / baseline.requestsPerSecond
      ).toFixed(3)} (p50 ${result.latencyP50} ms, p99 ${result.latencyP99} ms, ${result.total} requests, ` +
        `${result.non2xx} non-2xx, ${result.errors} errors)`,
    );
  }
}
