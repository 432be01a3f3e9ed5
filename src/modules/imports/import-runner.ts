import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type Info, type Parser, parse } from 'csv-parse';
import type { DatabaseHandle, ImportMode, MembershipStatus } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError } from '../../lib/errors.js';
import type { Definitions } from '../attributes/index.js';
import { erasedError, type HygienePolicy, type MxCheck, noMailError } from '../contacts/index.js';
import {
  type ColumnPlan,
  checkRow,
  csvError,
  csvOptions,
  type ImportRow,
  isBlank,
  LineCounter,
  MAX_RECORD_BYTES,
  type Mapping,
  resolveMapping,
} from './csv-rows.js';
import {
  type BatchError,
  type BatchWarning,
  type MergeInput,
  type MergeResult,
  mergeBatch,
  type StagingLoader,
} from './imports.repository.js';

/** Row errors stored per import; failed counts every bad row even past this. */
export const MAX_STORED_ERRORS = 10_000;

export interface RunnerDeps {
  database: Pick<DatabaseHandle, 'pool'>;
  loader: StagingLoader;
  clock: Clock;
  /** Valid rows per set-based merge. */
  batchSize: number;
  onUnconfirmedSubscribed?: MergeInput['onUnconfirmedSubscribed'];
}

export interface RunInput {
  workspaceId: string;
  importId: string;
  mode: ImportMode;
  listId: string | null;
  memberStatus: MembershipStatus;
  statusAsserted: boolean;
  mapping: Mapping | undefined;
  definitions: Definitions;
  /** The workspace's list hygiene policy, applied to each row's email (not in unsubscribe and block modes). */
  hygiene: HygienePolicy;
  /** The DNS check, given when the policy's mx_check is on: a row whose domain takes no mail is refused. */
  mx?: MxCheck | undefined;
  /** True for an address erased at the person's request (privacy module): such a row is reported, never imported. */
  erased?: ((emailKey: string) => boolean) | undefined;
  /** Data rows already committed by an earlier attempt: read again but not merged again. */
  skipRows: number;
  /** Errors already stored by an earlier attempt. */
  storedErrors: number;
  signal?: AbortSignal | undefined;
  /** Called once the header is mapped, before anything is written. */
  onHeader?: ((plan: ColumnPlan) => Promise<void>) | undefined;
  /**
   * Encrypts the values of sensitive attributes in a batch's rows (attributes module), before the
   * batch's transaction opens: the cipher may read the database.
   */
  sealAttributes?:
    | ((attributes: (Record<string, unknown> | null)[]) => Promise<(Record<string, unknown> | null)[]>)
    | undefined;
  /** Called after each batch commits. */
  onBatch?: ((result: MergeResult) => void | Promise<void>) | undefined;
}

type ParsedRecord = { record: string[]; info: Info };

/**
 * Streams a CSV through validation into set-based batch merges. Memory holds
 * one batch of rows and the parser's window, whatever the file size. A batch
 * is flushed early when a row repeats an email (or external_id) already in
 * it, so later rows update earlier ones in file order and ON CONFLICT never
 * meets the same row twice in one statement. Returns the bytes read.
 */
