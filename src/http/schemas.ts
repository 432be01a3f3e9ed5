import { type TSchema, Type } from 'typebox';

/** RFC 9457 problem details, with Herald's stable error code. */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable error code, e.g. CONTACT_NOT_FOUND.' }),
    detail: Type.String({ description: 'What was wrong and how to fix it.' }),
    request_id: Type.String(),
    errors: Type.Optional(
      Type.Array(
        Type.Object(
          { path: Type.Optional(Type.String()), message: Type.String() },
          { additionalProperties: true },
        ),
      ),
    ),
  },
  { $id: 'Problem', title: 'Problem' },
);

export const ProblemRef = Type.Ref('Problem');

/** Adds the problem responses every authenticated route can produce. */
export function responses<T extends Record<number, TSchema>>(ok: T) {
  return {
    ...ok,
    400: ProblemRef,
    401: ProblemRef,
    403: ProblemRef,
    404: ProblemRef,
    409: ProblemRef,
    413: ProblemRef,
    415: ProblemRef,
    429: ProblemRef,
  } as T & Record<400 | 401 | 403 | 404 | 409 | 413 | 415 | 429, TSchema>;
}

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Page size.' })),
  cursor: Type.Optional(Type.String({ description: 'next_cursor of the previous page.' })),
};

export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({
    data: Type.Array(item),
    next_cursor: Type.Union([Type.String(), Type.Null()], {
      description: 'Pass as cursor to get the next page; null on the last page.',
    }),
  });
}

export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

/** A Date in code, an RFC 3339 string on the wire (fast-json-stringify serializes it). */
export const Timestamp = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
