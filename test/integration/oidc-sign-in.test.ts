import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectUnderActiveDataKey, legacyEncrypted, rotateWorkspace } from '../helpers/data-keys.js';
import { signInAtProvider, startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { withFirstCharacterChanged } from '../helpers/tamper.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { sessionCookieOf, TEST_PASSWORD } from '../helpers/user-session.js';

const PUBLIC_URL = 'http://herald.test';
const CALLBACK = `${PUBLIC_URL}/auth/oidc/callback`;

let t: TestApp;
let idp: TestOidcProvider;
let providerId: string;

beforeAll(async () => {
  t = await createTestApp({ HERALD_PUBLIC_URL: PUBLIC_URL, HERALD_OIDC_LOGIN_TTL_SECONDS: '600' });
  idp = await startOidcProvider({
    redirectUri: CALLBACK,
    clients: [
      { id: 'herald', secret: 'herald-secret-basic', authMethod: 'client_secret_basic' },
      { id: 'herald-post', secret: 'herald-secret-post', authMethod: 'client_secret_post' },
    ],
    accounts: {
      ann: { email: 'Ann@Example.com', email_verified: true, name: 'Ann' },
      unverified: { email: 'bob@example.com', email_verified: false },
      outsider: { email: 'eve@elsewhere.org', email_verified: true },
      noemail: {},
      stranger: { email: 'stranger@example.com', email_verified: true },
      newbie: { email: 'newbie@example.com', email_verified: true, name: 'New' },
    },
  });
  providerId = (await addProvider({ client_id: 'herald', client_secret: 'herald-secret-basic' })).id;
  await t.container.users.createUser({
    email: 'ann@example.com',
    password: TEST_PASSWORD,
    workspaceId: t.workspaceId,
    role: 'editor',
  });
});
afterAll(async () => {
  await t?.close();
  await idp?.close();
});

async function addProvider(fields: Record<string, unknown>): Promise<{ id: string; start_url: string }> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/oauth/oidc-providers',
    headers: t.auth(),
    payload: { name: 'Company SSO', issuer: idp.issuer, allowed_domains: ['example.com'], ...fields },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

interface Started {
  location: string;
  state: string;
  cookie: string;
}

async function start(id = providerId): Promise<Started> {
  const res = await t.app.inject({ method: 'GET', url: `/auth/oidc/${id}/start` });
  expect(res.statusCode, res.body).toBe(302);
  const setCookie = String(res.headers['set-cookie']);
  expect(setCookie).toMatch(
    /^herald_oidc_state=[A-Za-z0-9_-]+; Path=\/auth\/oidc; Max-Age=600; HttpOnly; SameSite=Lax$/,
  );
  const location = String(res.headers.location);
  return {
    location,
    state: String(new URL(location).searchParams.get('state')),
    cookie: setCookie.split(';')[0] as string,
  };
}

async function callback(url: string, cookie: string | undefined) {
  const parsed = new URL(url);
  return t.app.inject({
    method: 'GET',
    url: `${parsed.pathname}${parsed.search}`,
    headers: cookie ? { cookie } : {},
  });
}

/** Starts, logs in at the provider as `login`, and delivers the callback with the state cookie. */
async function signIn(login: string, id = providerId) {
  const started = await start(id);
  const back = await signInAtProvider(started.location, { login, stopAt: CALLBACK });
  const res = await callback(back, started.cookie);
  return { res, back, started };
}

function setCookies(res: { headers: Record<string, unknown> }): string[] {
  const raw = res.headers['set-cookie'];
  return raw === undefined ? [] : Array.isArray(raw) ? raw.map(String) : [String(raw)];
}

/** A refusal starts no session: the only cookie set is the spent state's removal. */
function expectNoSession(res: { headers: Record<string, unknown> }) {
  const cookies = setCookies(res);
  expect(cookies).toHaveLength(1);
  expect(cookies[0]).toMatch(/^herald_oidc_state=; Path=\/auth\/oidc; Max-Age=0;/);
}

describe('OpenID Connect providers', () => {
  it('stores the client secret encrypted, never shows it, and names the redirect URI to register', async () => {
    const created = await addProvider({
      client_id: 'herald-post',
      client_secret: 'herald-secret-post',
      client_auth_method: 'client_secret_post',
    });
    const got = await t.app.inject({
      method: 'GET',
      url: `/v1/oauth/oidc-providers/${created.id}`,
      headers: t.auth(),
    });
    expect(got.json()).toMatchObject({
      issuer: idp.issuer,
      client_id: 'herald-post',
      client_auth_method: 'client_secret_post',
      scopes: 'openid email profile',
      allowed_domains: ['example.com'],
      provision_users: false,
      redirect_uri: CALLBACK,
      start_url: `${PUBLIC_URL}/auth/oidc/${created.id}/start`,
    });
    expect(got.body).not.toContain('herald-secret-post');
    const row = await t.container.db
      .selectFrom('oidc_providers')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    await expectUnderActiveDataKey(t, t.workspaceId, row.client_secret_encrypted, 'herald-secret-post');
  });

  it('refuses a non-https issuer, scopes without openid, bad domains and unknown fields, storing nothing', async () => {
    const before = await t.container.db.selectFrom('oidc_providers').select('id').execute();
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ issuer: 'http://idp.example.com' }, 'https'],
      [{ issuer: 'not a url' }, 'not a URL'],
      [{ issuer: 'https://idp.example.com/?x=1' }, 'query'],
      [{ scopes: 'email profile' }, 'openid'],
      [{ allowed_domains: ['not a domain'] }, 'not a domain'],
      [{ colour: 'red' }, 'colour'],
    ];
    for (const [fields, says] of bad) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/oauth/oidc-providers',
        headers: t.auth(),
        payload: {
          name: 'x',
          issuer: 'https://idp.example.com',
          client_id: 'c',
          client_secret: 's',
          ...fields,
        },
      });
      expect(res.statusCode, JSON.stringify(fields)).toBe(400);
      expect(res.json().code).toBe('VALIDATION_FAILED');
      expect(res.json().detail).toContain(says);
    }
    expect(await t.container.db.selectFrom('oidc_providers').select('id').execute()).toHaveLength(
      before.length,
    );
  });

  it('changes a provider (a new secret stays encrypted), refuses a bad change whole, and removes it', async () => {
    const created = await addProvider({ client_id: 'herald', client_secret: 'first-secret' });
    const url = `/v1/oauth/oidc-providers/${created.id}`;
    const changed = await t.app.inject({
      method: 'PATCH',
      url,
      headers: t.auth(),
      payload: { client_secret: 'second-secret', allowed_domains: ['Example.org'], provision_users: true },
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({
      allowed_domains: ['example.org'],
      provision_users: true,
      client_id: 'herald',
    });
    expect(changed.body).not.toContain('second-secret');
    const secret = await t.container.oidcProviders.forSignIn(created.id);
    expect(secret?.clientSecret).toBe('second-secret');

    const before = await t.app.inject({ method: 'GET', url, headers: t.auth() });
    const bad = await t.app.inject({
      method: 'PATCH',
      url,
      headers: t.auth(),
      payload: { name: 'renamed', issuer: 'http://idp.example.com' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().detail).toContain('https');
    expect((await t.app.inject({ method: 'GET', url, headers: t.auth() })).body).toBe(before.body);

    expect((await t.app.inject({ method: 'DELETE', url, headers: t.auth() })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url, headers: t.auth() })).statusCode).toBe(404);
    const start = await t.app.inject({ method: 'GET', url: `/auth/oidc/${created.id}/start` });
    expect(start.statusCode).toBe(404);
  });

  it('keeps providers to their workspace', async () => {
    const other = await t.createWorkspace('SSO intruder');
    for (const method of ['GET', 'DELETE'] as const) {
      const res = await t.app.inject({
        method,
        url: `/v1/oauth/oidc-providers/${providerId}`,
        headers: t.auth(other.adminKey),
      });
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('OIDC_PROVIDER_NOT_FOUND');
    }
    const list = await t.app.inject({
      method: 'GET',
      url: '/v1/oauth/oidc-providers',
      headers: t.auth(other.adminKey),
    });
    expect(list.json().data).toEqual([]);
  });
});

