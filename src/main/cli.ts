import { Command, Option } from 'commander';
import { SETTINGS } from '../config/index.js';
import { systemClock } from '../lib/clock.js';
import { serve } from './api.js';
import { auditCommand } from './commands/audit.js';
import { bouncesCommand } from './commands/bounces.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { keysCommand } from './commands/keys.js';
import { readConfig, reportFatal, withContainer } from './commands/shared.js';
import { usersCommand } from './commands/users.js';
import { createContainer, openDatabase } from './container.js';
import { createLogger } from './logger.js';

const settingsHelp = Object.entries(SETTINGS)
  .map(([key, spec]) => {
    const fallback = 'default' in spec ? ` (default ${String(spec.default)})` : '';
    return `  ${spec.env.padEnd(30)} ${spec.description}${fallback} [config file: "${key}"]`;
  })
  .join('\n');

export function buildCli(): Command {
  const program = new Command('herald')
    .description('Herald: self-hosted email marketing backend')
    .addOption(new Option('--config <file>', 'JSON config file (also HERALD_CONFIG)'))
    .showHelpAfterError()
    .addHelpText(
      'after',
      `\nConfiguration (environment variables override the config file):\n${settingsHelp}\n`,
    );

  program
    .command('serve')
    .description('Run the HTTP API (and background jobs unless HERALD_WORKER=false); migrates first')
    .action(async (_options, command: Command) => {
      const config = readConfig(command);
      const logger = createLogger(config.logLevel);
      const database = await openDatabase(config);
      await serve(createContainer({ config, database, logger, clock: systemClock }));
    });

  program
    .command('worker')
    .description('Run background jobs only (for deployments with separate API and worker processes)')
    .action(async (_options, command: Command) => {
      const config = readConfig(command);
      const logger = createLogger(config.logLevel);
      const database = await openDatabase(config);
      const container = createContainer({ config, database, logger, clock: systemClock });
      await container.migrate();
      container.startWorkers();
      logger.info('worker started');
      await new Promise<void>((resolve) => {
        const stop = () => void container.close().finally(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });

  program
    .command('migrate')
    .description('Apply pending database migrations and exit')
    .action(async (_options, command: Command) => {
      await withContainer(command, async (container) => {
        // withContainer already migrated; report the state.
        const applied = await container.db
          .selectFrom('schema_migrations')
          .select(['name'])
          .orderBy('version')
          .execute();
        process.stdout.write(
          `Database is at ${applied.at(-1)?.name ?? 'no migration'} (${applied.length} applied)\n`,
        );
      });
    });

  program.addCommand(keysCommand());
  program.addCommand(usersCommand());
  program.addCommand(exportCommand());
  program.addCommand(importCommand());
  program.addCommand(bouncesCommand());
  program.addCommand(auditCommand());
  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((error: unknown) => reportFatal(error));
