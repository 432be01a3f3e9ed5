import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { DomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import type { SecretKeyring } from '../../lib/secret-keys.js';
import { grants, isScope, type Principal, type Scope } from '../auth/index.js';
import { ACCESS_TOKEN_AUDIENCE, signAccessToken, verifyAccessToken } from './access-tokens.js';
import * as repo from './oauth-clients.repository.js';

export interface OAuthClient {
  id: string;
  name: string;
  client_id: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface CreatedOAuthClient extends OAuthClient {
  /** Returned once at creation; only its hash is stored. */
  client_secret: string;
}

export interface IssuedAccessToken {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

/** The RFC 6749 §5.2 error codes the token endpoint answers with. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope';

/**
 * A token-endpoint refusal. Not a DomainError: OAuth clients expect the
 * RFC 6749 JSON shape ({error, error_description}), not problem+json.
 */
export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
  ) {
    super(description);
    this.name = 'OAuthError';
  }

  /** invalid_client is 401 (the client must authenticate again); everything else 400. */
  get status(): number {
    return this.error === 'invalid_client' ? 401 : 400;
  }
}

const CLIENT_ID_PREFIX = 'hc_';
const SECRET_PREFIX = 'hcs_';
const LAST_USED_RESOLUTION_MS = 60_000;
/** Scope tokens per RFC 6749 §3.3: printable ASCII without space, quote or backslash. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function createOAuthClientService(deps: {
  db: Db;
  clock: Clock;
  keyring: SecretKeyring;
  /** Herald's public URL: the tokens' issuer. */
  issuer: string;
  accessTokenTtlSeconds: number;
}) {
  const { db, clock, keyring, issuer, accessTokenTtlSeconds } = deps;

  return {
    /** Creates a client whose scopes never exceed its creator's. */
    async create(input: {
      workspaceId: string;
      name: string;
      scopes: string[];
      creator: Principal;
    }): Promise<CreatedOAuthClient> {
      const unknown = input.scopes.filter((s) => !isScope(s));
      if (unknown.length > 0) {
        throw new DomainError(
          'VALIDATION_FAILED',
          `unknown scope ${unknown.map((s) => `"${s}"`).join(', ')}`,
          [{ path: '/scopes', message: `unknown scope: ${unknown.join(', ')}` }],
        );
      }
      if (input.scopes.length === 0) {
        throw new DomainError('VALIDATION_FAILED', 'an OAuth client needs at least one scope', [
          { path: '/scopes', message: 'empty' },
        ]);
      }
      const beyond = input.scopes.filter((s) => !grants(input.creator.scopes, s as Scope));
      if (beyond.length > 0) {
        throw new DomainError(
          'FORBIDDEN',
          `an OAuth client cannot get scopes its creator does not hold: ${beyond.join(', ')}`,
        );
      }
      const clientSecret = SECRET_PREFIX + randomBytes(32).toString('base64url');
      const now = clock.now();
      const row = {
        id: uuidv7(now.getTime()),
        workspace_id: input.workspaceId,
        name: input.name,
        client_id: CLIENT_ID_PREFIX + randomBytes(16).toString('base64url'),
        secret_hash: hashSecret(clientSecret),
        scopes: [...new Set(input.scopes)],
        created_at: now,
      };
      await repo.insertClient(db, row);
      return { ...toClient({ ...row, last_used_at: null, revoked_at: null }), client_secret: clientSecret };
    },

    async list(
      workspaceId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<OAuthClient>> {
      const rows = await repo.listClients(db, workspaceId, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      return toPage(rows.map(toClient), page.limit);
    },

    async get(workspaceId: string, id: string): Promise<OAuthClient> {
      const row = await repo.findClient(db, workspaceId, id);
      if (!row)
        throw new DomainError(
          'OAUTH_CLIENT_NOT_FOUND',
          `OAuth client ${id} does not exist in this workspace`,
        );
      return toClient(row);
    },

    /** Takes effect at once: tokens already issued stop authenticating on their next request. */
    async revoke(workspaceId: string, id: string): Promise<OAuthClient> {
      const revoked = await repo.revokeClient(db, workspaceId, id, clock.now());
      if (revoked) return toClient(revoked);
      return this.get(workspaceId, id);
    },

    /**
     * The client credentials grant (RFC 6749 §4.4): a short-lived token for
     * the client's scopes, or the subset `scope` asks for.
     */
    async issueToken(input: {
      clientId: string;
      clientSecret: string;
      scope: string | undefined;
    }): Promise<IssuedAccessToken> {
      const client =
        input.clientId.length <= 200 ? await repo.findClientByClientId(db, input.clientId) : undefined;
      const presented = Buffer.from(hashSecret(input.clientSecret));
      // Compare even for an unknown client, so timing does not tell which client ids exist.
      const stored = Buffer.from(client?.secret_hash ?? hashSecret(randomBytes(16).toString('hex')));
      const secretMatches = timingSafeEqual(presented, stored);
      if (!client || !secretMatches || client.revoked_at) {
        throw new OAuthError(
          'invalid_client',
          'Unknown client, wrong client secret, or the client was revoked.',
        );
      }
      const scopes = narrowScopes(client.scopes, input.scope);
      const now = clock.now();
      const iat = Math.floor(now.getTime() / 1000);
      const scope = scopes.join(' ');
      const accessToken = signAccessToken(keyring, {
        iss: issuer,
        aud: ACCESS_TOKEN_AUDIENCE,
        sub: client.client_id,
        client: client.id,
        workspace: client.workspace_id,
        scope,
        jti: randomBytes(16).toString('base64url'),
        iat,
        exp: iat + accessTokenTtlSeconds,
      });
      await repo.touchClient(db, client.id, now, new Date(now.getTime() - LAST_USED_RESOLUTION_MS));
      return { access_token: accessToken, token_type: 'Bearer', expires_in: accessTokenTtlSeconds, scope };
    },

    /**
     * The principal of a presented access token; undefined when the signature,
     * issuer or expiry is wrong or the client is revoked. The client is read on
     * every request (one indexed row), so revocation needs no cache to expire.
     */
    async authenticate(token: string): Promise<Principal | undefined> {
      const claims = verifyAccessToken(keyring, token, clock.now(), issuer);
      if (!claims) return undefined;
      const client = await repo.findActiveClient(db, claims.workspace, claims.client);
      if (!client || client.client_id !== claims.sub) return undefined;
      const scopes = claims.scope.split(' ').filter((s) => isScope(s) && grants(client.scopes, s));
      return { workspaceId: claims.workspace, actor: { type: 'oauth_client', id: client.id }, scopes };
    },
  };
}

export type OAuthClientService = ReturnType<typeof createOAuthClientService>;

/** The requested scopes when the client holds them all; the client's own scopes when none are asked for. */
function narrowScopes(held: string[], requested: string | undefined): string[] {
  if (requested === undefined) return held;
  const asked = requested.split(' ').filter((s) => s.length > 0);
  if (asked.length === 0)
    throw new OAuthError('invalid_scope', "scope is empty; leave it out to get all the client's scopes.");
  const malformed = asked.filter((s) => !SCOPE_TOKEN.test(s));
  if (malformed.length > 0)
    throw new OAuthError('invalid_scope', 'scope holds characters a scope cannot have.');
  const unknown = asked.filter((s) => !isScope(s));
  if (unknown.length > 0) throw new OAuthError('invalid_scope', `Unknown scope: ${unknown.join(', ')}.`);
  const beyond = asked.filter((s) => !grants(held, s as Scope));
  if (beyond.length > 0)
    throw new OAuthError('invalid_scope', `The client does not hold the scope: ${beyond.join(', ')}.`);
  return [...new Set(asked)];
}

function toClient(row: repo.OAuthClientRow): OAuthClient {
  return {
    id: row.id,
    name: row.name,
    client_id: row.client_id,
    scopes: row.scopes,
    created_at: row.created_at,
    last_used_at: row.last_used_at,
    revoked_at: row.revoked_at,
  };
}
