import { Type } from 'typebox';
import { Timestamp } from '../../http/schemas.js';

const ClientAuthMethod = Type.Union(
  [Type.Literal('client_secret_basic'), Type.Literal('client_secret_post')],
  {
    description: 'How Herald authenticates at the token endpoint. Default client_secret_basic.',
  },
);

const fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  issuer: Type.String({
    minLength: 1,
    maxLength: 500,
    description:
      'The issuer URL exactly as the provider names it (its discovery document is at <issuer>/.well-known/openid-configuration). https; http only on 127.0.0.1 or localhost.',
  }),
  client_id: Type.String({ minLength: 1, maxLength: 500 }),
  client_secret: Type.String({
    minLength: 1,
    maxLength: 2000,
    description: 'Stored encrypted; never returned.',
  }),
  client_auth_method: ClientAuthMethod,
  scopes: Type.String({
    maxLength: 500,
    description: 'Space-separated; must include openid and email. Default "openid email profile".',
  }),
  allowed_domains: Type.Array(Type.String({ maxLength: 253 }), {
    maxItems: 100,
    description: 'Email domains whose verified addresses may sign in. Empty (default): any domain.',
  }),
  provision_users: Type.Boolean({
    description:
      'Whether a verified address that is not yet a user of the workspace becomes one at first sign-in. Default false: refused.',
  }),
};

export const CreateOidcProviderBody = Type.Object(
  {
    name: fields.name,
    issuer: fields.issuer,
    client_id: fields.client_id,
    client_secret: fields.client_secret,
    client_auth_method: Type.Optional(fields.client_auth_method),
    scopes: Type.Optional(fields.scopes),
    allowed_domains: Type.Optional(fields.allowed_domains),
    provision_users: Type.Optional(fields.provision_users),
  },
  { additionalProperties: false },
);

export const UpdateOidcProviderBody = Type.Object(
  {
    name: Type.Optional(fields.name),
    issuer: Type.Optional(fields.issuer),
    client_id: Type.Optional(fields.client_id),
    client_secret: Type.Optional(fields.client_secret),
    client_auth_method: Type.Optional(fields.client_auth_method),
    scopes: Type.Optional(fields.scopes),
    allowed_domains: Type.Optional(fields.allowed_domains),
    provision_users: Type.Optional(fields.provision_users),
  },
  { additionalProperties: false },
);

export const OidcProviderSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    issuer: Type.String(),
    client_id: Type.String(),
    client_auth_method: ClientAuthMethod,
    scopes: Type.String(),
    allowed_domains: Type.Array(Type.String()),
    provision_users: Type.Boolean(),
    start_url: Type.String({ description: 'Send people here to sign in (GET).' }),
    redirect_uri: Type.String({ description: 'Register this as the redirect URI at the provider.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'OidcProvider' },
);
