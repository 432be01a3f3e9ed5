/**
 * Whether a query failed on a unique index (SQLSTATE 23505), optionally on a
 * named one. The name is matched against the error's constraint field or,
 * where a driver leaves that out (PGlite), its message, which names the index.
 */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: unknown; constraint?: unknown; message?: unknown } | null;
  if (e?.code !== '23505') return false;
  if (constraint === undefined) return true;
  return e.constraint === constraint || String(e.message).includes(`"${constraint}"`);
}
