import { Command, Option } from 'commander';
import { ALL_SCOPES, SCOPES } from '../../modules/auth/index.js';
import { cliActor } from './audit.js';
import { resolveWorkspace, withContainer } from './shared.js';

export function keysCommand(): Command {
  const keys = new Command('keys').description('Create, list and revoke API keys');

  keys
    .command('create')
    .description('Create an API key and print its secret (shown only once)')
    .requiredOption('--name <name>', 'a name that says who or what uses the key')
    .addOption(
      new Option(
        '--scope <scope...>',
        `scopes to grant:\n${ALL_SCOPES.map((s) => `  ${s}: ${SCOPES[s]}`).join('\n')}`,
      )
        .choices(ALL_SCOPES)
        .default(['admin']),
    )
    .option('--workspace <id>', 'workspace (default: the only one)')
    .option('--json', 'print the key as JSON')
    .action(
      async (
        options: { name: string; scope: string[]; workspace?: string; json?: boolean },
        command: Command,
      ) => {
        await withContainer(command, async (container) => {
          const workspaceId = await resolveWorkspace(container, options.workspace);
          const key = await container.apiKeys.create({
            workspaceId,
            name: options.name,
            scopes: options.scope,
          });
          await container.audit.record({
            workspaceId,
            actor: cliActor(),
            action: 'api_key.create',
            target: { type: 'api_key', id: key.id },
            details: { fields: ['name', 'scopes'], scopes: key.scopes },
          });
          if (options.json) process.stdout.write(`${JSON.stringify(key)}\n`);
          else {
            process.stdout.write(
              `Created API key ${key.id} (${key.scopes.join(', ')}). Store the secret now:\n\n`,
            );
            process.stdout.write(`    ${key.secret}\n\n`);
          }
        });
      },
    );

  keys
    .command('list')
    .description('List API keys (prefix, scopes, last use; never secrets)')
    .option('--workspace <id>', 'workspace (default: the only one)')
    .option('--json', 'print one JSON object per key')
    .action(async (options: { workspace?: string; json?: boolean }, command: Command) => {
      await withContainer(command, async (container) => {
        const workspaceId = await resolveWorkspace(container, options.workspace);
        let cursor: string | undefined;
        do {
          const page = await container.apiKeys.list(workspaceId, { cursor, limit: 500 });
          for (const key of page.data) {
            if (options.json) process.stdout.write(`${JSON.stringify(key)}\n`);
            else {
              const state = key.revoked_at ? 'revoked' : 'active';
              const used = key.last_used_at ? key.last_used_at.toISOString() : 'never used';
              process.stdout.write(
                `${key.id}  ${key.prefix}…  ${state.padEnd(7)}  ${used.padEnd(24)}  ${key.scopes.join(',')}  ${key.name}\n`,
              );
            }
          }
          cursor = page.next_cursor ?? undefined;
        } while (cursor);
      });
    });

  keys
    .command('revoke')
    .description('Revoke an API key; it stops working at once')
    .argument('<id>', 'the key id (from `herald keys list`)')
    .option('--workspace <id>', 'workspace (default: the only one)')
    .action(async (id: string, options: { workspace?: string }, command: Command) => {
      await withContainer(command, async (container) => {
        const workspaceId = await resolveWorkspace(container, options.workspace);
        const key = await container.apiKeys.revoke(workspaceId, id);
        await container.audit.record({
          workspaceId,
          actor: cliActor(),
          action: 'api_key.revoke',
          target: { type: 'api_key', id: key.id },
        });
        process.stdout.write(`Revoked ${key.id} (${key.prefix}…)\n`);
      });
    });

  return keys;
}
