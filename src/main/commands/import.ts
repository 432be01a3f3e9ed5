import { createReadStream, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command, Option } from 'commander';
import type { ImportMode } from '../../db/index.js';
import type { Import, ImportService, Mapping } from '../../modules/imports/index.js';
import { resolveWorkspace, UsageError, withContainer } from './shared.js';

export interface ImportCommandOptions {
  mode?: ImportMode;
  list?: string;
  listStatus?: 'confirmed' | 'unconfirmed';
  /** "CSV Column=field" entries; field "-" ignores the column. */
  map?: string[];
  json?: boolean;
  /** File to write every stored row error to, as CSV. */
  errors?: string;
}

export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  /** Milliseconds, for rates; injectable so tests need no real time. */
  now?: () => number;
}

const ERRORS_SHOWN = 20;

/** Turns repeated --map "CSV Column=field" options into a mapping; the last = splits, as fields never contain one. */
export function parseMapOptions(entries: string[] | undefined): Mapping | undefined {
  if (!entries || entries.length === 0) return undefined;
  const mapping: Mapping = {};
  for (const entry of entries) {
    const at = entry.lastIndexOf('=');
    if (at <= 0) {
      throw new UsageError(
        `--map "${entry}" is not "CSV Column=field"; e.g. --map "E-Mail=email" --map "Plan=attributes.plan" --map "Notes=-"`,
      );
    }
    const target = entry.slice(at + 1).trim();
    mapping[entry.slice(0, at)] = target === '-' || target === '' ? null : target;
  }
  return mapping;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** A one-line progress bar redrawn in place on a terminal; silent when stderr is not one. */
function progressBar(io: CommandIo, total: number) {
  const now = io.now ?? (() => performance.now());
  const started = now();
  let bytes = 0;
  let rows = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    const width = 30;
    const ratio = total > 0 ? Math.min(1, bytes / total) : 0;
    const filled = Math.round(ratio * width);
    const seconds = Math.max((now() - started) / 1000, 0.001);
    const line =
      `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.floor(ratio * 100)
        .toString()
        .padStart(3)}% ` +
      `${formatBytes(bytes)} / ${formatBytes(total)}  ${rows.toLocaleString('en-US')} rows  ` +
      `${Math.round(rows / seconds).toLocaleString('en-US')} rows/s`;
    io.stderr.write(`\r${line.slice(0, Math.max(20, (io.stderr.columns || 120) - 1))}`);
  };
  const active = io.stderr.isTTY === true;
  if (active) {
    timer = setInterval(draw, 200);
    timer.unref();
  }
  return {
    read(n: number) {
      bytes += n;
    },
    rows(n: number) {
      rows = n;
    },
    done() {
      if (timer) clearInterval(timer);
      if (active) {
        draw();
        io.stderr.write('\n');
      }
    },
  };
}

function describe(report: Import): string {
  const n = (value: number) => value.toLocaleString('en-US');
  return (
    `${report.status === 'completed' ? 'Imported' : 'Import failed:'} ${report.filename ?? 'file'}: ` +
    `${n(report.rows_total)} rows, ${n(report.created_count)} created, ${n(report.updated_count)} updated, ` +
    `${n(report.skipped_count)} skipped, ${n(report.failed_count)} failed (import ${report.id})\n`
  );
}

function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * Runs `herald import` against a service: streams the file through the same
 * import as the API, draws progress on stderr when it is a terminal, then
 * prints the counts and the first row errors. Returns the exit code: 0 when
 * the import completed (row errors included), 1 when it failed.
 */
export async function runImportCommand(
  deps: { imports: ImportService; workspaceId: string },
  file: string,
  options: ImportCommandOptions,
  io: CommandIo,
): Promise<number> {
  const mapping = parseMapOptions(options.map);
  let size: number;
  try {
    size = statSync(file).size;
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const progress = progressBar(io, size);
  const stream = createReadStream(file);
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of stream) {
      progress.read((chunk as Buffer).length);
      yield chunk as Buffer;
    }
  }
  let report: Awaited<ReturnType<ImportService['runFromStream']>>;
  try {
    report = await deps.imports.runFromStream(
      deps.workspaceId,
      counted(),
      {
        mode: options.mode,
        listId: options.list,
        listStatus: options.listStatus,
        mapping,
        filename: basename(file),
        source: 'cli',
      },
      (totals) => progress.rows(totals.rows_total),
    );
  } finally {
    progress.done();
    stream.destroy();
  }

  if (options.json) {
    io.stdout.write(`${JSON.stringify({ ...report, errors: report.errors.slice(0, ERRORS_SHOWN) })}\n`);
  } else {
    io.stdout.write(describe(report));
    if (report.error) io.stdout.write(`  ${report.error}\n`);
    if (report.failed_count > 0) {
      const shown = report.errors.slice(0, ERRORS_SHOWN);
      io.stdout.write(
        `Row errors (first ${shown.length} of ${report.failed_count.toLocaleString('en-US')}):\n`,
      );
      for (const error of shown) io.stdout.write(`  line ${error.line}: ${error.reason}\n`);
      if (!options.errors && report.failed_count > shown.length) {
        io.stdout.write('Write all of them to a file with --errors <file>.\n');
      }
    }
  }

  if (options.errors) {
    const lines = ['line,reason'];
    let cursor: string | undefined;
    do {
      const page = await deps.imports.errors(deps.workspaceId, report.id, { cursor, limit: 1000 });
      for (const error of page.data) lines.push(`${error.line},${csvCell(error.reason)}`);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    await writeFile(options.errors, `${lines.join('\n')}\n`);
    if (!options.json) {
      const stored = lines.length - 1;
      const note =
        stored < report.failed_count ? ` (only the first ${stored.toLocaleString('en-US')} are stored)` : '';
      io.stdout.write(`Wrote ${stored.toLocaleString('en-US')} row errors to ${options.errors}${note}\n`);
    }
  }
  return report.status === 'completed' ? 0 : 1;
}

export function importCommand(): Command {
  return new Command('import')
    .description(
      'Import contacts from a CSV file in this process, with the same rules as POST /v1/imports. ' +
        'Columns map by header name: email (required), external_id, status, tags, timezone, locale, do_not_sell; ' +
        'any other column becomes an attribute.',
    )
    .argument('<file>', 'CSV file, UTF-8, header line first')
    .addOption(
      new Option(
        '--mode <mode>',
        'upsert: create and update; add: create only; unsubscribe: unsubscribe known contacts; block: block addresses',
      )
        .choices(['upsert', 'add', 'unsubscribe', 'block'])
        .default('upsert'),
    )
    .option('--list <id>', 'subscribe to this list (upsert, add) or unsubscribe from it (unsubscribe)')
    .addOption(
      new Option('--list-status <status>', "status of new list members (default: the list's opt-in)").choices(
        ['confirmed', 'unconfirmed'],
      ),
    )
    .option(
      '--map <column=field>',
      'map a column: field is email, external_id, status, tags, timezone, locale, do_not_sell, attributes.<name>, or - to ignore (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--workspace <id>', 'workspace (default: the only one)')
    .option('--errors <file>', 'write every stored row error to this file as CSV (line,reason)')
    .option('--json', 'print the report as JSON')
    .action(
      async (file: string, options: ImportCommandOptions & { workspace?: string }, command: Command) => {
        const code = await withContainer(command, async (container) => {
          const workspaceId = await resolveWorkspace(container, options.workspace);
          return runImportCommand({ imports: container.imports, workspaceId }, file, options, {
            stdout: process.stdout,
            stderr: process.stderr,
          });
        });
        process.exitCode = code;
      },
    );
}
