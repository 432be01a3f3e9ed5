import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { Command } from 'commander';
import { isUuid } from '../../lib/ids.js';
import type { AuditActor, ChainAnchor, WorkspaceVerification } from '../../modules/audit/index.js';
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

/**
 * Anchors from a file of earlier `herald audit verify --json` output: one JSON
 * object per line with workspace_id, entries (the seq of the last intact
 * entry) and head_hash. A line that is not one is refused with its number.
 */
export function parseAnchors(text: string, file: string): Map<string, ChainAnchor> {
  const anchors = new Map<string, ChainAnchor>();
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `${file} line ${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new UsageError(`${where} is not JSON (expected a line of herald audit verify --json output)`);
    }
    const { workspace_id: workspaceId, entries, head_hash: hash } = (value ?? {}) as Record<string, unknown>;
    if (typeof workspaceId !== 'string' || !isUuid(workspaceId))
      throw new UsageError(`${where}: workspace_id is missing or not a workspace id`);
    if (typeof entries !== 'number' || !Number.isSafeInteger(entries) || entries < 0)
      throw new UsageError(`${where}: entries is missing or not a whole number of entries`);
    if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash))
      throw new UsageError(`${where}: head_hash is missing or not a SHA-256 hash in hex`);
    // The latest anchor of a workspace checks the most: later lines win.
    anchors.set(workspaceId, { seq: entries, hash });
  });
  return anchors;
}

function readAnchors(file: string): Map<string, ChainAnchor> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--anchors ${file} cannot be read: ${(error as Error).message}`);
  }
  return parseAnchors(text, file);
}

export function auditCommand(): Command {
  const audit = new Command('audit').description('Check the audit log');

  audit
    .command('verify')
    .description(
      'Recompute the hash chain of the audit log. Exits 0 with a summary when it is intact; otherwise ' +
        'exits 1 and names, per workspace, the first broken entry (seq and id) and why: hash mismatch ' +
        '(a column was changed), prev_hash mismatch, seq gap (an entry was removed), head mismatch ' +
        '(an entry was added behind Herald), anchor mismatch (an entry no longer has the hash an earlier ' +
        'run recorded). Keep the --json output somewhere the database cannot reach and pass it back with ' +
        '--anchors: a rewrite of a whole chain by someone who can write the database is caught only there.',
    )
    .option('--workspace <id>', 'only this workspace (default: every workspace with an audit log)')
    .option('--json', 'print one JSON object per workspace (the format --anchors reads)')
    .option(
      '--anchors <file>',
      'earlier --json output: each workspace entry must still carry the head hash recorded there',
    )
    .action(async (options: { workspace?: string; json?: boolean; anchors?: string }, command: Command) => {
      if (options.workspace !== undefined && !isUuid(options.workspace)) {
        throw new UsageError(`--workspace ${options.workspace} is not a workspace id (a UUID)`);
      }
      const anchors = options.anchors ? readAnchors(options.anchors) : new Map<string, ChainAnchor>();
      const results = await withContainer(command, async (container) => {
        if (options.workspace) await container.workspaces.get(options.workspace);
        return container.audit.verify(options.workspace, anchors);
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
