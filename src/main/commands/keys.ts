import { Command, Option } from 'commander';
import { ALL_SCOPES, SCOPES } from '../../modules/auth/index.js';
import {
  type RotationReport,
  rotateWorkspaceDataKey,
  upgradeLegacyValues,
} from '../../modules/data-keys/index.js';
import type { Container } from '../container.js';
import { cliActor } from './audit.js';
import { resolveWorkspace, withContainer } from './shared.js';

type Write = (line: string) => void;

/**
 * `herald keys rotate-data`: per workspace, a new data key, every encrypted
 * value re-encrypted with it in batches, then the old key retired. Resumable:
 * a run that stopped leaves the old key "retiring", and the next run finishes
 * that rotation instead of starting another. Returns false when a workspace
 * could not be completed (its old key stays, and still decrypts).
 */
export async function rotateDataKeys(
  container: Pick<Container, 'dataKeys' | 'encryptedValueSources' | 'workspaces'>,
  options: { workspace?: string | undefined; batchSize?: number | undefined },
  write: Write,
): Promise<{ ok: boolean; reports: RotationReport[] }> {
  const workspaceIds = options.workspace
    ? [(await container.workspaces.get(options.workspace)).id]
    : (await container.workspaces.list()).map((workspace) => workspace.id);
  const reports: RotationReport[] = [];
  for (const workspaceId of workspaceIds) {
    const report = await rotateWorkspaceDataKey(
      container.dataKeys,
      workspaceId,
      container.encryptedValueSources,
      {
        batchSize: options.batchSize,
      },
    );
    reports.push(report);
    write(
      `workspace ${workspaceId}: ${report.resumed ? 'resumed rotation to' : 'new'} data key ${report.keyId}`,
    );
    for (const source of report.sources) {
      write(
        `  ${source.source}: ${source.reencrypted} re-encrypted, ${source.changed} changed meanwhile, ${source.failed.length} failed`,
      );
      for (const failure of source.failed) write(`    row ${failure.id}: ${failure.error}`);
    }
    write(
      report.complete
        ? `  retired: ${report.retired.length > 0 ? report.retired.join(', ') : 'nothing to retire'}`
        : '  not complete: the old key stays until a run re-encrypts every value; run the command again',
    );
  }
  return { ok: reports.every((report) => report.complete), reports };
}

export interface RewrapReport {
  /** True when nothing stored needs a master key after the first any more. */
  ok: boolean;
  rewrapped: number;
  /** Users' TOTP secrets re-encrypted under the current master key. */
  totp: number;
  /** Workspace values moved from the old master-key format onto their data key. */
  legacy: number;
}

/**
 * `herald keys rewrap`: everything that depends on a master key is moved to
 * the first key of HERALD_SECRET_KEYS, so the older ones can be removed:
 * every data key re-wrapped, users' TOTP secrets (on the master keyring: a
 * user belongs to no one workspace) re-encrypted, and workspace values still
 * in the master-key format written before data keys moved onto their data key.
 */
export async function rewrapDataKeys(
  container: Pick<Container, 'dataKeys' | 'users' | 'workspaces' | 'encryptedValueSources'>,
  write: Write,
  options: { batchSize?: number | undefined } = {},
): Promise<RewrapReport> {
  const { rewrapped } = await container.dataKeys.rewrap(options);
  write(`Re-wrapped ${rewrapped} data key(s) under the current master key.`);
  const failures: string[] = [];
  const totp = await container.users.reencryptTotpSecrets(options);
  write(`Re-encrypted ${totp.reencrypted} TOTP secret(s) under the current master key.`);
  for (const failure of totp.failed) failures.push(`user ${failure.id} (TOTP secret): ${failure.error}`);
  let legacy = 0;
  for (const workspace of await container.workspaces.list()) {
    const reports = await upgradeLegacyValues(
      container.dataKeys,
      workspace.id,
      container.encryptedValueSources,
      options,
    );
    for (const report of reports) {
      legacy += report.reencrypted;
      for (const failure of report.failed)
        failures.push(`workspace ${workspace.id} ${report.source} row ${failure.id}: ${failure.error}`);
    }
  }
  write(`Moved ${legacy} value(s) from the old master-key format onto their workspace data key.`);
  for (const failure of failures) write(`  ${failure}`);
  write(
    failures.length === 0
      ? 'Keys after the first in HERALD_SECRET_KEYS are no longer needed for stored secrets.'
      : 'Not complete: keep the older keys in HERALD_SECRET_KEYS, fix or set again the values listed, and run the command again.',
  );
  return { ok: failures.length === 0, rewrapped, totp: totp.reencrypted, legacy };
}

export function keysCommand(): Command {
  const keys = new Command('keys').description(
    'API keys (create, list, revoke) and encryption keys (rotate-data, rewrap)',
  );

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

  keys
    .command('rotate-data')
    .description(
      'New data key per workspace; re-encrypt DKIM keys, transport, shop, CRM and OIDC credentials, webhook/mailbox secrets and sensitive contact attributes with it; retire the old key (resumable, safe while Herald runs)',
    )
    .option('--workspace <id>', 'only this workspace (default: every workspace)')
    .option('--batch-size <n>', 'values re-encrypted per batch', (value) => Number.parseInt(value, 10), 500)
    .action(async (options: { workspace?: string; batchSize: number }, command: Command) => {
      await withContainer(command, async (container) => {
        const write = (line: string) => process.stdout.write(`${line}\n`);
        const { ok } = await rotateDataKeys(container, options, write);
        if (!ok) process.exitCode = 1;
      });
    });

  keys
    .command('rewrap')
    .description(
      'Re-wrap every data key, and re-encrypt TOTP secrets and values older than data keys, under the first key of HERALD_SECRET_KEYS (master-key rotation: prepend the new key, rewrap, then remove the old one)',
    )
    .action(async (_options: unknown, command: Command) => {
      await withContainer(command, async (container) => {
        const { ok } = await rewrapDataKeys(container, (line) => process.stdout.write(`${line}\n`));
        if (!ok) process.exitCode = 1;
      });
    });

  return keys;
}
