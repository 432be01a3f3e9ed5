import { Type } from 'typebox';
import { PageQuery, Timestamp } from '../../http/schemas.js';

const ACTOR_PATTERN = '^(api_key|user|oauth_client|system|cli)(:[^\\s:]{1,200})?$';
const TARGET_PATTERN = '^[a-z][a-z0-9_]{0,63}(:[^\\s]{1,200})?$';

export const AuditFilterQuery = {
  action: Type.Optional(
    Type.String({
      pattern: '^[a-z][a-z0-9_.]{0,99}$',
      description: 'Only entries with this action, e.g. campaign.send or api_key.create.',
    }),
  ),
  actor: Type.Optional(
    Type.String({
      pattern: ACTOR_PATTERN,
      description:
        'Only entries by this actor: a type (api_key, user, oauth_client, system, cli), or type:id, e.g. api_key:0191…',
    }),
  ),
  target: Type.Optional(
    Type.String({
      pattern: TARGET_PATTERN,
      description: 'Only entries about this target: a type (campaign, template, api_key…), or type:id.',
    }),
  ),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Entries at or after this time.' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Entries before this time.' })),
};

export const AuditLogQuery = Type.Object(
  { ...PageQuery, ...AuditFilterQuery },
  { additionalProperties: false },
);
export const AuditExportQuery = Type.Object(AuditFilterQuery, { additionalProperties: false });

export const AuditEntrySchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    seq: Type.Integer({ description: 'Position in the workspace chain: 1, 2, 3, … without gaps.' }),
    occurred_at: Timestamp,
    actor: Type.Object({
      type: Type.Enum(['api_key', 'user', 'oauth_client', 'system', 'cli']),
      id: Type.Union([Type.String(), Type.Null()], {
        description: 'The API key, user or OAuth client id; the operating-system account for cli.',
      }),
    }),
    action: Type.String({
      description: 'e.g. campaign.send, template.update, api_key.create, contacts.export.',
    }),
    target: Type.Union([
      Type.Object({ type: Type.String(), id: Type.Union([Type.String(), Type.Null()]) }),
      Type.Null(),
    ]),
    ip: Type.Union([Type.String(), Type.Null()]),
    request_id: Type.Union([Type.String(), Type.Null()], {
      description: 'The X-Request-Id of the request that made the change.',
    }),
    details: Type.Record(Type.String(), Type.Unknown(), {
      description: 'Non-personal detail: the names of the fields a request set, never their values.',
    }),
    prev_hash: Type.String({ description: 'The hash of the previous entry (64 zeros for the first).' }),
    hash: Type.String({
      description: 'SHA-256 over this entry and prev_hash; `herald audit verify` recomputes it.',
    }),
  },
  { title: 'AuditEntry' },
);
