import { DomainError } from './errors.js';
import { isUuid } from './ids.js';

/**
 * Opaque pagination cursors. A cursor names the last id of the previous page;
 * ids are UUIDv7, so "id > cursor" in id order continues the listing even when
 * rows are inserted or deleted between pages.
 */
export function encodeCursor(lastId: string): string {
  return Buffer.from(JSON.stringify({ after: lastId })).toString('base64url');
}

/** `isKey` says what a valid position looks like: a UUID by default, a name for name-ordered listings. */
export function decodeCursor(
  cursor: string | undefined,
  isKey: (value: string) => boolean = isUuid,
): string | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const after = (parsed as { after?: unknown }).after;
    if (typeof after === 'string' && isKey(after)) return after;
  } catch {
    // fall through to the error below
  }
  throw new DomainError(
    'INVALID_CURSOR',
    'cursor is not a cursor Herald issued: pass the next_cursor value of the previous page unchanged',
    [{ path: '/cursor', message: 'invalid cursor' }],
  );
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** Builds a page from up to `limit + 1` rows: the extra row only says whether another page exists. */
export function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, next_cursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}
