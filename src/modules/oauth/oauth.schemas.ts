import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from '../../http/schemas.js';
import { ScopeSchema } from '../auth/index.js';

export const OAuthClientSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    client_id: Type.String({ description: 'The identifier the client presents at POST /oauth/token.' }),
    scopes: Type.Array(Type.String()),
    created_at: Timestamp,
    last_used_at: NullableTimestamp,
    revoked_at: NullableTimestamp,
  },
  { title: 'OAuthClient' },
);

export const CreatedOAuthClientSchema = Type.Object(
  {
    ...OAuthClientSchema.properties,
    client_secret: Type.String({ description: 'Shown only in this response: store it now.' }),
  },
  { title: 'CreatedOAuthClient' },
);

export const CreateOAuthClientBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    scopes: Type.Array(ScopeSchema, { minItems: 1, uniqueItems: true }),
  },
  { additionalProperties: false },
);

/**
 * The token request, as a form (RFC 6749) or JSON. Unknown parameters are
 * ignored, as RFC 6749 §3.2 requires, unlike Herald's other bodies.
 */
export const TokenRequestBody = Type.Object(
  {
    grant_type: Type.Optional(Type.String({ description: 'client_credentials' })),
    client_id: Type.Optional(Type.String({ description: 'With client_secret, instead of HTTP Basic.' })),
    client_secret: Type.Optional(Type.String()),
    scope: Type.Optional(
      Type.String({
        description: 'Space-separated scopes to narrow the token to; default: all the client holds.',
      }),
    ),
  },
  { additionalProperties: true },
);

export const TokenResponseSchema = Type.Object(
  {
    access_token: Type.String({ description: 'A signed JWT; send it as "Authorization: Bearer <token>".' }),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer({ description: 'Seconds until the token expires.' }),
    scope: Type.String({ description: 'The scopes the token carries, space-separated.' }),
  },
  { title: 'OAuthToken' },
);

export const OAuthErrorSchema = Type.Object(
  {
    error: Type.String({
      description:
        'RFC 6749 §5.2: invalid_request, invalid_client, unsupported_grant_type, invalid_scope, unauthorized_client or invalid_grant.',
    }),
    error_description: Type.String(),
  },
  { title: 'OAuthError' },
);
