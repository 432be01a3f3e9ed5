import type pg from 'pg';

/**
 * A fingerprint of every table's rows, to assert that a refused request wrote
 * nothing. Tables are read from the catalogue, so a table added later is
 * covered without editing the tests. api_keys is only counted: authenticating
 * updates its last_used_at. `except` leaves out tables a successful request
 * is expected to write (the audit log of an audited action).
 */
export async function databaseSnapshot(
  pool: pg.Pool,
  options: { except?: readonly string[] } = {},
): Promise<string> {
  const tables = await pool.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
     WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
       AND table_name NOT IN ('schema_migrations', 'api_keys')
       AND NOT (table_name = ANY($1::text[]))
     ORDER BY table_name`,
    [options.except ?? []],
  );
  const parts: string[] = [];
  for (const { name } of tables.rows) {
    const result = await pool.query<{ v: string }>(
      `SELECT count(*)::text || ':' || coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') AS v FROM "${name}" x`,
    );
    parts.push(`${name}=${result.rows[0]?.v}`);
  }
  const keys = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM api_keys');
  return `${parts.join(' ')} api_keys=${keys.rows[0]?.n}`;
}
