import type { FastifyInstance } from 'fastify';
import { buildApp } from '../http/build-app.js';
import type { Container } from './container.js';

export async function buildHttpApp(container: Container): Promise<FastifyInstance> {
  const app = await buildApp({
    config: container.config,
    logger: container.logger,
    deps: container.routeDeps,
  });
  return app;
}

/**
 * Serves the API (and, unless disabled, runs background jobs in the same
 * process) until SIGINT/SIGTERM, then stops accepting requests, lets running
 * jobs finish and closes the database.
 */
export async function serve(
  container: Container,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const { config, logger } = container;
  await container.migrate();
  const bootstrap = await container.workspaces.bootstrap();
  const app = await buildHttpApp(container);
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  if (bootstrap) {
    // Printed, never logged: the secret must not end up in log storage.
    out.write(
      [
        '',
        'Herald created the workspace "Default" and its first admin API key.',
        'It is shown only this once; store it now:',
        '',
        `    ${bootstrap.adminKey.secret}`,
        '',
        `  curl -H "Authorization: Bearer ${bootstrap.adminKey.secret}" http://${hostFor(config.host)}:${port}/v1/workspace`,
        '',
      ].join('\n'),
    );
  }
  out.write(`Herald is listening on http://${hostFor(config.host)}:${port} (API docs at /docs)\n`);
  if (config.worker) container.startWorkers();

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      app
        .close()
        .then(() => container.close())
        .catch((error: Error) => logger.error({ err: error.message }, 'shutdown failed'))
        .finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

function hostFor(host: string): string {
  return host === '0.0.0.0' || host === '::' ? 'localhost' : host;
}
