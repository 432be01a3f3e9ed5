import { sql, type Transaction } from 'kysely';
import type { Database, Db, NewRow, Row, ThrottleWindowKind } from '../../db/index.js';

/**
 * SQL of the throttling module: throttle rules, warm-up schedules and the
 * counters they share across workers. Read-only reads of other modules'
 * tables, to resolve what a message is sent with: the workspace's default
 * transport (`transports`) and the sending domain that signs a From domain
 * (`sending_domains`), as the sending ports resolve them.
 */

export type RuleRow = Row<'throttle_rules'>;
export type ScheduleRow = Row<'warmup_schedules'>;

/** One counter: a rule's or schedule's window. */
export interface CounterKey {
  keyId: string;
  kind: ThrottleWindowKind;
  start: Date;
}

export interface CounterRow extends CounterKey {
  used: number;
  waiting: number;
}

// Rules

export async function listRules(
  db: Db,
  workspaceId: string,
  page: { after: string | undefined; limit: number },
): Promise<RuleRow[]> {
  let query = db.selectFrom('throttle_rules').selectAll().where('workspace_id', '=', workspaceId);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

/** Every rule of the workspace (a handful): what a send is checked against. */
export async function allRules(db: Db, workspaceId: string): Promise<RuleRow[]> {
  return db
    .selectFrom('throttle_rules')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('id')
    .execute();
}

export async function findRule(db: Db, workspaceId: string, id: string): Promise<RuleRow | undefined> {
  return db
    .selectFrom('throttle_rules')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function insertRule(db: Db, row: NewRow<'throttle_rules'>): Promise<RuleRow> {
  return db.insertInto('throttle_rules').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function updateRule(
  db: Db,
  workspaceId: string,
  id: string,
  changes: Partial<NewRow<'throttle_rules'>>,
): Promise<RuleRow | undefined> {
  return db
    .updateTable('throttle_rules')
    .set(changes)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/** Deletes a rule or a schedule's row and its counters; false when there was none. */
export async function deleteKey(
  db: Db,
  table: 'throttle_rules' | 'warmup_schedules',
  workspaceId: string,
  id: string,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const deleted = await trx
      .deleteFrom(table)
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .executeTakeFirst();
    await trx
      .deleteFrom('throttle_counters')
      .where('workspace_id', '=', workspaceId)
      .where('key_id', '=', id)
      .execute();
    return deleted.numDeletedRows > 0n;
  });
}

// Warm-up schedules

export async function listSchedules(
  db: Db,
  workspaceId: string,
  page: { after: string | undefined; limit: number },
): Promise<ScheduleRow[]> {
  let query = db.selectFrom('warmup_schedules').selectAll().where('workspace_id', '=', workspaceId);
  if (page.after) query = query.where('id', '>', page.after);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function allSchedules(db: Db, workspaceId: string): Promise<ScheduleRow[]> {
  return db
    .selectFrom('warmup_schedules')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('id')
    .execute();
}

export async function findSchedule(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<ScheduleRow | undefined> {
  return db
    .selectFrom('warmup_schedules')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** The schedule already covering this sending domain or transport, if any. */
export async function scheduleFor(
  db: Db,
  workspaceId: string,
  target: { sendingDomainId: string | null; transportId: string | null },
): Promise<ScheduleRow | undefined> {
  let query = db.selectFrom('warmup_schedules').selectAll().where('workspace_id', '=', workspaceId);
  query = target.sendingDomainId
    ? query.where('sending_domain_id', '=', target.sendingDomainId)
    : query.where('transport_id', '=', target.transportId);
  return query.executeTakeFirst();
}

export async function insertSchedule(db: Db, row: NewRow<'warmup_schedules'>): Promise<ScheduleRow> {
  return db.insertInto('warmup_schedules').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function updateSchedule(
  db: Db,
  workspaceId: string,
  id: string,
  changes: Partial<NewRow<'warmup_schedules'>>,
): Promise<ScheduleRow | undefined> {
  return db
    .updateTable('warmup_schedules')
    .set(changes)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

// What a message is sent with (read-only)

/** The workspace's default transport: what a campaign or message without transport_id sends through. */
export async function defaultTransportId(db: Db, workspaceId: string): Promise<string | null> {
  const row = await db
    .selectFrom('transports')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('is_default', '=', true)
    .executeTakeFirst();
  return row?.id ?? null;
}

/** The workspace's sending domain among `names` (a From domain and its parents), the most specific first. */
export async function sendingDomainIdFor(
  db: Db,
  workspaceId: string,
  names: readonly string[],
): Promise<string | null> {
  if (names.length === 0) return null;
  const row = await db
    .selectFrom('sending_domains')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('domain', 'in', [...names])
    .orderBy(sql`length(domain)`, 'desc')
    .executeTakeFirst();
  return row?.id ?? null;
}

/** The mailbox provider group of each domain, as analytics and the health report name them. */
export async function providersOf(db: Db, domains: readonly string[]): Promise<Map<string, string>> {
  if (domains.length === 0) return new Map();
  const result = await sql<{ domain: string; provider: string }>`
    SELECT d AS domain, herald_mailbox_provider('x@' || d) AS provider
    FROM unnest(${[...domains]}::text[]) AS d`.execute(db);
  return new Map(result.rows.map((r) => [r.domain, r.provider]));
}

// Counters

const counterOrder = (a: CounterKey, b: CounterKey) =>
  a.keyId < b.keyId
    ? -1
    : a.keyId > b.keyId
      ? 1
      : a.kind < b.kind
        ? -1
        : a.kind > b.kind
          ? 1
          : a.start.getTime() - b.start.getTime();

/**
 * Creates the counters that do not exist yet and locks all of them until the
 * transaction ends, returning what they hold. Rows are taken in one order
 * (key, kind, start) by every worker, so two reservations never deadlock.
 * ON CONFLICT DO UPDATE (a no-op update) is what locks an existing row in the
 * same statement that creates a missing one.
 */
export async function lockCounters(
  trx: Transaction<Database>,
  workspaceId: string,
  keys: readonly CounterKey[],
): Promise<CounterRow[]> {
  if (keys.length === 0) return [];
  const sorted = [...keys].sort(counterOrder);
  const result = await sql<{
    key_id: string;
    window_kind: ThrottleWindowKind;
    window_start: Date;
    used: number;
    waiting: number;
  }>`
    INSERT INTO throttle_counters (workspace_id, key_id, window_kind, window_start, used, waiting)
    SELECT ${workspaceId}, k.key_id, k.kind, k.start, 0, 0
    FROM unnest(
      ${sorted.map((k) => k.keyId)}::uuid[],
      ${sorted.map((k) => k.kind)}::text[],
      ${sorted.map((k) => k.start)}::timestamptz[]
    ) WITH ORDINALITY AS k(key_id, kind, start, n)
    ORDER BY k.n
    ON CONFLICT (workspace_id, key_id, window_kind, window_start)
      DO UPDATE SET used = throttle_counters.used
    RETURNING key_id, window_kind, window_start, used, waiting`.execute(trx);
  return result.rows.map((r) => ({
    keyId: r.key_id,
    kind: r.window_kind,
    start: new Date(r.window_start),
    used: r.used,
    waiting: r.waiting,
  }));
}

/** Writes the counters a reservation decided (inside the transaction that locked them). */
export async function writeCounters(
  trx: Transaction<Database>,
  workspaceId: string,
  rows: readonly CounterRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    UPDATE throttle_counters t SET used = v.used, waiting = v.waiting
    FROM unnest(
      ${rows.map((r) => r.keyId)}::uuid[],
      ${rows.map((r) => r.kind)}::text[],
      ${rows.map((r) => r.start)}::timestamptz[],
      ${rows.map((r) => r.used)}::int[],
      ${rows.map((r) => r.waiting)}::int[]
    ) AS v(key_id, kind, start, used, waiting)
    WHERE t.workspace_id = ${workspaceId} AND t.key_id = v.key_id
      AND t.window_kind = v.kind AND t.window_start = v.start`.execute(trx);
}

/** Adds one to each counter, whatever it holds (transactional mail: counted, never held). One statement. */
export async function addToCounters(db: Db, workspaceId: string, keys: readonly CounterKey[]): Promise<void> {
  if (keys.length === 0) return;
  const sorted = [...keys].sort(counterOrder);
  await sql`
    INSERT INTO throttle_counters (workspace_id, key_id, window_kind, window_start, used, waiting)
    SELECT ${workspaceId}, k.key_id, k.kind, k.start, 1, 0
    FROM unnest(
      ${sorted.map((k) => k.keyId)}::uuid[],
      ${sorted.map((k) => k.kind)}::text[],
      ${sorted.map((k) => k.start)}::timestamptz[]
    ) WITH ORDINALITY AS k(key_id, kind, start, n)
    ORDER BY k.n
    ON CONFLICT (workspace_id, key_id, window_kind, window_start)
      DO UPDATE SET used = throttle_counters.used + 1`.execute(db);
}

/** What the counters hold now, without locking (the API's usage figures). Missing counters are absent. */
export async function readCounters(
  db: Db,
  workspaceId: string,
  keys: readonly CounterKey[],
): Promise<CounterRow[]> {
  if (keys.length === 0) return [];
  const result = await sql<{
    key_id: string;
    window_kind: ThrottleWindowKind;
    window_start: Date;
    used: number;
    waiting: number;
  }>`
    SELECT t.key_id, t.window_kind, t.window_start, t.used, t.waiting
    FROM throttle_counters t
    JOIN unnest(
      ${keys.map((k) => k.keyId)}::uuid[],
      ${keys.map((k) => k.kind)}::text[],
      ${keys.map((k) => k.start)}::timestamptz[]
    ) AS k(key_id, kind, start)
      ON t.key_id = k.key_id AND t.window_kind = k.kind AND t.window_start = k.start
    WHERE t.workspace_id = ${workspaceId}`.execute(db);
  return result.rows.map((r) => ({
    keyId: r.key_id,
    kind: r.window_kind,
    start: new Date(r.window_start),
    used: r.used,
    waiting: r.waiting,
  }));
}

/**
 * Drops windows that ended long ago, in every workspace (maintenance, like
 * the events retention). A day window starts at most 26 hours before it
 * ends, so anything older than `before` (two days ago) is finished.
 */
export async function pruneCounters(db: Db, before: Date): Promise<number> {
  const result = await db
    .deleteFrom('throttle_counters')
    .where('window_start', '<', before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Serializes rule changes of one workspace until the transaction ends, so
 * two concurrent writes cannot both pass the overlap check.
 */
export async function lockWorkspaceRules(trx: Transaction<Database>, workspaceId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(714250, hashtext(${workspaceId}))`.execute(trx);
}
