/**
 * Whether a query failed on a unique index (SQLSTATE 23505), optionally on a
 * named one. PGlite reports the constraint only in the message, so that is
 * checked too.
 */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: unknown; constraint?: unknown; message?: unknown } | null;
  if (e?.code !== '23505') return false;
  if (constraint === undefined || e.constraint === undefined) return true;
  return e.constraint === constraint || String(e.message).includes(constraint);
}
