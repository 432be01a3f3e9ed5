import { userInfo } from 'node:os';
import { Command } from 'commander';
import { isUuid } from '../../lib/ids.js';
import type { AuditActor, WorkspaceVerification } from '../../modules/audit/index.js';
import { UsageError, withContainer } from './shared.js';

/** The actor of a change made with the CLI: the operating-system account that ran it. */
export function cliActor(): AuditActor {
  try {
    return { type: 'cli', id: userInfo().username || null };
  } catch {
    // No passwd entry for the uid (some containers): the change is still recorded, without a name.
    return { type: 'cli', id: null };
  }
}

function describe(result: WorkspaceVerification): string {
  if (result.broken) {
    const { seq, id, message } = result.broken;
    return `BROKEN workspace ${result.workspace_id} seq ${seq} entry ${id ?? '(missing)'}: ${message}\n`;
  }
  return `intact workspace ${result.workspace_id}: ${result.entries} entries, head ${result.head_hash}\n`;
}

export function auditCommand(): Command {
  const audit = new Command('audit').description('Check the audit log');

  audit
    .command('verify')
    .description(
      'Recompute the hash chain of the audit log. Exits 0 with a summary when it is intact; otherwise ' +
        'exits 1 and names, per workspace, the first broken entry (seq and id) and why: hash mismatch ' +
        '(a column was changed), prev_hash mismatch, seq gap (an entry was removed), head mismatch ' +
        '(an entry was added behind Herald). Record the printed head hashes elsewhere: a rewrite of a ' +
        'whole chain by a database superuser changes them.',
    )
    .option('--workspace <id>', 'only this workspace (default: every workspace with an audit log)')
    .option('--json', 'print one JSON object per workspace')
    .action(async (options: { workspace?: string; json?: boolean }, command: Command) => {
      if (options.workspace !== undefined && !isUuid(options.workspace)) {
        throw new UsageError(`--workspace ${options.workspace} is not a workspace id (a UUID)`);
      }
      const results = await withContainer(command, async (container) => {
        if (options.workspace) await container.workspaces.get(options.workspace);
        return container.audit.verify(options.workspace);
      });
      for (const result of results) {
        process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : describe(result));
      }
      const broken = results.filter((result) => result.broken);
      const entries = results.reduce((sum, result) => sum + result.entries, 0);
      if (!options.json) {
        process.stdout.write(
          broken.length === 0
            ? `Audit log intact: ${results.length} workspace(s), ${entries} entries verified.\n`
            : `Audit log BROKEN in ${broken.length} of ${results.length} workspace(s).\n`,
        );
      }
      if (broken.length > 0) process.exitCode = 1;
    });

  return audit;
}
