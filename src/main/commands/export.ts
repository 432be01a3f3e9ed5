import { randomBytes } from 'node:crypto';
import { accessSync, constants, createWriteStream, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, Option } from 'commander';
import type { ContactStatus, MembershipStatus } from '../../db/index.js';
import { isUuid } from '../../lib/ids.js';
import type { ContactFilter } from '../../modules/contacts/index.js';
import type { ExportFormat } from '../../modules/exports/index.js';
import type { Container } from '../container.js';
import { resolveWorkspace, UsageError, withContainer } from './shared.js';

const STATUSES = ['active', 'unsubscribed', 'bounced', 'complained', 'blocked'] as const;
const LIST_STATUSES = ['unconfirmed', 'confirmed', 'unsubscribed'] as const;

export interface ExportCommandOptions {
  format: ExportFormat;
  workspace?: string | undefined;
  filter: ContactFilter;
  /** Contacts fetched per query. */
  pageSize?: number | undefined;
  /** Called as rows are written, for a progress line. */
  onProgress?: ((count: number) => void) | undefined;
}

/** Options as commander hands them over, before validation. */
interface RawOptions {
  format: ExportFormat;
  out?: string;
  status?: ContactStatus;
  list?: string;
  listStatus?: MembershipStatus;
  tag?: string;
  attribute?: string[];
  workspace?: string;
  /** third_party: the file goes to another company, so do-not-sell contacts are left out (CCPA). */
  purpose?: 'internal' | 'third_party';
}

/** Checks the flags commander cannot check itself; every problem is reported at once. */
export function toExportOptions(raw: RawOptions): ExportCommandOptions {
  const problems: string[] = [];
  if (raw.list !== undefined && !isUuid(raw.list)) {
    problems.push(`--list "${raw.list}" is not a list id; list ids are UUIDs (see GET /v1/lists)`);
  }
  if (raw.listStatus && !raw.list) problems.push('--list-status needs --list <id>');
  const attributes: Record<string, unknown> = {};
  for (const pair of raw.attribute ?? []) {
    const colon = pair.indexOf(':');
    if (colon <= 0) problems.push(`--attribute "${pair}" must be name:value, e.g. --attribute plan:pro`);
    else attributes[pair.slice(0, colon)] = pair.slice(colon + 1);
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return {
    format: raw.format,
    workspace: raw.workspace,
    filter: {
      status: raw.status,
      listId: raw.list,
      listStatus: raw.listStatus,
      tag: raw.tag,
      attributes: Object.keys(attributes).length > 0 ? attributes : undefined,
      ...(raw.purpose === 'third_party' ? { shareableOnly: true } : {}),
    },
  };
}

/**
 * Streams an export into `output`, pulling pages from the database only as
 * fast as `output` accepts them. Ends `output` unless `end` is false (stdout
 * must stay open). Returns the number of contacts written.
 */
export async function runExport(
  container: Container,
  options: ExportCommandOptions,
  output: Writable,
  { end = true }: { end?: boolean } = {},
): Promise<{ count: number }> {
  const workspaceId = await resolveWorkspace(container, options.workspace);
  let result = { count: 0, complete: false };
  const file = await container.exports.contacts(workspaceId, options.filter, {
    format: options.format,
    pageSize: options.pageSize,
    onProgress: options.onProgress,
    onEnd: (r) => {
      result = r;
    },
  });
  await pipeline(file.stream, output, { end });
  // The personal data went to the output; the log gets the count only.
  container.logger.info({ exported: result.count, format: options.format }, 'contacts export finished');
  return { count: result.count };
}

/** Writes to a temporary file next to `path` and renames it, so a failed export never looks complete. */
export async function exportToFile(
  container: Container,
  options: ExportCommandOptions,
  path: string,
): Promise<{ count: number }> {
  const target = resolve(path);
  try {
    accessSync(dirname(target), constants.W_OK);
  } catch {
    throw new UsageError(`--out ${path}: the folder ${dirname(target)} does not exist or is not writable`);
  }
  const partial = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.partial`);
  // Owner-only: the file holds personal data.
  const stream = createWriteStream(partial, { mode: 0o600 });
  // An open failure may come before the pipeline listens; the pipeline still sees it as stream.errored.
  stream.on('error', () => {});
  try {
    const result = await runExport(container, options, stream);
    renameSync(partial, target);
    return result;
  } catch (error) {
    // Wait for the file to be closed (it may still be opening) so the removal is final.
    if (!stream.closed) {
      await new Promise<void>((done) => {
        stream.once('close', () => done());
        stream.destroy();
      });
    }
    rmSync(partial, { force: true });
    throw error;
  }
}

export function exportCommand(): Command {
  return new Command('export')
    .description('Export contacts as CSV or NDJSON, streaming (to stdout unless --out is given)')
    .addOption(new Option('--format <format>', 'file format').choices(['csv', 'ndjson']).default('csv'))
    .option('--out <file>', 'write to this file instead of stdout (created with owner-only permissions)')
    .addOption(new Option('--status <status>', 'only contacts with this status').choices(STATUSES))
    .option('--list <id>', 'only members of this list')
    .addOption(
      new Option('--list-status <status>', 'with --list: only memberships in this state').choices(
        LIST_STATUSES,
      ),
    )
    .option('--tag <tag>', 'only contacts with this tag')
    .option('--attribute <name:value...>', 'only contacts whose attribute equals the value; repeatable')
    .option('--workspace <id>', 'workspace (default: the only one)')
    .addOption(
      new Option(
        '--purpose <purpose>',
        'third_party: the file goes to another company; contacts flagged do_not_sell (CCPA) are left out',
      )
        .choices(['internal', 'third_party'])
        .default('internal'),
    )
    .addHelpText(
      'after',
      '\nCSV columns: id, email, external_id, status, tags (joined with ;), timezone, locale, do_not_sell,\n' +
        'created_at, updated_at, then one per attribute. `herald import` reads the file back unchanged.\n\n' +
        'Examples:\n' +
        '  herald export --out contacts.csv\n' +
        '  herald export --format ndjson --status active --tag vip > vip.ndjson\n',
    )
    .action(async (raw: RawOptions, command: Command) => {
      const options = toExportOptions(raw);
      const showProgress = Boolean(process.stderr.isTTY) && (raw.out !== undefined || !process.stdout.isTTY);
      if (showProgress) options.onProgress = (count) => process.stderr.write(`\rExported ${count} contacts`);
      await withContainer(command, async (container) => {
        const result = raw.out
          ? await exportToFile(container, options, raw.out)
          : await runExport(container, options, process.stdout, { end: false });
        if (showProgress) process.stderr.write('\r');
        if (raw.out || showProgress) {
          process.stderr.write(`Exported ${result.count} contacts${raw.out ? ` to ${raw.out}` : ''}\n`);
        }
      });
    });
}
