import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../../src/lib/errors.js';
import { signAccessToken } from '../../src/modules/oauth/access-tokens.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ HERALD_OAUTH_ACCESS_TOKEN_TTL_SECONDS: '300' });
});
afterAll(async () => {
  await t.close();
});

interface CreatedClient {
  id: string;
  client_id: string;
  client_secret: string;
  scopes: string[];
}

async function createClient(scopes: string[], adminKey = t.adminKey): Promise<CreatedClient> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/oauth/clients',
    headers: t.auth(adminKey),
    payload: { name: 'reporting job', scopes },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

async function tokenRequest(
  body: string | object,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Record<string, unknown> }> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: {
      'content-type': typeof body === 'string' ? 'application/x-www-form-urlencoded' : 'application/json',
      ...headers,
    },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, json: res.json(), headers: res.headers };
}

async function tokenFor(client: CreatedClient, scope?: string): Promise<string> {
  const res = await tokenRequest(form({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) }), {
    authorization: basic(client.client_id, client.client_secret),
  });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return res.json.access_token as string;
}

function bearer(token: string) {
  return { authorization: `Bearer ${token}` };
}

describe('OAuth clients', () => {
  it('creates a client whose secret is shown once and stored only as a hash; lists and gets it without the secret', async () => {
    const client = await createClient(['contacts:read']);
    expect(client.client_id).toMatch(/^hc_[A-Za-z0-9_-]{22}$/);
    expect(client.client_secret).toMatch(/^hcs_[A-Za-z0-9_-]{43}$/);
    const stored = await t.container.db
      .selectFrom('oauth_clients')
      .selectAll()
      .where('id', '=', client.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(stored)).not.toContain(client.client_secret);

    const got = await t.app.inject({
      method: 'GET',
      url: `/v1/oauth/clients/${client.id}`,
      headers: t.auth(),
    });
    expect(got.statusCode).toBe(200);
    expect(got.json().client_secret).toBeUndefined();
    const list = await t.app.inject({ method: 'GET', url: '/v1/oauth/clients', headers: t.auth() });
    expect(list.json().data.map((c: { id: string }) => c.id)).toContain(client.id);
    expect(list.body).not.toContain(client.client_secret);
  });

  it('refuses unknown scopes and unknown fields, and stores nothing', async () => {
    const before = await t.container.db.selectFrom('oauth_clients').select('id').execute();
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/oauth/clients',
      headers: t.auth(),
      payload: { name: 'x', scopes: ['everything'], colour: 'red' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('VALIDATION_FAILED');
    const empty = await t.app.inject({
      method: 'POST',
      url: '/v1/oauth/clients',
      headers: t.auth(),
      payload: { name: 'x', scopes: [] },
    });
    expect(empty.statusCode).toBe(400);
    const after = await t.container.db.selectFrom('oauth_clients').select('id').execute();
    expect(after).toHaveLength(before.length);
  });

  it('never gives a client scopes its creator lacks', async () => {
    const creator = {
      workspaceId: t.workspaceId,
      actor: { type: 'api_key' as const, id: 'k' },
      scopes: ['contacts:read'],
    };
    await expect(
      t.container.oauthClients.create({
        workspaceId: t.workspaceId,
        name: 'greedy',
        scopes: ['contacts:read', 'contacts:write'],
        creator,
      }),
    ).rejects.toThrow(DomainError);
    const ok = await t.container.oauthClients.create({
      workspaceId: t.workspaceId,
      name: 'modest',
      scopes: ['contacts:read'],
      creator,
    });
    expect(ok.scopes).toEqual(['contacts:read']);
  });

  it('answers 404 for a client of another workspace and does not revoke it', async () => {
    const client = await createClient(['contacts:read']);
    const other = await t.createWorkspace('Client intruder');
    for (const method of ['GET', 'DELETE'] as const) {
      const res = await t.app.inject({
        method,
        url: `/v1/oauth/clients/${client.id}`,
        headers: t.auth(other.adminKey),
      });
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('OAUTH_CLIENT_NOT_FOUND');
    }
    const list = await t.app.inject({
      method: 'GET',
      url: '/v1/oauth/clients',
      headers: t.auth(other.adminKey),
    });
    expect(list.json().data).toEqual([]);
    expect(await tokenFor(client)).toEqual(expect.any(String));
  });
});

describe('POST /oauth/token', () => {
  it('issues a Bearer token for HTTP Basic client authentication, with no-store headers', async () => {
    const client = await createClient(['contacts:read', 'lists:read']);
    const res = await tokenRequest(form({ grant_type: 'client_credentials' }), {
      authorization: basic(client.client_id, client.client_secret),
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'contacts:read lists:read',
    });
    expect(res.headers['cache-control']).toBe('no-store');
    const [, payload] = String(res.json.access_token).split('.');
    const claims = JSON.parse(Buffer.from(String(payload), 'base64url').toString());
    expect(claims).toMatchObject({
      sub: client.client_id,
      workspace: t.workspaceId,
      scope: 'contacts:read lists:read',
    });
    expect(claims.exp - claims.iat).toBe(300);
    expect(claims.jti).toEqual(expect.any(String));

    const ok = await t.app.inject({
      method: 'GET',
      url: '/v1/workspace',
      headers: bearer(String(res.json.access_token)),
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().id).toBe(t.workspaceId);
  });

  it('accepts client_id and client_secret in a form body and in a JSON body', async () => {
    const client = await createClient(['contacts:read']);
    const formRes = await tokenRequest(
      form({
        grant_type: 'client_credentials',
        client_id: client.client_id,
        client_secret: client.client_secret,
      }),
    );
    expect(formRes.status).toBe(200);
    const jsonRes = await tokenRequest({
      grant_type: 'client_credentials',
      client_id: client.client_id,
      client_secret: client.client_secret,
    });
    expect(jsonRes.status).toBe(200);
    expect(jsonRes.json.token_type).toBe('Bearer');
  });

  it('narrows the token to the requested scopes and refuses scopes the client lacks', async () => {
    const client = await createClient(['contacts:read', 'lists:read']);
    const narrow = await tokenFor(client, 'contacts:read');
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: bearer(narrow) })).statusCode,
    ).toBe(200);
    const lists = await t.app.inject({ method: 'GET', url: '/v1/lists', headers: bearer(narrow) });
    expect(lists.statusCode).toBe(403);
    expect(lists.json().detail).toContain('access token lacks the scope "lists:read"');

    for (const scope of ['contacts:write', 'admin', 'no-such-scope', '', 'contacts:read "x"']) {
      const res = await tokenRequest(form({ grant_type: 'client_credentials', scope }), {
        authorization: basic(client.client_id, client.client_secret),
      });
      expect(res.status, scope).toBe(400);
      expect(res.json.error, scope).toBe('invalid_scope');
      expect(res.json.error_description).toEqual(expect.any(String));
      expect(res.json.access_token).toBeUndefined();
    }
  });

  it('refuses wrong, unknown, revoked and missing client credentials with invalid_client 401 and WWW-Authenticate', async () => {
    const client = await createClient(['contacts:read']);
    const cases: Array<[string, string | object, Record<string, string>]> = [
      [
        'wrong secret',
        form({ grant_type: 'client_credentials' }),
        { authorization: basic(client.client_id, 'hcs_wrong') },
      ],
      [
        'unknown client',
        form({ grant_type: 'client_credentials' }),
        { authorization: basic('hc_nobody', client.client_secret) },
      ],
      ['no credentials', form({ grant_type: 'client_credentials' }), {}],
      ['id without secret', form({ grant_type: 'client_credentials', client_id: client.client_id }), {}],
      [
        'bearer instead of basic',
        form({ grant_type: 'client_credentials' }),
        { authorization: `Bearer ${t.adminKey}` },
      ],
      [
        'secret of another client',
        {
          grant_type: 'client_credentials',
          client_id: client.client_id,
          client_secret: (await createClient(['contacts:read'])).client_secret,
        },
        {},
      ],
    ];
    for (const [name, body, headers] of cases) {
      const res = await tokenRequest(body, headers);
      expect(res.status, name).toBe(401);
      expect(res.json.error, name).toBe('invalid_client');
      expect(String(res.headers['www-authenticate']), name).toContain('Basic');
    }
  });

  it('answers unsupported_grant_type and invalid_request in the RFC 6749 shape', async () => {
    const client = await createClient(['contacts:read']);
    const auth = { authorization: basic(client.client_id, client.client_secret) };
    const cases: Array<[string, string | object, Record<string, string>, string]> = [
      [
        'password grant',
        form({ grant_type: 'password', username: 'a', password: 'b' }),
        auth,
        'unsupported_grant_type',
      ],
      [
        'authorization_code',
        form({ grant_type: 'authorization_code', code: 'x' }),
        auth,
        'unsupported_grant_type',
      ],
      ['no grant_type', form({ scope: 'contacts:read' }), auth, 'invalid_request'],
      [
        'repeated grant_type',
        'grant_type=client_credentials&grant_type=client_credentials',
        auth,
        'invalid_request',
      ],
      ['repeated scope', 'grant_type=client_credentials&scope=a&scope=b', auth, 'invalid_request'],
      ['number in JSON', { grant_type: 42 }, auth, 'invalid_request'],
      ['JSON array', [], auth, 'invalid_request'],
      [
        'both Basic and body secret',
        form({
          grant_type: 'client_credentials',
          client_id: client.client_id,
          client_secret: client.client_secret,
        }),
        auth,
        'invalid_request',
      ],
      [
        'body client_id differs from Basic',
        form({ grant_type: 'client_credentials', client_id: 'hc_other' }),
        auth,
        'invalid_request',
      ],
    ];
    for (const [name, body, headers, error] of cases) {
      const res = await tokenRequest(body, headers);
      expect(res.status, name).toBe(400);
      expect(res.json, name).toMatchObject({ error, error_description: expect.any(String) });
      expect(res.headers['cache-control']).toBe('no-store');
    }
  });

  it('takes a client id and secret that Basic form-encodes', async () => {
    const client = await createClient(['contacts:read']);
    // Secrets are base64url: "-" and "_" survive form encoding unchanged; a raw "%" sequence must not crash.
    const res = await tokenRequest(form({ grant_type: 'client_credentials' }), {
      authorization: `Basic ${Buffer.from(`${client.client_id}:%E0%A4%A`).toString('base64')}`,
    });
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('invalid_client');
  });
});

