import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import { ROLE_DESCRIPTIONS, ROLES, type Role } from '../../modules/users/index.js';
import { resolveWorkspace, UsageError, withContainer } from './shared.js';

/**
 * Reads the password for `users create`: HERALD_USER_PASSWORD, or a prompt
 * on a terminal. A secret input of this one command, not a setting, so it is
 * not in the settings table.
 */
async function readPassword(): Promise<string> {
  const given = process.env.HERALD_USER_PASSWORD;
  if (given) return given;
  if (!process.stdin.isTTY)
    throw new UsageError('Set HERALD_USER_PASSWORD, or run on a terminal to be asked for the password.');
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    process.stdout.write('Password: ');
    // Muted echo: the password is not shown while typed.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
    rl.question('', (answer) => {
      rl.close();
      process.stdout.write('\n');
      resolve(answer);
    });
  });
}

export function usersCommand(): Command {
  const users = new Command('users').description('Create users (sign-in accounts) and give them roles');

  users
    .command('create')
    .description(
      'Create a user with a role in a workspace (or add the role to the user with that address); password from HERALD_USER_PASSWORD or a prompt',
    )
    .requiredOption('--email <email>', 'the sign-in address')
    .addOption(
      new Option(
        '--role <role>',
        `role in the workspace:\n${ROLES.map((r) => `  ${r}: ${ROLE_DESCRIPTIONS[r]}`).join('\n')}`,
      )
        .choices(ROLES)
        .makeOptionMandatory(),
    )
    .option('--workspace <id>', 'workspace (default: the only one)')
    .option('--json', 'print the user as JSON')
    .action(
      async (
        options: { email: string; role: Role; workspace?: string; json?: boolean },
        command: Command,
      ) => {
        await withContainer(command, async (container) => {
          const workspaceId = await resolveWorkspace(container, options.workspace);
          const password = await readPassword();
          const result = await container.users.createUser({
            email: options.email,
            password,
            workspaceId,
            role: options.role,
          });
          if (options.json)
            process.stdout.write(`${JSON.stringify({ ...result, workspace_id: workspaceId })}\n`);
          else
            process.stdout.write(
              `${result.created ? 'Created user' : 'Added existing user'} ${result.user.email} (${result.user.id}) as ${result.role} of workspace ${workspaceId}. Sign in with POST /v1/session.\n`,
            );
        });
      },
    );

  return users;
}
