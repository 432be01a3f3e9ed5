import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { DomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import * as repo from './api-keys.repository.js';
import { grants, isScope, type Scope } from './scopes.js';

export interface ApiKey {
  id: string;
  workspace_id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface CreatedApiKey extends ApiKey {
  /** The full secret. Returned once at creation and never stored. */
  secret: string;
}

/** Who acts: an API key today; users and OAuth clients authenticate into the same shape. */
export interface Actor {
  type: 'api_key' | 'user' | 'oauth_client';
  id: string;
}

export interface Principal {
  workspaceId: string;
  actor: Actor;
  scopes: string[];
}

const SECRET_PREFIX = 'hk_';
const LAST_USED_RESOLUTION_MS = 60_000;

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function createApiKeyService(deps: { db: Db; clock: Clock }) {
  const { db, clock } = deps;

  return {
    /**
     * Creates a key with 256 random bits. When `creator` is given, the new key
     * cannot hold a scope its creator lacks.
     */
    async create(input: {
      workspaceId: string;
      name: string;
      scopes: string[];
      creator?: Principal;
    }): Promise<CreatedApiKey> {
      const unknown = input.scopes.filter((s) => !isScope(s));
      if (unknown.length > 0) {
        throw new DomainError(
          'VALIDATION_FAILED',
          `unknown scope ${unknown.map((s) => `"${s}"`).join(', ')}`,
          [{ path: '/scopes', message: `unknown scope: ${unknown.join(', ')}` }],
        );
      }
      if (input.scopes.length === 0) {
        throw new DomainError('VALIDATION_FAILED', 'a key needs at least one scope', [
          { path: '/scopes', message: 'empty' },
        ]);
      }
      if (input.creator) {
        const creator = input.creator;
        const beyond = input.scopes.filter((s) => !grants(creator.scopes, s as Scope));
        if (beyond.length > 0) {
          throw new DomainError(
            'FORBIDDEN',
            `a key cannot grant scopes it does not hold: ${beyond.join(', ')}`,
          );
        }
      }
      const secret = SECRET_PREFIX + randomBytes(32).toString('base64url');
      const now = clock.now();
      const row = {
        id: uuidv7(now.getTime()),
        workspace_id: input.workspaceId,
        name: input.name,
        prefix: secret.slice(0, 11),
        secret_hash: hashSecret(secret),
        scopes: [...new Set(input.scopes)],
        created_at: now,
      };
      await repo.insertApiKey(db, row);
      return { ...toApiKey({ ...row, last_used_at: null, revoked_at: null }), secret };
    },

    /** Resolves a presented secret to its workspace and scopes; undefined for unknown or revoked keys. */
    async authenticate(secret: string): Promise<Principal | undefined> {
      if (!secret.startsWith(SECRET_PREFIX) || secret.length > 100) return undefined;
      const row = await repo.findActiveKeyByHash(db, hashSecret(secret));
      if (!row) return undefined;
      const now = clock.now();
      const staleBefore = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
      if (!row.last_used_at || row.last_used_at < staleBefore)
        await repo.touchApiKey(db, row.id, now, staleBefore);
      return { workspaceId: row.workspace_id, actor: { type: 'api_key', id: row.id }, scopes: row.scopes };
    },

    async list(
      workspaceId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<ApiKey>> {
      const rows = await repo.listApiKeys(db, workspaceId, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      return toPage(rows.map(toApiKey), page.limit);
    },

    async get(workspaceId: string, id: string): Promise<ApiKey> {
      const row = await repo.findApiKey(db, workspaceId, id);
      if (!row) throw new DomainError('API_KEY_NOT_FOUND', `API key ${id} does not exist in this workspace`);
      return toApiKey(row);
    },

    async revoke(workspaceId: string, id: string): Promise<ApiKey> {
      const revoked = await repo.revokeApiKey(db, workspaceId, id, clock.now());
      if (revoked) return toApiKey(revoked);
      // Revoking twice is harmless: report the key as it is.
      return this.get(workspaceId, id);
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;

function toApiKey(row: Omit<repo.ApiKeyRow, 'secret_hash'> & { secret_hash?: string }): ApiKey {
  return {
    id: row.id,
    workspace_id: row.workspace_id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    created_at: row.created_at,
    last_used_at: row.last_used_at,
    revoked_at: row.revoked_at,
  };
}