describe('access tokens on the API', () => {
  it('refuses tampered tokens: a changed payload, another signature, alg none, garbage', async () => {
    const client = await createClient(['contacts:read']);
    const token = await tokenFor(client);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const escalated = Buffer.from(JSON.stringify({ ...claims, scope: 'admin' })).toString('base64url');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url');
    const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    for (const forged of [
      `${header}.${escalated}.${signature}`,
      `${header}.${payload}.${flipped}`,
      `${none}.${payload}.`,
      `${none}.${escalated}.x`,
      `${header}.${payload}`,
      'a.b.c',
    ]) {
      const res = await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(forged) });
      expect(res.statusCode, forged).toBe(401);
      expect(res.json().code).toBe('UNAUTHENTICATED');
    }
    const real = await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: bearer(token) });
    expect(real.statusCode).toBe(200);
  });

  it('stops accepting a token once it expires', async () => {
    const client = await createClient(['contacts:read']);
    const token = await tokenFor(client);
    t.clock.advance(299_000);
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: bearer(token) })).statusCode,
    ).toBe(200);
    t.clock.advance(1_000);
    const expired = await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: bearer(token) });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().detail).toContain('access token');
  });

  it("stops accepting a revoked client's tokens at once, and issues it no new ones", async () => {
    const client = await createClient(['contacts:read']);
    const token = await tokenFor(client);
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: bearer(token) })).statusCode,
    ).toBe(200);
    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/v1/oauth/clients/${client.id}`,
      headers: t.auth(),
    });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().revoked_at).not.toBeNull();
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: bearer(token) })).statusCode,
    ).toBe(401);
    const again = await tokenRequest(form({ grant_type: 'client_credentials' }), {
      authorization: basic(client.client_id, client.client_secret),
    });
    expect(again.status).toBe(401);
    expect(again.json.error).toBe('invalid_client');
  });

  it('keeps a token to its own workspace, and the principal names the OAuth client', async () => {
    const other = await t.createWorkspace('Token intruder');
    const foreign = await createClient(['admin'], other.adminKey);
    const token = await tokenFor(foreign);
    const home = await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: bearer(token) });
    expect(home.json().id).toBe(other.workspaceId);
    const mine = await createClient(['contacts:read']);
    const peek = await t.app.inject({
      method: 'GET',
      url: `/v1/oauth/clients/${mine.id}`,
      headers: bearer(token),
    });
    expect(peek.statusCode).toBe(404);
    const list = await t.app.inject({ method: 'GET', url: '/v1/oauth/clients', headers: bearer(token) });
    expect(list.json().data.map((c: { id: string }) => c.id)).toEqual([foreign.id]);

    const principal = await t.container.oauthClients.authenticate(token);
    expect(principal).toEqual({
      workspaceId: other.workspaceId,
      actor: { type: 'oauth_client', id: foreign.id },
      scopes: ['admin'],
    });

    // Correctly signed but naming another workspace than its client's: refused.
    const [, payload] = token.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const moved = signAccessToken(t.container.keyring, { ...claims, workspace: t.workspaceId });
    const res = await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: bearer(moved) });
    expect(res.statusCode).toBe(401);
    // And the same claims re-signed unchanged do authenticate: the refusal above is the workspace check.
    const resigned = signAccessToken(t.container.keyring, claims);
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/workspace', headers: bearer(resigned) })).statusCode,
    ).toBe(200);
  });
});
