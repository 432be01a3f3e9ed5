import { sql } from 'kysely';
import type { Db } from './database.js';
import type { Database } from './schema.js';

/** Tables whose rows have a text `id` and belong to a workspace. */
type WorkspaceTable = {
  [T in keyof Database]: Database[T] extends { id: unknown; workspace_id: unknown } ? T : never;
}[keyof Database];

/** The columns of a table that hold one encrypted text value (possibly null). */
export type EncryptedColumn<T extends WorkspaceTable> = {
  [C in keyof Database[T]]: Database[T][C] extends string | null ? C : never;
}[keyof Database[T]] &
  string;

/**
 * One encrypted column of a workspace's rows as the data-keys module's
 * EncryptedValueSource wants it (less its name): a page of values in id
 * order, each with the purpose it was encrypted for, and a compare-and-set
 * replacement. Every module storing one secret per row uses this.
 */
export function encryptedColumn<T extends WorkspaceTable>(
  db: Db,
  table: T,
  column: EncryptedColumn<T>,
  purposeOf: (id: string) => string,
) {
  return {
    async page(
      workspaceId: string,
      afterId: string | null,
      limit: number,
    ): Promise<{ id: string; purpose: string; value: string }[]> {
      const rows = await pageEncryptedColumn(db, table, column, workspaceId, afterId, limit);
      return rows.map((row) => ({ id: row.id, purpose: purposeOf(row.id), value: row.value }));
    },
    replace: (workspaceId: string, id: string, previous: string, next: string): Promise<boolean> =>
      replaceEncryptedColumn(db, table, column, workspaceId, id, previous, next),
  };
}

/**
 * One encrypted column of a workspace's rows, for `herald keys rotate-data`:
 * the data-keys module's EncryptedValueSource needs a page in id order and a
 * compare-and-set replacement. Typed by table and column, so a caller names
 * only real text columns; the SQL is the same for every table.
 */
export async function pageEncryptedColumn<T extends WorkspaceTable>(
  db: Db,
  table: T,
  column: EncryptedColumn<T>,
  workspaceId: string,
  afterId: string | null,
  limit: number,
): Promise<{ id: string; value: string }[]> {
  const result = await sql<{ id: string; value: string }>`
    SELECT id, ${sql.ref(column)} AS value
    FROM ${sql.table(table)}
    WHERE workspace_id = ${workspaceId}
      AND ${sql.ref(column)} IS NOT NULL
      ${afterId === null ? sql`` : sql`AND id > ${afterId}`}
    ORDER BY id
    LIMIT ${limit}
  `.execute(db);
  return result.rows;
}

/**
 * Writes `next` only if the row still holds `previous`, so a concurrent change
 * (a new secret set meanwhile) wins over a rotation. Nothing else on the row
 * changes (no updated_at: the plaintext is the same).
 */
export async function replaceEncryptedColumn<T extends WorkspaceTable>(
  db: Db,
  table: T,
  column: EncryptedColumn<T>,
  workspaceId: string,
  id: string,
  previous: string,
  next: string,
): Promise<boolean> {
  const result = await sql`
    UPDATE ${sql.table(table)} SET ${sql.ref(column)} = ${next}
    WHERE workspace_id = ${workspaceId} AND id = ${id} AND ${sql.ref(column)} = ${previous}
  `.execute(db);
  return Number(result.numAffectedRows ?? 0) === 1;
}