describe('OpenID Connect sign-in', () => {
  it('redirects to the authorization endpoint with state, nonce and an S256 code challenge', async () => {
    const { location, state } = await start();
    const url = new URL(location);
    expect(url.origin).toBe(idp.issuer);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: 'herald',
      redirect_uri: CALLBACK,
      scope: 'openid email profile',
      code_challenge_method: 'S256',
    });
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Only a hash of the state is kept.
    const rows = await t.container.db.selectFrom('oidc_logins').select('state_hash').execute();
    expect(rows.map((r) => r.state_hash)).not.toContain(state);
  });

  it('answers 404 for an unknown provider', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/auth/oidc/0193e2a4-0000-7000-8000-000000000000/start',
    });
    expect(res.statusCode).toBe(404);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('signs a member in after a real login at the provider: the session cookie works', async () => {
    const { res, back } = await signIn('ann');
    expect(new URL(back).searchParams.get('code')).toBeTruthy();
    expect(res.statusCode, res.body).toBe(200);
    const cookies = setCookies(res);
    expect(cookies[0]).toMatch(/^herald_oidc_state=; /);
    const session = sessionCookieOf(cookies[1]);
    expect(cookies[1]).toContain('HttpOnly');
    const me = await t.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: session } });
    expect(me.statusCode, me.body).toBe(200);
    // The provider said Ann@Example.com: the address is matched without regard to case.
    expect(me.json()).toMatchObject({
      user: { email: 'ann@example.com' },
      workspace: { id: t.workspaceId },
      role: 'editor',
    });
    const workspace = await t.app.inject({
      method: 'GET',
      url: '/v1/workspace',
      headers: { cookie: session },
    });
    expect(workspace.statusCode).toBe(200);
    expect(workspace.json().id).toBe(t.workspaceId);
  });

  it('signs in with a client secret stored the old way, and after herald keys rotate-data re-encrypted it', async () => {
    const storedSecret = async () =>
      (
        await t.container.db
          .selectFrom('oidc_providers')
          .select('client_secret_encrypted')
          .where('id', '=', providerId)
          .executeTakeFirstOrThrow()
      ).client_secret_encrypted;
    // A secret written before data keys (master key directly, same purpose) still authenticates Herald at the token endpoint.
    await t.container.db
      .updateTable('oidc_providers')
      .set({
        client_secret_encrypted: legacyEncrypted('herald-secret-basic', `oidc_providers:${providerId}`),
      })
      .where('id', '=', providerId)
      .execute();
    expect((await signIn('ann')).res.statusCode).toBe(200);
    const keyId = await rotateWorkspace(t, t.workspaceId);
    const stored = await storedSecret();
    expect(stored).toMatch(new RegExp(`^hdk1\\.${keyId}\\.`));
    await expectUnderActiveDataKey(t, t.workspaceId, stored, 'herald-secret-basic');
    const { res } = await signIn('ann');
    expect(res.statusCode, res.body).toBe(200);
    expect(setCookies(res)[1]).toContain('HttpOnly');
  });

  it('refuses a verified address that is not a user of the workspace, unless the provider provisions users', async () => {
    const refused = await signIn('stranger');
    expect(refused.res.statusCode).toBe(403);
    expect(refused.res.body).toContain('stranger@example.com');
    expectNoSession(refused.res);
    expect(
      await t.container.db
        .selectFrom('users')
        .select('id')
        .where('email', '=', 'stranger@example.com')
        .execute(),
    ).toEqual([]);

    // client_secret_post at the token endpoint, and provisioning on.
    const provisioning = await addProvider({
      client_id: 'herald-post',
      client_secret: 'herald-secret-post',
      client_auth_method: 'client_secret_post',
      provision_users: true,
    });
    const { res } = await signIn('newbie', provisioning.id);
    expect(res.statusCode, res.body).toBe(200);
    const session = sessionCookieOf(setCookies(res)[1]);
    const me = await t.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: session } });
    expect(me.json()).toMatchObject({ user: { email: 'newbie@example.com' }, role: 'viewer' });
  });

  it('refuses a replayed callback', async () => {
    const { back, started } = await signIn('ann');
    const again = await callback(back, started.cookie);
    expect(again.statusCode).toBe(400);
    expect(again.body).toContain('already used or never started');
    expectNoSession(again);
  });

  it('refuses a tampered state, and a callback without the cookie of the browser that started', async () => {
    const started = await start();
    const back = await signInAtProvider(started.location, { login: 'ann', stopAt: CALLBACK });
    const tampered = new URL(back);
    tampered.searchParams.set('state', withFirstCharacterChanged(started.state));
    const res = await callback(tampered.toString(), started.cookie);
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('not started in this browser');
    const bothTampered = await callback(
      tampered.toString(),
      `herald_oidc_state=${tampered.searchParams.get('state')}`,
    );
    expect(bothTampered.statusCode).toBe(400);
    expect(bothTampered.body).toContain('already used or never started');
    const noCookie = await callback(back, undefined);
    expect(noCookie.statusCode).toBe(400);
    expect(noCookie.body).toContain('not started in this browser');
    for (const r of [res, bothTampered, noCookie]) expectNoSession(r);
  });

  it('refuses an ID token without the nonce of this sign-in', async () => {
    const started = await start();
    // Another nonce on the server's side of this sign-in: the provider's token carries the one it was sent.
    await t.container.db.updateTable('oidc_logins').set({ nonce: 'another-nonce' }).execute();
    const back = await signInAtProvider(started.location, { login: 'ann', stopAt: CALLBACK });
    const res = await callback(back, started.cookie);
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('nonce');
    expectNoSession(res);
  });

  it("refuses a code delivered with another sign-in's state (PKCE verifier mismatch)", async () => {
    const first = await start();
    const second = await start();
    const back = new URL(await signInAtProvider(second.location, { login: 'ann', stopAt: CALLBACK }));
    back.searchParams.set('state', first.state);
    const res = await callback(back.toString(), first.cookie);
    expect(res.statusCode).toBe(502);
    expect(res.body).toContain('refused the code');
    expectNoSession(res);
  });

  it('refuses an unverified email, a domain not allowed, and a missing email', async () => {
    const unverified = await signIn('unverified');
    expect(unverified.res.statusCode).toBe(403);
    expect(unverified.res.body).toContain('not verified');
    const outsider = await signIn('outsider');
    expect(outsider.res.statusCode).toBe(403);
    expect(outsider.res.body).toContain('elsewhere.org may not sign in');
    const noEmail = await signIn('noemail');
    expect(noEmail.res.statusCode).toBe(403);
    expect(noEmail.res.body).toContain('did not share your email');
    for (const r of [unverified.res, outsider.res, noEmail.res]) expectNoSession(r);
  });

  it('refuses when the person cancels at the provider', async () => {
    const started = await start();
    const back = await signInAtProvider(started.location, { login: 'ann', stopAt: CALLBACK, abort: true });
    expect(new URL(back).searchParams.get('error')).toBe('access_denied');
    const res = await callback(back, started.cookie);
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('did not sign you in');
    expectNoSession(res);
  });

  it('refuses a sign-in that took longer than HERALD_OIDC_LOGIN_TTL_SECONDS', async () => {
    const started = await start();
    const back = await signInAtProvider(started.location, { login: 'ann', stopAt: CALLBACK });
    t.clock.advance(601_000);
    const res = await callback(back, started.cookie);
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('took too long');
    expectNoSession(res);
  });

  it('refuses a provider whose discovery document names another issuer', async () => {
    const wrong = await addProvider({
      issuer: idp.issuer.replace('127.0.0.1', 'localhost'),
      client_id: 'herald',
      client_secret: 'herald-secret-basic',
    });
    const res = await t.app.inject({ method: 'GET', url: `/auth/oidc/${wrong.id}/start` });
    expect(res.statusCode).toBe(502);
    expect(res.headers['set-cookie']).toBeUndefined();
  });
});
