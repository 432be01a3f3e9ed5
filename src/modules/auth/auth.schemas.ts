import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from '../../http/schemas.js';
import { ALL_SCOPES } from './scopes.js';

export const ScopeSchema = Type.Union(
  ALL_SCOPES.map((s) => Type.Literal(s)),
  { description: ALL_SCOPES.join(', ') },
);

export const ApiKeySchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    prefix: Type.String({ description: 'First characters of the secret, to tell keys apart.' }),
    scopes: Type.Array(Type.String()),
    created_at: Timestamp,
    last_used_at: NullableTimestamp,
    revoked_at: NullableTimestamp,
  },
  { title: 'ApiKey' },
);

export const CreatedApiKeySchema = Type.Object(
  {
    ...ApiKeySchema.properties,
    secret: Type.String({ description: 'The key itself. Shown only in this response: store it now.' }),
  },
  { title: 'CreatedApiKey' },
);

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    scopes: Type.Array(ScopeSchema, { minItems: 1, uniqueItems: true }),
  },
  { additionalProperties: false },
);

export const WorkspaceSchema = Type.Object(
  { id: Type.String({ format: 'uuid' }), name: Type.String(), created_at: Timestamp },
  { title: 'Workspace' },
);
