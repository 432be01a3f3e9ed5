import type { Readable } from 'node:stream';
import type { DatabaseHandle, Db, ImportMode, ImportStatus, MembershipStatus } from '../../db/index.js';
import type { JobQueue } from '../../jobs/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, encodeCursor, type Page } from '../../lib/cursor.js';
import { DomainError, type ErrorDetail } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import type { AttributeService } from '../attributes/index.js';
import type { HygienePolicy, MxCheck } from '../contacts/index.js';
import { checkMapping, type Mapping, resolveMapping } from './csv-rows.js';
import { CsvScan, MAX_STORED_ERRORS, runCsv } from './import-runner.js';
import * as repo from './imports.repository.js';

export const IMPORT_TASK = 'imports.run';
/** Attempts of the import job; the last failed attempt marks the import failed. */
export const IMPORT_MAX_ATTEMPTS = 3;
/** Size of the stored pieces of an uploaded file. */
export const CHUNK_BYTES = 1024 * 1024;

export interface Import {
  id: string;
  status: ImportStatus;
  mode: ImportMode;
  list_id: string | null;
  filename: string | null;
  source: 'api' | 'cli';
  /** Column -> target the import uses (the header mapped by name, with the caller's mapping applied). */
  mapping: Record<string, string | null> | null;
  size_bytes: number;
  rows_total: number;
  created_count: number;
  updated_count: number;
  skipped_count: number;
  failed_count: number;
  /** Rows imported with a hygiene warning (counted per warning). */
  warning_count: number;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface ImportRowError {
  line: number;
  reason: string;
}

export interface ImportRowWarning {
  line: number;
  code: string;
  message: string;
  suggestion: string | null;
}

export interface ImportWithErrors extends Import {
  /** The first 100 row errors by line; GET /v1/imports/{id}/errors pages through all of them. */
  errors: ImportRowError[];
  /** The first 100 hygiene warnings by line: rows that imported with a role address or a likely typo. */
  warnings: ImportRowWarning[];
}

export interface ImportOptions {
  mode?: ImportMode | undefined;
  listId?: string | undefined;
  /** Membership status for new list members; default confirmed for single opt-in lists, unconfirmed for double. */
  listStatus?: 'confirmed' | 'unconfirmed' | undefined;
  mapping?: Mapping | undefined;
  filename?: string | undefined;
}

export interface ImportJobPayload {
  importId: string;
  listId: string | null;
  memberStatus: MembershipStatus;
  /** The caller gave list_status, asserting consent, rather than taking the list's opt-in. */
  statusAsserted: boolean;
}

export interface ImportServiceDeps {
  db: Db;
  database: Pick<DatabaseHandle, 'kind' | 'pool'>;
  clock: Clock;
  jobs: JobQueue;
  attributes: AttributeService;
  /** The workspace's list hygiene policy (the contacts service's), read when an import runs. */
  hygienePolicy: (workspaceId: string) => Promise<HygienePolicy>;
  /** DNS lookup for workspaces with hygiene mx_check on. */
  mx?: MxCheck | undefined;
  /** A per-row check of addresses erased at the person's request (the privacy module's erasedMatcher). */
  erasedMatcher?: ((workspaceId: string) => Promise<(emailKey: string) => boolean>) | undefined;
  /** Largest upload accepted by `receive`. */
  maxBytes: number;
  /** Valid rows per set-based merge; default 5,000. */
  batchSize?: number;
  /** Called in each batch's transaction with new unconfirmed members (double opt-in confirmations). */
  onUnconfirmedSubscribed?: repo.MergeInput['onUnconfirmedSubscribed'];
  /** How batches reach the staging table; default COPY on PostgreSQL, unnest on PGlite. */
  loader?: repo.StagingLoader;
}

export function createImportService(deps: ImportServiceDeps) {
  const { db, clock, jobs, attributes } = deps;
  const runnerDeps = {
    database: deps.database,
    loader: deps.loader ?? repo.defaultLoader(deps.database.kind),
    clock,
    batchSize: deps.batchSize ?? 5000,
    onUnconfirmedSubscribed: deps.onUnconfirmedSubscribed,
  };

  async function hygieneOf(
    workspaceId: string,
  ): Promise<{ hygiene: HygienePolicy; mx?: MxCheck; erased?: (emailKey: string) => boolean }> {
    const hygiene = await deps.hygienePolicy(workspaceId);
    const erased = deps.erasedMatcher ? { erased: await deps.erasedMatcher(workspaceId) } : {};
    return hygiene.mx_check && deps.mx ? { hygiene, mx: deps.mx, ...erased } : { hygiene, ...erased };
  }

  /** Checks everything that does not need the file, so bad options are refused before a byte is read. */
  async function prepare(workspaceId: string, options: ImportOptions) {
    const mode = options.mode ?? 'upsert';
    const mapping = checkMapping(options.mapping);
    const problems: ErrorDetail[] = [];
    if (options.listId && mode === 'block') {
      problems.push({
        path: '/list_id',
        message: 'mode block applies to the whole workspace; leave out list_id',
      });
    }
    if (options.listStatus && !options.listId) {
      problems.push({ path: '/list_status', message: 'list_status needs a list_id' });
    }
    if (options.listStatus && mode !== 'upsert' && mode !== 'add') {
      problems.push({
        path: '/list_status',
        message: `list_status applies to modes upsert and add, not ${mode}`,
      });
    }
    if (problems.length > 0) {
      throw new DomainError('VALIDATION_FAILED', problems.map((p) => p.message).join('; '), problems);
    }
    let memberStatus: MembershipStatus = 'confirmed';
    if (options.listId) {
      const list = await repo.findList(db, workspaceId, options.listId);
      if (!list) {
        throw new DomainError(
          'LIST_NOT_FOUND',
          `list ${options.listId} does not exist in this workspace; GET /v1/lists shows the lists there are`,
          [{ path: '/list_id', message: 'unknown list' }],
        );
      }
      memberStatus = options.listStatus ?? (list.opt_in === 'double' ? 'unconfirmed' : 'confirmed');
    }
    return {
      mode,
      mapping,
      listId: options.listId ?? null,
      memberStatus,
      statusAsserted: options.listStatus !== undefined,
    };
  }

  async function finish(
    id: string,
    status: 'completed' | 'failed',
    error: string | null,
    sizeBytes?: number,
  ) {
    await db.transaction().execute(async (trx) => {
      await repo.updateImport(trx, id, {
        status,
        error,
        finished_at: clock.now(),
        ...(sizeBytes === undefined ? {} : { size_bytes: sizeBytes }),
      });
      await repo.deleteChunks(trx, id);
    });
  }

  async function withErrors(row: repo.ImportRecordRow): Promise<ImportWithErrors> {
    const errors = await repo.listErrors(db, row.id, { afterLine: 0, limit: 100 });
    const warnings = row.warning_count > 0 ? await repo.listWarnings(db, row.id, 100) : [];
    return { ...toImport(row), errors, warnings };
  }

  async function* storedFile(importId: string): AsyncGenerator<Buffer> {
    let after = -1;
    for (;;) {
      // A few chunks per query: the file is never in memory as a whole.
      const chunks = await repo.readChunks(db, importId, after, 4);
      for (const chunk of chunks) {
        after = chunk.seq;
        yield chunk.data;
      }
      if (chunks.length < 4) return;
    }
  }

  return {
    /**
     * Receives an uploaded CSV: checks the options, streams the body into
     * import_chunks while checking the CSV structure, refuses a bad mapping
     * as soon as the header is read, then queues the import job in the same
     * transaction that marks the import queued. On any refusal nothing stays
     * stored.
     */
    async receive(
      workspaceId: string,
      body: AsyncIterable<Buffer | string>,
      options: ImportOptions & { contentLength?: number | undefined },
      origin: { source: 'api' | 'cli'; sourceId: string | null },
    ): Promise<ImportWithErrors> {
      const prepared = await prepare(workspaceId, options);
      const tooLarge = () =>
        new DomainError(
          'PAYLOAD_TOO_LARGE',
          `the file is larger than the ${deps.maxBytes} bytes an import accepts (HERALD_IMPORT_MAX_BYTES); split it, or run \`herald import <file>\` on the server`,
        );
      if (options.contentLength !== undefined && options.contentLength > deps.maxBytes) throw tooLarge();

      const scan = new CsvScan();
      // Set by store() once the header is mapped; held in an object so later reads see it.
      const state: { record?: repo.ImportRecordRow } = {};
      let seq = 0;
      let size = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;

      const store = async (data: Buffer, header: string[]) => {
        if (!state.record) {
          const plan = resolveMapping(header, prepared.mapping, prepared.mode);
          const now = clock.now();
          state.record = await repo.insertImport(db, {
            id: uuidv7(now.getTime()),
            workspace_id: workspaceId,
            status: 'receiving',
            mode: prepared.mode,
            list_id: prepared.listId,
            mapping: JSON.stringify(plan.resolved),
            filename: options.filename ?? null,
            source: origin.source,
            source_id: origin.sourceId,
            created_at: now,
          });
        }
        await repo.insertChunk(db, state.record.id, seq++, data);
      };

      try {
        for await (const piece of body) {
          const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
          size += chunk.length;
          if (size > deps.maxBytes) throw tooLarge();
          scan.write(chunk);
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes >= CHUNK_BYTES) {
            const header = await scan.headerSoFar();
            const all = Buffer.concat(pending);
            let offset = 0;
            for (; offset + CHUNK_BYTES <= all.length; offset += CHUNK_BYTES) {
              await store(all.subarray(offset, offset + CHUNK_BYTES), header);
            }
            pending = offset < all.length ? [all.subarray(offset)] : [];
            pendingBytes = all.length - offset;
          }
        }
        const header = await scan.finish();
        if (pendingBytes > 0 || !state.record) await store(Buffer.concat(pending), header);
        const stored = state.record as repo.ImportRecordRow;
        const payload: ImportJobPayload = {
          importId: stored.id,
          listId: prepared.listId,
          memberStatus: prepared.memberStatus,
          statusAsserted: prepared.statusAsserted,
        };
        const queued = await db.transaction().execute(async (trx) => {
          const row = await repo.updateImport(trx, stored.id, { status: 'queued', size_bytes: size });
          await jobs.enqueue(
            IMPORT_TASK,
            payload,
            { workspaceId, idempotencyKey: stored.id, maxAttempts: IMPORT_MAX_ATTEMPTS },
            trx,
          );
          return row;
        });
        if (!queued) throw new Error(`import ${stored.id} vanished while it was being received`);
        return { ...toImport(queued), errors: [], warnings: [] };
      } catch (error) {
        scan.destroy();
        if (state.record) await repo.deleteImport(db, state.record.id);
        throw error;
      }
    },

    /**
     * Runs a queued import from its stored file (the job handler). Counters
     * commit with each batch, so after a crash the next attempt skips the rows
     * already committed instead of counting them twice. A bad file fails the
     * import for good; other errors are left to the job's retries.
     */
    async run(
      payload: ImportJobPayload,
      context: { attempt: number; signal?: AbortSignal | undefined },
    ): Promise<void> {
      const row = await repo.findImportById(db, payload.importId);
      if (!row || row.status === 'completed' || row.status === 'failed' || row.status === 'receiving') return;
      if (payload.listId && row.list_id !== payload.listId) {
        await finish(row.id, 'failed', 'the list was deleted before the import ran; nothing was imported');
        return;
      }
      const running = await repo.transitionImport(db, row.id, ['queued', 'running'], {
        status: 'running',
        started_at: row.started_at ?? clock.now(),
      });
      if (!running) return;
      try {
        await runCsv(storedFile(row.id), runnerDeps, {
          workspaceId: row.workspace_id,
          importId: row.id,
          mode: row.mode,
          listId: row.list_id,
          memberStatus: payload.memberStatus,
          statusAsserted: payload.statusAsserted,
          mapping: row.mapping ?? undefined,
          definitions: await attributes.definitions(row.workspace_id),
          sealAttributes: (values) => attributes.sealMany(row.workspace_id, values),
          ...(await hygieneOf(row.workspace_id)),
          skipRows: running.rows_total,
          storedErrors: await repo.countErrors(db, row.id),
          signal: context.signal,
        });
        await finish(row.id, 'completed', null);
      } catch (error) {
        if (error instanceof DomainError) {
          await finish(row.id, 'failed', error.message);
          return;
        }
        if (context.attempt >= IMPORT_MAX_ATTEMPTS) {
          await finish(row.id, 'failed', 'the import stopped on an internal error; upload the file again');
        }
        throw error;
      }
    },

    /** Marks an import failed when its job is given up, unless it already finished. */
    async abandon(importId: string): Promise<void> {
      const row = await repo.findImportById(db, importId);
      if (!row || row.status === 'completed' || row.status === 'failed') return;
      await finish(importId, 'failed', 'the import stopped on an internal error; upload the file again');
    },

    /**
     * Runs an import in-process from a stream (CLI, benchmarks): same parsing,
     * validation and merge as the job, without storing the file. The import
     * is recorded once its header is mapped. `onProgress` gets the totals
     * after every committed batch.
     */
    async runFromStream(
      workspaceId: string,
      stream: Readable | AsyncIterable<Buffer | string>,
      options: ImportOptions & { source?: 'api' | 'cli'; sourceId?: string | null },
      onProgress?: (progress: Import) => void,
    ): Promise<ImportWithErrors> {
      const prepared = await prepare(workspaceId, options);
      const definitions = await attributes.definitions(workspaceId);
      const id = uuidv7(clock.now().getTime());
      const state = { created: false };
      try {
        const { bytes } = await runCsv(stream, runnerDeps, {
          workspaceId,
          importId: id,
          mode: prepared.mode,
          listId: prepared.listId,
          memberStatus: prepared.memberStatus,
          statusAsserted: prepared.statusAsserted,
          mapping: prepared.mapping,
          definitions,
          sealAttributes: (values) => attributes.sealMany(workspaceId, values),
          ...(await hygieneOf(workspaceId)),
          skipRows: 0,
          storedErrors: 0,
          onHeader: async (plan) => {
            const now = clock.now();
            await repo.insertImport(db, {
              id,
              workspace_id: workspaceId,
              status: 'running',
              mode: prepared.mode,
              list_id: prepared.listId,
              mapping: JSON.stringify(plan.resolved),
              filename: options.filename ?? null,
              source: options.source ?? 'cli',
              source_id: options.sourceId ?? null,
              created_at: now,
              started_at: now,
            });
            state.created = true;
          },
          onBatch: (result) => onProgress?.(toImport(result.totals)),
        });
        await finish(id, 'completed', null, bytes);
      } catch (error) {
        if (!state.created) throw error;
        await finish(id, 'failed', error instanceof DomainError ? error.message : 'internal error');
        if (!(error instanceof DomainError)) throw error;
      }
      const row = await repo.findImport(db, workspaceId, id);
      if (!row) throw notFound(id);
      return withErrors(row);
    },

    async get(workspaceId: string, id: string): Promise<ImportWithErrors> {
      const row = await repo.findImport(db, workspaceId, id);
      if (!row) throw notFound(id);
      return withErrors(row);
    },

    async list(
      workspaceId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<Import>> {
      const rows = await repo.listImports(db, workspaceId, {
        before: decodeCursor(page.cursor),
        limit: page.limit,
      });
      const data = rows.slice(0, page.limit).map(toImport);
      const last = data[data.length - 1];
      return { data, next_cursor: rows.length > page.limit && last ? encodeCursor(last.id) : null };
    },

    /** Every stored row error of an import, by line. The cursor encodes the last line of the previous page. */
    async errors(
      workspaceId: string,
      id: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<ImportRowError>> {
      const afterLine = decodeLineCursor(page.cursor);
      const row = await repo.findImport(db, workspaceId, id);
      if (!row) throw notFound(id);
      const rows = await repo.listErrors(db, id, { afterLine, limit: page.limit + 1 });
      const data = rows.slice(0, page.limit);
      const last = data[data.length - 1];
      return { data, next_cursor: rows.length > page.limit && last ? encodeLineCursor(last.line) : null };
    },
  };
}

export type ImportService = ReturnType<typeof createImportService>;

export { MAX_STORED_ERRORS };

function notFound(id: string): DomainError {
  return new DomainError(
    'IMPORT_NOT_FOUND',
    `import ${id} does not exist in this workspace; GET /v1/imports lists the imports there are`,
  );
}

export function encodeLineCursor(line: number): string {
  return Buffer.from(JSON.stringify({ line })).toString('base64url');
}

/** Decodes an errors-page cursor: the last line of the previous page. */
export function decodeLineCursor(cursor: string | undefined): number {
  if (cursor === undefined || cursor === '') return 0;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const line = (parsed as { line?: unknown }).line;
    if (typeof line === 'number' && Number.isInteger(line) && line >= 0) return line;
  } catch {
    // fall through to the error below
  }
  throw new DomainError(
    'INVALID_CURSOR',
    'cursor is not a cursor Herald issued: pass the next_cursor value of the previous page unchanged',
    [{ path: '/cursor', message: 'invalid cursor' }],
  );
}

export function toImport(row: repo.ImportRecordRow): Import {
  return {
    id: row.id,
    status: row.status,
    mode: row.mode,
    list_id: row.list_id,
    filename: row.filename,
    source: row.source,
    mapping: (row.mapping as Record<string, string | null> | null) ?? null,
    size_bytes: Number(row.size_bytes),
    rows_total: row.rows_total,
    created_count: row.created_count,
    updated_count: row.updated_count,
    skipped_count: row.skipped_count,
    failed_count: row.failed_count,
    warning_count: row.warning_count,
    error: row.error,
    created_at: row.created_at,
    started_at: row.started_at,
    finished_at: row.finished_at,
  };
}
