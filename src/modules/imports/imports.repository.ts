import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Kysely, PostgresDialect, type PostgresPool, type RawBuilder, sql } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type {
  Database,
  DatabaseHandle,
  Db,
  ImportMode,
  ImportStatus,
  MembershipStatus,
  NewRow,
  Row,
  RowUpdate,
} from '../../db/index.js';
import type { ImportRow } from './csv-rows.js';

export type ImportRecordRow = Row<'imports'>;

export async function insertImport(db: Db, row: NewRow<'imports'>): Promise<ImportRecordRow> {
  return db.insertInto('imports').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findImport(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<ImportRecordRow | undefined> {
  return db
    .selectFrom('imports')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** For the job handler, which knows only the import id; the row then names its workspace. */
export async function findImportById(db: Db, id: string): Promise<ImportRecordRow | undefined> {
  return db.selectFrom('imports').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Newest first. */
export async function listImports(
  db: Db,
  workspaceId: string,
  page: { before: string | undefined; limit: number },
): Promise<ImportRecordRow[]> {
  let query = db.selectFrom('imports').selectAll().where('workspace_id', '=', workspaceId);
  if (page.before) query = query.where('id', '<', page.before);
  return query
    .orderBy('id', 'desc')
    .limit(page.limit + 1)
    .execute();
}

export async function updateImport(
  db: Db,
  id: string,
  changes: RowUpdate<'imports'>,
): Promise<ImportRecordRow | undefined> {
  return db.updateTable('imports').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
}

/** Moves an import from one status to another; returns undefined when it was not in `from`. */
export async function transitionImport(
  db: Db,
  id: string,
  from: ImportStatus[],
  changes: RowUpdate<'imports'>,
): Promise<ImportRecordRow | undefined> {
  return db
    .updateTable('imports')
    .set(changes)
    .where('id', '=', id)
    .where('status', 'in', from)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteImport(db: Db, id: string): Promise<void> {
  await db.deleteFrom('imports').where('id', '=', id).execute();
}

export async function insertChunk(db: Db, importId: string, seq: number, data: Buffer): Promise<void> {
  await db.insertInto('import_chunks').values({ import_id: importId, seq, data }).execute();
}

export async function readChunks(
  db: Db,
  importId: string,
  afterSeq: number,
  limit: number,
): Promise<{ seq: number; data: Buffer }[]> {
  return db
    .selectFrom('import_chunks')
    .select(['seq', 'data'])
    .where('import_id', '=', importId)
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
}

export async function deleteChunks(db: Db, importId: string): Promise<void> {
  await db.deleteFrom('import_chunks').where('import_id', '=', importId).execute();
}

export async function listErrors(
  db: Db,
  importId: string,
  page: { afterLine: number; limit: number },
): Promise<{ line: number; reason: string }[]> {
  return db
    .selectFrom('import_errors')
    .select(['line', 'reason'])
    .where('import_id', '=', importId)
    .where('line', '>', page.afterLine)
    .orderBy('line')
    .limit(page.limit)
    .execute();
}

export async function listWarnings(
  db: Db,
  importId: string,
  limit: number,
): Promise<{ line: number; code: string; message: string; suggestion: string | null }[]> {
  return db
    .selectFrom('import_warnings')
    .select(['line', 'code', 'message', 'suggestion'])
    .where('import_id', '=', importId)
    .orderBy('line')
    .orderBy('code')
    .limit(limit)
    .execute();
}

export async function countErrors(db: Db, importId: string): Promise<number> {
  const row = await db
    .selectFrom('import_errors')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('import_id', '=', importId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The list an import targets. Read here rather than through the lists module, which the bulk merge below also bypasses. */
export async function findList(
  db: Db,
  workspaceId: string,
  listId: string,
): Promise<{ id: string; opt_in: 'single' | 'double' } | undefined> {
  return db
    .selectFrom('lists')
    .select(['id', 'opt_in'])
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', listId)
    .executeTakeFirst();
}

// ---------------------------------------------------------------------------
// Set-based batch merge.
//
// A deliberate exception to "a module uses another module through its
// index.ts": an import writes thousands of contacts, memberships and consent
// records per batch, and doing that row by row through the contacts, lists and
// consent services would cost one round trip per row. So the SQL below reads
// and writes contacts, lists, list_memberships and consent_records directly,
// keeping the same rules as those services (normalized email key, attribute
// merge, tag union, an append-only consent record for every change).
// ---------------------------------------------------------------------------

/** Hygiene warnings stored per import; warning_count counts all of them. */
export const MAX_STORED_WARNINGS = 10_000;

/** A hygiene warning on a good row (a role address, a likely typo): the row imports, the warning is kept. */
export interface BatchWarning {
  line: number;
  code: string;
  message: string;
  suggestion: string | null;
}

export interface BatchError {
  line: number;
  reason: string;
}

export interface MergeInput {
  workspaceId: string;
  importId: string;
  mode: ImportMode;
  /** The list to subscribe to (upsert, add) or unsubscribe from (unsubscribe). */
  listId: string | null;
  /** Membership status for new members in upsert and add modes. */
  memberStatus: MembershipStatus;
  /** True when the caller gave the status (list_status) rather than taking the list's opt-in default. */
  statusAsserted: boolean;
  now: Date;
  rows: ImportRow[];
  /** Rows that failed validation since the last batch. */
  errors: BatchError[];
  /** Hygiene warnings of the batch's rows. */
  warnings?: BatchWarning[];
  /** Data rows (good and bad) read since the last batch. */
  rowsRead: number;
  /** How many more errors may be stored for this import. */
  errorCapacity: number;
  /** Called in the batch's transaction with the contacts that became unconfirmed members of the list. */
  onUnconfirmedSubscribed?:
    | ((trx: Db, workspaceId: string, listId: string, contactIds: string[]) => Promise<void>)
    | undefined;
}

export interface MergeResult {
  created: number;
  updated: number;
  skipped: number;
  failed: number;
  /** Errors stored by this batch (at most errorCapacity). */
  storedErrors: number;
  /** The import's totals after this batch. */
  totals: ImportRecordRow;
}

export type StagingLoader = 'copy' | 'insert';

/** COPY where the driver supports it: PGlite's node-postgres adapter aborts on COPY FROM STDIN. */
export function defaultLoader(kind: DatabaseHandle['kind']): StagingLoader {
  return kind === 'postgres' ? 'copy' : 'insert';
}

/**
 * Runs `work` in one transaction on one pooled connection, with a Kysely
 * bound to that connection, so COPY (driver level) and Kysely queries share
 * the transaction and the session's temporary staging table.
 */
async function inSession<T>(pool: pg.Pool, work: (trx: Db, client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const bound: PostgresPool = {
    connect: async () => ({
      query: client.query.bind(client) as never,
      release: () => {},
    }),
    end: async () => {},
  };
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: bound }) });
  let failure: Error | undefined;
  try {
    return await db.transaction().execute((trx) => work(trx, client));
  } catch (error) {
    failure = error as Error;
    throw error;
  } finally {
    // A connection that failed mid-COPY may be in an unknown protocol state: discard it.
    client.release(failure);
  }
}

/**
 * UUIDv7s made in SQL for rows created set-based (contacts, consent records):
 * the injected time's millisecond, then a 24-bit counter (RFC 9562 section
 * 6.2, method 1), then random bits. Each batch reserves a counter range, and
 * each statement numbers its rows in file order within it, so ids sort like
 * the rows and the statements that wrote them (a contact's subscribe before
 * its later unsubscribe, even within one millisecond), as Node's uuidv7()
 * keeps ids in order within a process.
 */
const COUNTER_SPACE = 2 ** 24;
// Process-wide like lib/ids.ts: ids stay in order across batches and imports that share a millisecond.
let reservedMs = -1;
let reservedUpTo = 0;

/** Forgets the reserved range; see resetIdSequence in lib/ids.ts (test runs sharing one process). */
export function resetImportIdSequence(): void {
  reservedMs = -1;
  reservedUpTo = 0;
}

class IdSequence {
  private readonly ms: number;
  private next: number;

  constructor(
    nowMs: number,
    private readonly step: number,
    statements: number,
  ) {
    const size = step * statements;
    if (nowMs > reservedMs) {
      reservedMs = nowMs;
      reservedUpTo = 0;
    } else if (reservedUpTo + size > COUNTER_SPACE) {
      reservedMs++;
      reservedUpTo = 0;
    }
    this.ms = reservedMs;
    this.next = reservedUpTo;
    reservedUpTo += size;
  }

  /** The id expression for one statement of up to `perRow` rows per staged row; `order` orders them. */
  ids(order: RawBuilder<unknown>, perRow = 1): RawBuilder<string> {
    const base = this.next;
    this.next += this.step * perRow;
    const counter = sql`(${base}::bigint + row_number() OVER (ORDER BY ${order}))`;
    return sql<string>`(lpad(to_hex(${this.ms}::bigint), 12, '0') || '7'
      || lpad(to_hex((${counter} >> 12) & 4095), 3, '0') || '8' || lpad(to_hex(${counter} & 4095), 3, '0')
      || substr(replace(gen_random_uuid()::text, '-', ''), 1, 12))::uuid`;
  }
}

const STAGING_COLUMNS = 'line, email, external_id, status, attributes, tags, timezone, locale, do_not_sell';

async function createStaging(trx: Db): Promise<void> {
  // Per transaction and per session, so concurrent imports on other connections never see each other's rows.
  await sql`CREATE TEMP TABLE import_staging (
    line         integer NOT NULL,
    email        text NOT NULL,
    email_key    text GENERATED ALWAYS AS (lower(email)) STORED PRIMARY KEY,
    external_id  text,
    status       text,
    attributes   jsonb,
    tags         text[],
    timezone     text,
    locale       text,
    do_not_sell  boolean,
    contact_id   uuid,
    old_status   text,
    new_status   text,
    old_do_not_sell boolean,
    new_do_not_sell boolean,
    inserted     boolean NOT NULL DEFAULT false,
    member_before text,
    outcome      text
  ) ON COMMIT DROP`.execute(trx);
}

function csvField(value: string | null): string {
  return value === null ? '' : `"${value.replaceAll('"', '""')}"`;
}

function pgArrayLiteral(values: string[]): string {
  return `{${values.map((v) => `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`;
}

async function copyStaging(client: pg.PoolClient, rows: ImportRow[]): Promise<void> {
  const lines: string[] = [];
  for (const r of rows) {
    lines.push(
      [
        String(r.line),
        csvField(r.email),
        csvField(r.externalId),
        csvField(r.status),
        csvField(r.attributes ? JSON.stringify(r.attributes) : null),
        csvField(r.tags ? pgArrayLiteral(r.tags) : null),
        csvField(r.timezone),
        csvField(r.locale),
        csvField(r.doNotSell === null ? null : String(r.doNotSell)),
      ].join(','),
    );
  }
  const stream = client.query(
    copyFrom(`COPY import_staging (${STAGING_COLUMNS}) FROM STDIN WITH (FORMAT csv)`),
  );
  await pipeline(Readable.from([`${lines.join('\n')}\n`]), stream);
}

async function insertStaging(trx: Db, rows: ImportRow[]): Promise<void> {
  await sql`INSERT INTO import_staging (${sql.raw(STAGING_COLUMNS)})
    SELECT line, email, external_id, status, attributes::jsonb, tags::text[], timezone, locale, do_not_sell
    FROM unnest(
      ${rows.map((r) => r.line)}::int[],
      ${rows.map((r) => r.email)}::text[],
      ${rows.map((r) => r.externalId)}::text[],
      ${rows.map((r) => r.status)}::text[],
      ${rows.map((r) => (r.attributes ? JSON.stringify(r.attributes) : null))}::text[],
      ${rows.map((r) => (r.tags ? pgArrayLiteral(r.tags) : null))}::text[],
      ${rows.map((r) => r.timezone)}::text[],
      ${rows.map((r) => r.locale)}::text[],
      ${rows.map((r) => r.doNotSell)}::boolean[]
    ) AS u(line, email, external_id, status, attributes, tags, timezone, locale, do_not_sell)`.execute(trx);
}

/** Contact statuses that mean the person said no (or must never be mailed): never subscribed by an import. */
const REFUSED = sql.raw(`('unsubscribed', 'blocked', 'complained')`);

/**
 * Merges one batch of validated rows in one transaction: staging load (COPY
 * on PostgreSQL, unnest on PGlite), contacts upsert, list memberships, consent
 * records, row errors and the import's counters. Either all of it commits or
 * none of it, so the counters always match the data and a re-run can resume
 * after the last committed batch.
 */
export async function mergeBatch(
  database: Pick<DatabaseHandle, 'pool'>,
  loader: StagingLoader,
  input: MergeInput,
): Promise<MergeResult> {
  return inSession(database.pool, async (trx, client) => {
    const { workspaceId: ws, importId, listId } = input;
    const errors = [...input.errors];
    const counts = { created: 0, updated: 0, skipped: 0 };
    // Room for every id made per staged row: contact, status record, do-not-sell record, subscribe and
    // confirm records.
    const ids = new IdSequence(input.now.getTime(), input.rows.length, 5);

    if (input.rows.length > 0) {
      await createStaging(trx);
      if (loader === 'copy') await copyStaging(client, input.rows);
      else await insertStaging(trx, input.rows);

      // Correlated lookups, here and below: one unique-index probe per staged row, whatever the
      // planner believes about the workspace's size, so a batch costs the same at 1k or 10M contacts.
      await sql`UPDATE import_staging s SET (contact_id, old_status, old_do_not_sell) = (
          SELECT c.id, c.status, c.do_not_sell FROM contacts c
           WHERE c.workspace_id = ${ws} AND c.email_key = s.email_key)`.execute(trx);

      if (input.mode === 'upsert' || input.mode === 'add') {
        errors.push(...(await externalIdConflicts(trx, ws, input.mode)));
        await mergeContacts(trx, input, ids);
        if (listId) {
          const pending = await subscribe(trx, input, listId, ids);
          if (pending.length > 0) await input.onUnconfirmedSubscribed?.(trx, ws, listId, pending);
        }
      } else if (input.mode === 'unsubscribe') {
        await unsubscribe(trx, input, ids);
      } else {
        await block(trx, input, ids);
      }

      // Unsubscribe and block set each row's outcome as they change it; upsert and add derive it here.
      const tally = await sql<{ created: number; updated: number; skipped: number }>`
        WITH outcomes AS (
          SELECT CASE
            WHEN outcome IS NOT NULL OR ${input.mode} NOT IN ('upsert', 'add') THEN COALESCE(outcome, 'skipped')
            WHEN inserted THEN 'created'
            WHEN ${input.mode} = 'add' OR contact_id IS NULL THEN 'skipped'
            WHEN ${listId}::uuid IS NOT NULL
              AND (member_before = 'unsubscribed' OR new_status IN ${REFUSED}) THEN 'skipped'
            ELSE 'updated' END AS outcome
          FROM import_staging
        )
        SELECT count(*) FILTER (WHERE outcome = 'created')::int AS created,
          count(*) FILTER (WHERE outcome = 'updated')::int AS updated,
          count(*) FILTER (WHERE outcome = 'skipped')::int AS skipped
        FROM outcomes`.execute(trx);
      Object.assign(counts, tally.rows[0]);
    }

    const stored = errors.sort((a, b) => a.line - b.line).slice(0, Math.max(0, input.errorCapacity));
    if (stored.length > 0) {
      await sql`INSERT INTO import_errors (import_id, line, reason)
        SELECT ${importId}, e.line, e.reason
        FROM unnest(${stored.map((e) => e.line)}::int[], ${stored.map((e) => e.reason)}::text[]) AS e(line, reason)
        ON CONFLICT (import_id, line) DO NOTHING`.execute(trx);
    }
    // A row refused in the merge (an external_id conflict) keeps its error, not its warnings.
    const refused = new Set(errors.map((e) => e.line));
    const warnings = (input.warnings ?? []).filter((w) => !refused.has(w.line));
    let storedWarnings: BatchWarning[] = [];
    if (warnings.length > 0) {
      // warning_count counts every warning so far, stored or not: the first ones by line are stored.
      const { warning_count: counted } = await trx
        .selectFrom('imports')
        .select('warning_count')
        .where('id', '=', importId)
        .executeTakeFirstOrThrow();
      storedWarnings = warnings.slice(0, Math.max(0, MAX_STORED_WARNINGS - counted));
    }
    if (storedWarnings.length > 0) {
      await sql`INSERT INTO import_warnings (import_id, line, code, message, suggestion)
        SELECT ${importId}, w.line, w.code, w.message, w.suggestion
        FROM unnest(${storedWarnings.map((w) => w.line)}::int[], ${storedWarnings.map((w) => w.code)}::text[],
          ${storedWarnings.map((w) => w.message)}::text[], ${storedWarnings.map((w) => w.suggestion)}::text[])
          AS w(line, code, message, suggestion)
        ON CONFLICT (import_id, line, code) DO NOTHING`.execute(trx);
    }
    const totals = await trx
      .updateTable('imports')
      .set((eb) => ({
        rows_total: eb('rows_total', '+', input.rowsRead),
        created_count: eb('created_count', '+', counts.created),
        updated_count: eb('updated_count', '+', counts.updated),
        skipped_count: eb('skipped_count', '+', counts.skipped),
        failed_count: eb('failed_count', '+', errors.length),
        warning_count: eb('warning_count', '+', warnings.length),
      }))
      .where('id', '=', importId)
      .returningAll()
      .executeTakeFirstOrThrow();
    return { ...counts, failed: errors.length, storedErrors: stored.length, totals };
  });
}

const CONSENT_COLUMNS = sql.raw(
  '(id, workspace_id, contact_id, list_id, purpose, action, source, source_id, ip, user_agent, detail, created_at)',
);

/**
 * Rows whose external_id already belongs to another contact would break the
 * unique index and with it the whole batch: they become row errors instead.
 */
async function externalIdConflicts(trx: Db, ws: string, mode: ImportMode): Promise<BatchError[]> {
  const result = await sql<{ line: number; external_id: string; owner: string }>`
    WITH owners AS (
      SELECT s.email_key, (
        SELECT c.id FROM contacts c
        WHERE c.workspace_id = ${ws} AND c.external_id = s.external_id AND c.external_id IS NOT NULL
          AND c.email_key <> s.email_key) AS owner
      FROM import_staging s
      WHERE s.external_id IS NOT NULL AND (${mode} = 'upsert' OR s.contact_id IS NULL)
    )
    DELETE FROM import_staging s USING owners o
    WHERE o.owner IS NOT NULL AND s.email_key = o.email_key
    RETURNING s.line, s.external_id, o.owner`.execute(trx);
  return result.rows.map((r) => ({
    line: r.line,
    reason: `external_id "${r.external_id}" already belongs to another contact (id ${r.owner}); each external_id identifies one contact`,
  }));
}

async function mergeContacts(trx: Db, input: MergeInput, ids: IdSequence): Promise<void> {
  const { workspaceId: ws, now } = input;
  const onConflict =
    input.mode === 'add'
      ? sql`DO NOTHING`
      : // Given fields overwrite, attributes merge, tags are added. An import never
        // reactivates a contact that unsubscribed, bounced or complained, and never
        // changes a blocked one: that takes a deliberate API call.
        sql`DO UPDATE SET
          external_id = COALESCE(EXCLUDED.external_id, c.external_id),
          status = CASE
            WHEN c.status = 'blocked' THEN c.status
            WHEN c.status <> 'active' AND EXCLUDED.status = 'active' THEN c.status
            ELSE EXCLUDED.status END,
          attributes = c.attributes || EXCLUDED.attributes,
          tags = CASE WHEN cardinality(EXCLUDED.tags) = 0 THEN c.tags
            ELSE ARRAY(SELECT DISTINCT t FROM unnest(c.tags || EXCLUDED.tags) AS t ORDER BY t) END,
          timezone = COALESCE(EXCLUDED.timezone, c.timezone),
          locale = COALESCE(EXCLUDED.locale, c.locale),
          do_not_sell = EXCLUDED.do_not_sell,
          updated_at = EXCLUDED.updated_at`;
  await sql`WITH merged AS (
      INSERT INTO contacts AS c
        (id, workspace_id, email, external_id, status, attributes, tags, timezone, locale, do_not_sell,
         created_at, updated_at)
      SELECT ${ids.ids(sql`s.line`)}, ${ws}, s.email, s.external_id,
        COALESCE(s.status, s.old_status, 'active'), COALESCE(s.attributes, '{}'::jsonb),
        COALESCE(s.tags, '{}'::text[]), s.timezone, s.locale,
        -- An empty cell keeps the stored flag (read with the contact above), like the other fields.
        COALESCE(s.do_not_sell, s.old_do_not_sell, false), ${now}::timestamptz, ${now}::timestamptz
      FROM import_staging s
      ON CONFLICT (workspace_id, email_key) ${onConflict}
      RETURNING c.id, c.email_key, c.status, c.do_not_sell, (c.xmax = 0) AS inserted
    )
    UPDATE import_staging s SET contact_id = m.id, new_status = m.status, new_do_not_sell = m.do_not_sell,
      inserted = m.inserted
    FROM merged m WHERE s.email_key = m.email_key`.execute(trx);
  await sql`INSERT INTO consent_records ${CONSENT_COLUMNS}
    SELECT ${ids.ids(sql`s.line`)}, ${ws}, s.contact_id, NULL, NULL, 'status_change', 'import', ${input.importId},
      NULL, NULL,
      jsonb_build_object('from', CASE WHEN s.inserted THEN NULL ELSE s.old_status END, 'to', s.new_status),
      ${now}::timestamptz
    FROM import_staging s
    WHERE s.new_status IS NOT NULL
      AND CASE WHEN s.inserted THEN s.new_status <> 'active' ELSE s.new_status IS DISTINCT FROM s.old_status END`.execute(
    trx,
  );
  // The CCPA flag set or cleared, recorded as the contacts service records it (a new contact: only when set).
  await sql`INSERT INTO consent_records ${CONSENT_COLUMNS}
    SELECT ${ids.ids(sql`s.line`)}, ${ws}, s.contact_id, NULL, NULL, 'do_not_sell', 'import', ${input.importId},
      NULL, NULL, jsonb_build_object('do_not_sell', s.new_do_not_sell), ${now}::timestamptz
    FROM import_staging s
    WHERE s.new_do_not_sell IS NOT NULL
      AND CASE WHEN s.inserted THEN s.new_do_not_sell
        ELSE s.new_do_not_sell IS DISTINCT FROM s.old_do_not_sell END`.execute(trx);
}

/**
 * Subscribes the batch's contacts to the list. Existing memberships are never
 * downgraded; a member who unsubscribed stays unsubscribed (their choice wins
 * over an old spreadsheet); unconfirmed members become confirmed only when the
 * import says confirmed. Each change gets consent records as the lists module
 * writes them: subscribe with the status, and confirm with its reason.
 */
async function subscribe(trx: Db, input: MergeInput, listId: string, ids: IdSequence): Promise<string[]> {
  const { workspaceId: ws, now, memberStatus } = input;
  // Proof of consent says how confirmation happened, as the lists module records it.
  const confirmReason = input.statusAsserted ? 'asserted_by_caller' : 'single_opt_in';
  await sql`UPDATE import_staging s SET member_before = (
      SELECT m.status FROM list_memberships m WHERE m.list_id = ${listId} AND m.contact_id = s.contact_id)
    WHERE s.contact_id IS NOT NULL AND NOT s.inserted`.execute(trx);
  const pending = await sql<{ contact_id: string }>`WITH eligible AS (
      SELECT contact_id FROM import_staging
      WHERE contact_id IS NOT NULL AND new_status NOT IN ${REFUSED}
        AND member_before IS DISTINCT FROM 'unsubscribed'
        AND (${input.mode} = 'upsert' OR inserted)
    ), changed AS (
      INSERT INTO list_memberships AS m
        (workspace_id, list_id, contact_id, status, created_at, updated_at, confirmed_at, unsubscribed_at)
      SELECT ${ws}, ${listId}, e.contact_id, ${memberStatus}, ${now}::timestamptz, ${now}::timestamptz,
        CASE WHEN ${memberStatus} = 'confirmed' THEN ${now}::timestamptz END, NULL
      FROM eligible e
      ON CONFLICT (list_id, contact_id) DO UPDATE SET
        status = 'confirmed', confirmed_at = EXCLUDED.updated_at, updated_at = EXCLUDED.updated_at
        WHERE m.status = 'unconfirmed' AND EXCLUDED.status = 'confirmed'
      RETURNING m.contact_id, m.status, (m.xmax = 0) AS inserted
    ), recorded AS (
    INSERT INTO consent_records ${CONSENT_COLUMNS}
    SELECT ${ids.ids(sql`s.line, r.step`, 2)}, ${ws}, ch.contact_id, ${listId}, NULL, r.action, 'import',
      ${input.importId}, NULL, NULL, r.detail, ${now}::timestamptz
    FROM changed ch
    JOIN import_staging s ON s.contact_id = ch.contact_id
    CROSS JOIN LATERAL (VALUES
      (1, 'subscribe', jsonb_build_object('status', ch.status)),
      (2, 'confirm', jsonb_build_object('reason', ${confirmReason}::text))
    ) AS r(step, action, detail)
    WHERE (r.step = 1 AND ch.inserted) OR (r.step = 2 AND ch.status = 'confirmed')
    )
    -- New unconfirmed members: they get a double opt-in confirmation email.
    SELECT contact_id FROM changed WHERE inserted AND status = 'unconfirmed'`.execute(trx);
  return pending.rows.map((r) => r.contact_id);
}

/**
 * Unsubscribe mode: known contacts only (unknown emails are skipped). With a
 * list, the membership becomes unsubscribed (created as unsubscribed when
 * missing, so a later import cannot subscribe them to that list); without
 * one, an active contact's status becomes unsubscribed.
 */
async function unsubscribe(trx: Db, input: MergeInput, ids: IdSequence): Promise<void> {
  const { workspaceId: ws, now, listId } = input;
  if (listId) {
    await sql`WITH changed AS (
        INSERT INTO list_memberships AS m
          (workspace_id, list_id, contact_id, status, created_at, updated_at, confirmed_at, unsubscribed_at)
        SELECT ${ws}, ${listId}, s.contact_id, 'unsubscribed', ${now}::timestamptz, ${now}::timestamptz, NULL,
          ${now}::timestamptz
        FROM import_staging s WHERE s.contact_id IS NOT NULL
        ON CONFLICT (list_id, contact_id) DO UPDATE SET
          status = 'unsubscribed', unsubscribed_at = EXCLUDED.unsubscribed_at, updated_at = EXCLUDED.updated_at
          WHERE m.status <> 'unsubscribed'
        RETURNING m.contact_id
      ), recorded AS (
        INSERT INTO consent_records ${CONSENT_COLUMNS}
        SELECT ${ids.ids(sql`s.line`)}, ${ws}, ch.contact_id, ${listId}, NULL, 'unsubscribe', 'import',
          ${input.importId}, NULL, NULL, NULL, ${now}::timestamptz
        FROM changed ch JOIN import_staging s ON s.contact_id = ch.contact_id
      )
      UPDATE import_staging s SET outcome = 'updated' FROM changed ch WHERE s.contact_id = ch.contact_id`.execute(
      trx,
    );
    return;
  }
  await sql`WITH changed AS (
      UPDATE contacts c SET status = 'unsubscribed', updated_at = ${now}::timestamptz
      WHERE c.id = ANY(ARRAY(SELECT contact_id FROM import_staging WHERE contact_id IS NOT NULL))
        AND c.workspace_id = ${ws} AND c.status = 'active'
      RETURNING c.id
    ), recorded AS (
      INSERT INTO consent_records ${CONSENT_COLUMNS}
      SELECT ${ids.ids(sql`s.line`)}, ${ws}, ch.id, NULL, NULL, 'status_change', 'import', ${input.importId},
        NULL, NULL, jsonb_build_object('from', 'active', 'to', 'unsubscribed'), ${now}::timestamptz
      FROM changed ch JOIN import_staging s ON s.contact_id = ch.id
    )
    UPDATE import_staging s SET outcome = 'updated' FROM changed ch WHERE s.contact_id = ch.id`.execute(trx);
}

/** Block mode: every address ends up blocked; missing ones are created blocked so they cannot be added later by accident. */
async function block(trx: Db, input: MergeInput, ids: IdSequence): Promise<void> {
  const { workspaceId: ws, now } = input;
  await sql`WITH merged AS (
      INSERT INTO contacts AS c
        (id, workspace_id, email, external_id, status, attributes, tags, timezone, locale, created_at, updated_at)
      SELECT ${ids.ids(sql`s.line`)}, ${ws}, s.email, NULL, 'blocked', '{}'::jsonb, '{}'::text[], NULL, NULL,
        ${now}::timestamptz, ${now}::timestamptz
      FROM import_staging s
      ON CONFLICT (workspace_id, email_key) DO UPDATE SET status = 'blocked', updated_at = EXCLUDED.updated_at
        WHERE c.status <> 'blocked'
      RETURNING c.id, c.email_key, (c.xmax = 0) AS inserted
    )
    UPDATE import_staging s SET contact_id = m.id, inserted = m.inserted, new_status = 'blocked',
      outcome = CASE WHEN m.inserted THEN 'created' ELSE 'updated' END
    FROM merged m WHERE s.email_key = m.email_key`.execute(trx);
  await sql`INSERT INTO consent_records ${CONSENT_COLUMNS}
    SELECT ${ids.ids(sql`s.line`)}, ${ws}, s.contact_id, NULL, NULL, 'status_change', 'import', ${input.importId},
      NULL, NULL,
      jsonb_build_object('from', CASE WHEN s.inserted THEN NULL ELSE s.old_status END, 'to', 'blocked'),
      ${now}::timestamptz
    FROM import_staging s WHERE s.outcome IS NOT NULL`.execute(trx);
}
