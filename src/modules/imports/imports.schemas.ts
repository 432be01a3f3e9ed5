import { Type } from 'typebox';
import { NullableTimestamp, PageQuery, Timestamp } from '../../http/schemas.js';

export const ImportModeSchema = Type.Union(
  [Type.Literal('upsert'), Type.Literal('add'), Type.Literal('unsubscribe'), Type.Literal('block')],
  {
    description:
      'upsert: create new contacts and update existing ones (attributes merge, tags are added, given fields overwrite). ' +
      'add: create new contacts only; existing ones are skipped. ' +
      'unsubscribe: existing contacts are unsubscribed from list_id, or get status unsubscribed without a list; unknown emails are skipped. ' +
      'block: contacts get status blocked; missing ones are created blocked.',
  },
);

const ImportStatusSchema = Type.Union(
  [
    Type.Literal('receiving'),
    Type.Literal('queued'),
    Type.Literal('running'),
    Type.Literal('completed'),
    Type.Literal('failed'),
  ],
  { description: 'receiving, queued, running, completed or failed' },
);

export const ImportCreateQuery = Type.Object(
  {
    mode: Type.Optional(ImportModeSchema),
    list_id: Type.Optional(
      Type.String({
        format: 'uuid',
        description:
          'Subscribe imported contacts to this list (upsert, add) or unsubscribe them from it (unsubscribe). ' +
          'Members who unsubscribed from the list are never re-subscribed by an import.',
      }),
    ),
    list_status: Type.Optional(
      Type.Union([Type.Literal('confirmed'), Type.Literal('unconfirmed')], {
        description:
          'Membership status of new members; default confirmed for single opt-in lists, unconfirmed for double opt-in lists.',
      }),
    ),
    mapping: Type.Optional(
      Type.String({
        maxLength: 20_000,
        description:
          'URL-encoded JSON object "CSV column" -> "email" | "external_id" | "status" | "tags" | "timezone" | "locale" | ' +
          '"do_not_sell" (true/false/1/0/yes/no) | ' +
          '"attributes.<name>" | null (ignore). Columns it does not name map by header name; other columns become attributes.',
      }),
    ),
    filename: Type.Optional(Type.String({ maxLength: 255, description: 'Shown in the import list.' })),
  },
  { additionalProperties: false },
);

export const ImportSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    status: ImportStatusSchema,
    mode: ImportModeSchema,
    list_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    filename: Type.Union([Type.String(), Type.Null()]),
    source: Type.Union([Type.Literal('api'), Type.Literal('cli')]),
    mapping: Type.Union([Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()])), Type.Null()], {
      description: 'The column -> target mapping the import uses.',
    }),
    size_bytes: Type.Integer(),
    rows_total: Type.Integer({ description: 'Data rows processed so far (grows while the import runs).' }),
    created_count: Type.Integer({ description: 'Contacts created.' }),
    updated_count: Type.Integer({ description: 'Existing contacts changed.' }),
    skipped_count: Type.Integer({
      description:
        'Rows that changed nothing: existing contacts in add mode, unknown or already unsubscribed/blocked ones in ' +
        'unsubscribe and block modes, and contacts not re-subscribed to the list because they had unsubscribed.',
    }),
    failed_count: Type.Integer({
      description: 'Rows refused; see errors. Counts every bad row, also past the 10,000 stored.',
    }),
    warning_count: Type.Integer({
      description:
        'Hygiene warnings on rows that imported (role addresses, likely typos; disposable domains when the ' +
        'workspace warns about them); see warnings.',
    }),
    error: Type.Union([Type.String(), Type.Null()], { description: 'Why a failed import stopped.' }),
    created_at: Timestamp,
    started_at: NullableTimestamp,
    finished_at: NullableTimestamp,
  },
  { title: 'Import' },
);

export const ImportRowErrorSchema = Type.Object(
  {
    line: Type.Integer({ description: 'Line of the file where the row starts (the header is line 1).' }),
    reason: Type.String(),
  },
  { title: 'ImportRowError' },
);

export const ImportRowWarningSchema = Type.Object(
  {
    line: Type.Integer({ description: 'Line of the file where the row starts (the header is line 1).' }),
    code: Type.String({ description: 'role_account, possible_typo or disposable_domain.' }),
    message: Type.String(),
    suggestion: Type.Union([Type.String(), Type.Null()], {
      description: 'For possible_typo: the corrected address.',
    }),
  },
  { title: 'ImportRowWarning' },
);

export const ImportWithErrorsSchema = Type.Object(
  {
    ...ImportSchema.properties,
    errors: Type.Array(ImportRowErrorSchema, { description: 'The first 100 row errors by line.' }),
    warnings: Type.Array(ImportRowWarningSchema, {
      description: 'The first 100 hygiene warnings by line; those rows imported.',
    }),
  },
  { title: 'ImportWithErrors' },
);

export const ImportListQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
