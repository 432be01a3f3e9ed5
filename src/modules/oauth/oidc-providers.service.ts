import { type Db, encryptedColumn } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { DomainError, type ErrorDetail } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import * as repo from './oidc.repository.js';
import { oidcSecretPurpose, openOidcSecret, type SecretCipher, sealOidcSecret } from './oidc-secrets.js';

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

export interface OidcProvider {
  id: string;
  name: string;
  issuer: string;
  client_id: string;
  client_auth_method: ClientAuthMethod;
  scopes: string;
  allowed_domains: string[];
  provision_users: boolean;
  /** Where people start signing in: link to it from your login page. */
  start_url: string;
  /** The redirect URI to register with the identity provider. */
  redirect_uri: string;
  created_at: Date;
  updated_at: Date;
}

export interface OidcProviderInput {
  name: string;
  issuer: string;
  client_id: string;
  client_secret: string;
  client_auth_method?: ClientAuthMethod | undefined;
  scopes?: string | undefined;
  allowed_domains?: string[] | undefined;
  provision_users?: boolean | undefined;
}

/** A provider with its decrypted client secret, for the sign-in only. */
export interface OidcProviderWithSecret {
  id: string;
  workspaceId: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  clientAuthMethod: ClientAuthMethod;
  scopes: string;
  allowedDomains: string[];
  provisionUsers: boolean;
}

const DEFAULT_SCOPES = 'openid email profile';
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** The URL of the sign-in callback, the same for every provider: the state says which sign-in it ends. */
export function oidcRedirectUri(publicUrl: string): string {
  return `${publicUrl}/auth/oidc/callback`;
}

/**
 * An issuer must be https, as OpenID Connect Discovery requires; plain http
 * only on the loopback interface (a provider on the same machine, tests).
 */
export function issuerProblem(issuer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return 'is not a URL';
  }
  if (url.search || url.hash) return 'must not have a query or fragment';
  if (url.username || url.password) return 'must not carry credentials';
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    return 'must be an https URL (plain http only on 127.0.0.1 or localhost)';
  return undefined;
}