export async function runCsv(
  source: AsyncIterable<Buffer | string> | Readable,
  deps: RunnerDeps,
  input: RunInput,
): Promise<{ bytes: number }> {
  const counter = new LineCounter();
  let bytes = 0;
  const counting = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      counter.feed(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      counter.end();
      done();
    },
  });
  const parser = parse(csvOptions());
  const flowing = pipeline(
    source instanceof Readable ? source : Readable.from(source, { objectMode: false }),
    counting,
    parser,
  );
  // The loop below sees the same error through the parser; this only keeps it from going unhandled.
  flowing.catch(() => {});

  let plan: ColumnPlan | undefined;
  let previousEnd = 0;
  let seen = 0;
  let storedErrors = input.storedErrors;
  const batch: ImportRow[] = [];
  const keys = new Set<string>();
  const externalIds = new Set<string>();
  let errors: BatchError[] = [];
  let warnings: BatchWarning[] = [];
  let rowsRead = 0;

  async function flush(): Promise<void> {
    if (rowsRead === 0) return;
    if (input.signal?.aborted) {
      throw new Error('import interrupted by shutdown; it resumes after the last committed batch');
    }
    if (input.sealAttributes && batch.some((row) => row.attributes)) {
      const sealed = await input.sealAttributes(batch.map((row) => row.attributes));
      for (const [i, row] of batch.entries()) row.attributes = sealed[i] ?? null;
    }
    const result = await mergeBatch(deps.database, deps.loader, {
      workspaceId: input.workspaceId,
      importId: input.importId,
      mode: input.mode,
      listId: input.listId,
      memberStatus: input.memberStatus,
      statusAsserted: input.statusAsserted,
      now: deps.clock.now(),
      rows: batch,
      errors,
      warnings,
      rowsRead,
      errorCapacity: MAX_STORED_ERRORS - storedErrors,
      onUnconfirmedSubscribed: deps.onUnconfirmedSubscribed,
    });
    storedErrors += result.storedErrors;
    batch.length = 0;
    keys.clear();
    externalIds.clear();
    errors = [];
    warnings = [];
    rowsRead = 0;
    await input.onBatch?.(result);
  }

  try {
    for await (const { record, info } of parser as AsyncIterable<ParsedRecord>) {
      const line = counter.lineAt(previousEnd);
      previousEnd = info.bytes;
      if (isBlank(record)) continue;
      if (!plan) {
        plan = resolveMapping(record, input.mapping, input.mode);
        await input.onHeader?.(plan);
        continue;
      }
      seen++;
      if (seen <= input.skipRows) continue;
      let checked = checkRow(record, line, plan, input.definitions, input.mode, input.hygiene);
      if (checked.ok && input.mx && input.mode !== 'unsubscribe' && input.mode !== 'block') {
        // The checker caches each domain, so a file of one domain costs one lookup.
        const domain = checked.row.key.slice(checked.row.key.lastIndexOf('@') + 1);
        if ((await input.mx(domain)) === 'no_mail')
          checked = { ok: false, reason: noMailError(domain).message };
      }
      if (checked.ok && input.erased?.(checked.row.key))
        checked = { ok: false, reason: `erased: ${erasedError().message}` };
      if (checked.ok) {
        const row = checked.row;
        if (keys.has(row.key) || (row.externalId !== null && externalIds.has(row.externalId))) await flush();
        // Kept with the batch the row merges in, so a resumed import stores each warning once.
        for (const w of checked.warnings ?? [])
          warnings.push({ line, code: w.code, message: w.message, suggestion: w.suggestion ?? null });
        batch.push(row);
        keys.add(row.key);
        if (row.externalId !== null) externalIds.add(row.externalId);
      } else {
        errors.push({ line, reason: checked.reason });
      }
      rowsRead++;
      if (batch.length >= deps.batchSize || errors.length >= deps.batchSize) await flush();
    }
  } catch (error) {
    const invalid = csvError(error, counter.lineAt(previousEnd));
    if (!invalid) throw error;
    // Rows before the broken record are good: keep them, then report where the file breaks.
    await flush();
    throw invalid;
  }
  if (!plan) {
    throw new DomainError(
      'INVALID_CSV',
      'the file is empty: its first line must be a header naming the columns, e.g. email,first_name',
    );
  }
  await flush();
  await flowing;
  return { bytes };
}

/**
 * Checks an upload's CSV structure while it streams in, before the job runs:
 * finds the header (so the mapping is checked before anything is stored) and
 * any error that would stop the parser (a quote never closed), with its line.
 */
export class CsvScan {
  header: string[] | undefined;
  rows = 0;
  private error: Error | undefined;
  private readonly counter = new LineCounter();
  private readonly parser: Parser = parse(csvOptions());
  private previousEnd = 0;
  private readonly done: Promise<void>;

  constructor() {
    this.parser.on('data', ({ record, info }: ParsedRecord) => {
      this.counter.lineAt(this.previousEnd);
      this.previousEnd = info.bytes;
      if (isBlank(record)) return;
      if (this.header) this.rows++;
      else this.header = record;
    });
    this.done = new Promise((resolve) => {
      this.parser.on('end', resolve);
      this.parser.on('error', (error) => {
        this.error = csvError(error, this.counter.lineAt(this.previousEnd)) ?? error;
        resolve();
      });
    });
  }

  write(chunk: Buffer): void {
    if (this.error) throw this.error;
    this.counter.feed(chunk);
    this.parser.write(chunk);
  }

  /** The header once the parser has caught up; INVALID_CSV when it is broken or longer than a record may be. */
  async headerSoFar(): Promise<string[]> {
    await nextTurn();
    if (this.error) throw this.error;
    if (this.header) return this.header;
    throw new DomainError(
      'INVALID_CSV',
      `line 1: the header is longer than ${MAX_RECORD_BYTES / 1024 / 1024} MiB; check that the file is a CSV with a header line`,
    );
  }

  async finish(): Promise<string[]> {
    this.counter.end();
    this.parser.end();
    await this.done;
    if (this.error) throw this.error;
    if (!this.header) {
      throw new DomainError(
        'INVALID_CSV',
        'the file is empty: its first line must be a header naming the columns, e.g. email,first_name',
      );
    }
    return this.header;
  }

  destroy(): void {
    this.parser.destroy();
  }
}
