import type { Command } from 'commander';
import pino from 'pino';
import { type Config, ConfigError, loadConfig } from '../../config/index.js';
import { DataDirLockedError } from '../../db/index.js';
import { systemClock } from '../../lib/clock.js';
import { type Container, createContainer, openDatabase } from '../container.js';
import { createLogger } from '../logger.js';

/** Global options every command accepts. */
export interface GlobalOptions {
  config?: string;
}

export function readConfig(command: Command): Config {
  const options = command.optsWithGlobals<GlobalOptions>();
  // The one place in Herald that reads process.env.
  return loadConfig({ env: process.env, file: options.config });
}

/** Opens the database and builds the container for a one-shot command, closing it afterwards. */
export async function withContainer<T>(
  command: Command,
  work: (container: Container) => Promise<T>,
  options: { logLevel?: Config['logLevel'] } = {},
): Promise<T> {
  const config = readConfig(command);
  // Logs go to stderr: a one-shot command's stdout is its answer (JSON for --json), for pipes like jq.
  const logger = createLogger(
    options.logLevel ?? (config.logLevel === 'info' ? 'warn' : config.logLevel),
    pino.destination(2),
  );
  const database = await openDatabase(config);
  const container = createContainer({ config, database, logger, clock: systemClock });
  try {
    await container.migrate();
    return await work(container);
  } finally {
    await container.close();
  }
}

/** Picks the workspace a command acts on: the one named, or the only one there is. */
export async function resolveWorkspace(container: Container, id: string | undefined): Promise<string> {
  if (id) return (await container.workspaces.get(id)).id;
  const all = await container.workspaces.list();
  if (all.length === 1 && all[0]) return all[0].id;
  if (all.length === 0) {
    const created = await container.workspaces.bootstrap();
    if (created) return created.workspace.id;
    return resolveWorkspace(container, undefined);
  }
  throw new UsageError(`There are ${all.length} workspaces; choose one with --workspace <id>.`);
}

export class UsageError extends Error {}

/** Prints a clear message for errors a user can fix, and a stack only for bugs. */
export function reportFatal(error: unknown): never {
  if (error instanceof ConfigError || error instanceof DataDirLockedError || error instanceof UsageError) {
    process.stderr.write(`herald: ${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof Error && error.name === 'DomainError') {
    process.stderr.write(`herald: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`herald: unexpected error\n${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
}