export function createOidcProviderService(deps: {
  db: Db;
  clock: Clock;
  /** Encrypts client secrets with the workspace data key. */
  cipher: SecretCipher;
  publicUrl: string;
}) {
  const { db, clock, cipher, publicUrl } = deps;

  function view(row: repo.OidcProviderRow): OidcProvider {
    return {
      id: row.id,
      name: row.name,
      issuer: row.issuer,
      client_id: row.client_id,
      client_auth_method: row.client_auth_method,
      scopes: row.scopes,
      allowed_domains: row.allowed_domains,
      provision_users: row.provision_users,
      start_url: `${publicUrl}/auth/oidc/${row.id}/start`,
      redirect_uri: oidcRedirectUri(publicUrl),
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  function checked(input: Partial<OidcProviderInput>): {
    issuer?: string;
    scopes?: string;
    allowed_domains?: string[];
  } {
    const problems: ErrorDetail[] = [];
    const out: { issuer?: string; scopes?: string; allowed_domains?: string[] } = {};
    if (input.issuer !== undefined) {
      const problem = issuerProblem(input.issuer);
      if (problem) problems.push({ path: '/issuer', message: `issuer ${problem}` });
      else out.issuer = input.issuer;
    }
    if (input.scopes !== undefined) {
      const scopes = [...new Set(input.scopes.split(' ').filter(Boolean))];
      if (!scopes.includes('openid') || !scopes.includes('email'))
        problems.push({ path: '/scopes', message: 'scopes must include "openid" and "email"' });
      out.scopes = scopes.join(' ');
    }
    if (input.allowed_domains !== undefined) {
      const domains = input.allowed_domains.map((d) => d.trim().toLowerCase());
      const bad = domains.filter((d) => !DOMAIN.test(d));
      if (bad.length > 0)
        problems.push({ path: '/allowed_domains', message: `not a domain name: ${bad.join(', ')}` });
      out.allowed_domains = [...new Set(domains)];
    }
    if (problems.length > 0)
      throw new DomainError('VALIDATION_FAILED', problems.map((p) => p.message).join('; '), problems);
    return out;
  }

  return {
    async create(workspaceId: string, input: OidcProviderInput): Promise<OidcProvider> {
      const valid = checked({
        ...input,
        scopes: input.scopes ?? DEFAULT_SCOPES,
        allowed_domains: input.allowed_domains ?? [],
      });
      const now = clock.now();
      const id = uuidv7(now.getTime());
      const row: repo.OidcProviderRow = {
        id,
        workspace_id: workspaceId,
        name: input.name,
        issuer: valid.issuer ?? input.issuer,
        client_id: input.client_id,
        client_secret_encrypted: await sealOidcSecret(cipher, workspaceId, id, input.client_secret),
        client_auth_method: input.client_auth_method ?? 'client_secret_basic',
        scopes: valid.scopes ?? DEFAULT_SCOPES,
        allowed_domains: valid.allowed_domains ?? [],
        provision_users: input.provision_users ?? false,
        created_at: now,
        updated_at: now,
      };
      await repo.insertProvider(db, row);
      return view(row);
    },

    async list(
      workspaceId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<OidcProvider>> {
      const rows = await repo.listProviders(db, workspaceId, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      return toPage(rows.map(view), page.limit);
    },

    async get(workspaceId: string, id: string): Promise<OidcProvider> {
      const row = await repo.findProvider(db, workspaceId, id);
      if (!row) throw notFound(id);
      return view(row);
    },

    async update(workspaceId: string, id: string, input: Partial<OidcProviderInput>): Promise<OidcProvider> {
      const valid = checked(input);
      const changes: Parameters<typeof repo.updateProvider>[3] = { updated_at: clock.now() };
      if (input.name !== undefined) changes.name = input.name;
      if (valid.issuer !== undefined) changes.issuer = valid.issuer;
      if (input.client_id !== undefined) changes.client_id = input.client_id;
      if (input.client_secret !== undefined) {
        // Checked first, so an unknown id does not make the workspace's data key.
        if (!(await repo.findProvider(db, workspaceId, id))) throw notFound(id);
        changes.client_secret_encrypted = await sealOidcSecret(cipher, workspaceId, id, input.client_secret);
      }
      if (input.client_auth_method !== undefined) changes.client_auth_method = input.client_auth_method;
      if (valid.scopes !== undefined) changes.scopes = valid.scopes;
      if (valid.allowed_domains !== undefined) changes.allowed_domains = valid.allowed_domains;
      if (input.provision_users !== undefined) changes.provision_users = input.provision_users;
      const row = await repo.updateProvider(db, workspaceId, id, changes);
      if (!row) throw notFound(id);
      return view(row);
    },

    async remove(workspaceId: string, id: string): Promise<void> {
      if (!(await repo.deleteProvider(db, workspaceId, id))) throw notFound(id);
    },

    /** Client secrets, for `herald keys rotate-data` (data-keys module's EncryptedValueSource shape). */
    encryptedValues: {
      name: 'oidc_providers.client_secret',
      ...encryptedColumn(db, 'oidc_providers', 'client_secret_encrypted', oidcSecretPurpose),
    },

    /** The provider a sign-in names, with its secret; undefined when there is none. */
    async forSignIn(id: string): Promise<OidcProviderWithSecret | undefined> {
      const row = await repo.findProviderForSignIn(db, id);
      if (!row) return undefined;
      return {
        id: row.id,
        workspaceId: row.workspace_id,
        issuer: row.issuer,
        clientId: row.client_id,
        clientSecret: await openOidcSecret(cipher, row.workspace_id, row.id, row.client_secret_encrypted),
        clientAuthMethod: row.client_auth_method,
        scopes: row.scopes,
        allowedDomains: row.allowed_domains,
        provisionUsers: row.provision_users,
      };
    },
  };
}

export type OidcProviderService = ReturnType<typeof createOidcProviderService>;

function notFound(id: string): DomainError {
  return new DomainError(
    'OIDC_PROVIDER_NOT_FOUND',
    `OpenID Connect provider ${id} does not exist in this workspace`,
  );
}
