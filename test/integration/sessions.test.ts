import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeSessionCookie } from '../../src/modules/users/index.js';
import { base32Decode, totpCode, totpStep } from '../../src/modules/users/totp.js';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { withFirstCharacterChanged } from '../helpers/tamper.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { signIn, TEST_PASSWORD, userWithRole } from '../helpers/user-session.js';

/**
 * Sign-in sessions over real HTTP (inject) against a real database: cookie,
 * expiry on the manual clock, logout, password change, CSRF, the second
 * factor and lockout.
 */

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({
    HERALD_PUBLIC_URL: 'https://herald.example.com',
    HERALD_SESSION_IDLE_MINUTES: '30',
    HERALD_SESSION_MAX_HOURS: '8',
    HERALD_LOGIN_MAX_FAILURES: '3',
    HERALD_LOGIN_LOCK_MINUTES: '15',
    HERALD_LOGIN_RATE_LIMIT_PER_MINUTE: '1000',
  });
});
afterAll(async () => {
  await t?.close();
});

function snapshot(): Promise<string> {
  return databaseSnapshot(t.container.database.pool);
}

describe('sign-in', () => {
  it('sets an HttpOnly, SameSite=Lax, Secure session cookie and returns user, workspace, role and CSRF token', async () => {
    await t.container.users.createUser({
      email: 'Ada@Example.com',
      password: TEST_PASSWORD,
      workspaceId: t.workspaceId,
      role: 'editor',
    });
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/session',
      payload: { email: 'ada@example.COM', password: TEST_PASSWORD },
    });
    expect(res.statusCode, res.body).toBe(200);
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^herald_session=hs_[A-Za-z0-9_-]{43}; /);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');
    expect(cookie).toContain('Path=/');
    expect(cookie).toContain('Secure');
    expect(cookie).toContain(`Max-Age=${8 * 3600}`);
    const body = res.json();
    // Stored as Herald stores addresses: the domain lower-cased, the local part as given.
    expect(body.user.email).toBe('Ada@example.com');
    expect(body.workspace.id).toBe(t.workspaceId);
    expect(body.role).toBe('editor');
    expect(body.csrf_token).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('finds the account by the address however it is typed: case, spaces, an internationalized domain', async () => {
    await t.container.users.createUser({
      email: 'zoe@bücher.example',
      password: TEST_PASSWORD,
      workspaceId: t.workspaceId,
      role: 'viewer',
    });
    for (const email of ['zoe@xn--bcher-kva.example', ' ZOE@BÜCHER.example ', 'Zoe@bücher.example']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/session',
        payload: { email, password: TEST_PASSWORD },
      });
      expect(res.statusCode, email).toBe(200);
    }
  });

  it('stores only a hash of the cookie value', async () => {
    const session = await userWithRole(t, 'viewer');
    const value = session.cookie.split('=')[1] as string;
    expect(await snapshot()).not.toContain(value);
  });

  it('leaves Secure off when the public URL is plain http', async () => {
    const plain = await createTestApp({ HERALD_PUBLIC_URL: 'http://localhost:3000' });
    try {
      const session = await userWithRole(plain, 'viewer');
      expect(session.setCookie).not.toContain('Secure');
      expect(session.setCookie).toContain('HttpOnly');
    } finally {
      await plain.close();
    }
  });

  it('refuses a wrong password and an unknown address with the same answer', async () => {
    await userWithRole(t, 'viewer', { email: 'grace@example.com' });
    for (const payload of [
      { email: 'grace@example.com', password: 'not the password at all' },
      { email: 'nobody@example.com', password: TEST_PASSWORD },
    ]) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/session', payload });
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('INVALID_CREDENTIALS');
      expect(res.json().detail).toBe('The email address or password is wrong.');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
  });

  it('refuses a sign-in into a workspace the user does not belong to', async () => {
    const other = await t.createWorkspace('Not mine');
    await userWithRole(t, 'viewer', { email: 'linus@example.com' });
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/session',
      payload: { email: 'linus@example.com', password: TEST_PASSWORD, workspace_id: other.workspaceId },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('NOT_A_MEMBER');
  });

  it('refuses a sign-in posted from a page of another origin', async () => {
    await userWithRole(t, 'viewer', { email: 'origin@example.com' });
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/session',
      headers: { origin: 'https://evil.example' },
      payload: { email: 'origin@example.com', password: TEST_PASSWORD },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('CSRF_FAILED');
  });
});

describe('the session', () => {
  it('authenticates API requests by cookie with the role as scopes', async () => {
    const editor = await userWithRole(t, 'editor');
    const me = await t.app.inject({ method: 'GET', url: '/v1/session', headers: editor.read });
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json().role).toBe('editor');
    expect(me.json().scopes).toContain('campaigns:send');
    expect(me.json().csrf_token).toBe(editor.csrf);
    const contacts = await t.app.inject({ method: 'GET', url: '/v1/contacts', headers: editor.read });
    expect(contacts.statusCode).toBe(200);
    const keys = await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: editor.read });
    expect(keys.statusCode).toBe(403);
    expect(keys.json().detail).toBe(
      'Your role (editor) lacks the scope "admin" that this endpoint requires.',
    );
  });

  it('ends at logout, and the cookie is cleared', async () => {
    const session = await userWithRole(t, 'viewer');
    const out = await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: session.write });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^herald_session=; .*Max-Age=0/);
    const after = await t.app.inject({ method: 'GET', url: '/v1/session', headers: session.read });
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('UNAUTHENTICATED');
  });

  it('ends after the idle time without requests, and activity keeps it alive', async () => {
    const session = await userWithRole(t, 'viewer');
    t.clock.advance(20 * 60_000);
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/session', headers: session.read })).statusCode,
    ).toBe(200);
    t.clock.advance(20 * 60_000);
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/session', headers: session.read })).statusCode,
    ).toBe(200);
    t.clock.advance(30 * 60_000);
    const idle = await t.app.inject({ method: 'GET', url: '/v1/session', headers: session.read });
    expect(idle.statusCode).toBe(401);
    expect(idle.json().detail).toContain('sign in again');
  });

  it('ends at the absolute expiry however active', async () => {
    const session = await userWithRole(t, 'viewer');
    for (let i = 0; i < 16; i++) {
      t.clock.advance(29 * 60_000);
      expect(
        (await t.app.inject({ method: 'GET', url: '/v1/session', headers: session.read })).statusCode,
      ).toBe(200);
    }
    t.clock.advance(30 * 60_000);
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/session', headers: session.read })).statusCode,
    ).toBe(401);
  });

  it('ignores a forged or malformed cookie', async () => {
    for (const cookie of ['herald_session=hs_forged', 'herald_session=', 'herald_session=x'.repeat(50)]) {
      const res = await t.app.inject({ method: 'GET', url: '/v1/contacts', headers: { cookie } });
      expect(res.statusCode).toBe(401);
    }
  });

  it('ends other sessions when the password changes, and the new password works', async () => {
    const first = await userWithRole(t, 'editor', { email: 'changer@example.com' });
    const second = await signIn(t, 'changer@example.com');
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/v1/me/password',
      headers: first.write,
      payload: { current_password: 'not it at all', new_password: 'a whole new passphrase' },
    });
    expect(wrong.statusCode).toBe(401);
    const short = await t.app.inject({
      method: 'POST',
      url: '/v1/me/password',
      headers: first.write,
      payload: { current_password: TEST_PASSWORD, new_password: 'short' },
    });
    expect(short.statusCode).toBe(400);
    expect(short.json().detail).toContain('at least 12 characters');
    // Neither bad request ended anything.
    expect((await t.app.inject({ method: 'GET', url: '/v1/session', headers: second.read })).statusCode).toBe(
      200,
    );

    const changed = await t.app.inject({
      method: 'POST',
      url: '/v1/me/password',
      headers: first.write,
      payload: { current_password: TEST_PASSWORD, new_password: 'a whole new passphrase' },
    });
    expect(changed.statusCode, changed.body).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/v1/session', headers: second.read })).statusCode).toBe(
      401,
    );
    expect((await t.app.inject({ method: 'GET', url: '/v1/session', headers: first.read })).statusCode).toBe(
      200,
    );
    await expect(signIn(t, 'changer@example.com')).rejects.toThrow(/401/);
    await signIn(t, 'changer@example.com', { password: 'a whole new passphrase' });
  });

  it('switches to another workspace the user belongs to, and only to one', async () => {
    const other = await t.createWorkspace('Second shop');
    const session = await userWithRole(t, 'editor', { email: 'twoshops@example.com' });
    await t.container.users.createUser({
      email: 'twoshops@example.com',
      password: 'ignored for an existing user',
      workspaceId: other.workspaceId,
      role: 'viewer',
    });
    const stranger = await t.createWorkspace('Stranger');
    const refused = await t.app.inject({
      method: 'PUT',
      url: '/v1/session/workspace',
      headers: session.write,
      payload: { workspace_id: stranger.workspaceId },
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('NOT_A_MEMBER');

    const switched = await t.app.inject({
      method: 'PUT',
      url: '/v1/session/workspace',
      headers: session.write,
      payload: { workspace_id: other.workspaceId },
    });
    expect(switched.statusCode, switched.body).toBe(200);
    expect(switched.json().workspace.id).toBe(other.workspaceId);
    expect(switched.json().role).toBe('viewer');
    expect(
      switched
        .json()
        .workspaces.map((w: { id: string }) => w.id)
        .sort(),
    ).toEqual([t.workspaceId, other.workspaceId].sort());
    // Now a viewer: reading works, writing does not.
    const write = await t.app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: session.write,
      payload: { email: 'new@example.com' },
    });
    expect(write.statusCode).toBe(403);
  });

  it("never shows another workspace's objects to a session", async () => {
    const other = await t.createWorkspace('Other tenant');
    const theirs = await t.app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: t.auth(other.adminKey),
      payload: { email: 'theirs@example.com' },
    });
    const admin = await userWithRole(t, 'admin');
    const read = await t.app.inject({
      method: 'GET',
      url: `/v1/contacts/${theirs.json().id}`,
      headers: admin.read,
    });
    expect(read.statusCode).toBe(404);
    const list = await t.app.inject({ method: 'GET', url: '/v1/contacts', headers: admin.read });
    expect(list.body).not.toContain('theirs@example.com');
  });

  it('refuses API keys on session-only routes', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/session', headers: t.auth() });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('SESSION_REQUIRED');
  });

  it("ends a removed member's sessions in that workspace", async () => {
    const owner = await userWithRole(t, 'owner');
    const gone = await userWithRole(t, 'editor');
    const removed = await t.app.inject({
      method: 'DELETE',
      url: `/v1/users/${gone.userId}`,
      headers: owner.write,
    });
    expect(removed.statusCode, removed.body).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/v1/contacts', headers: gone.read })).statusCode).toBe(
      401,
    );
  });
});

describe('CSRF', () => {
  it('refuses a cookie write without the token, with a wrong one, or from another origin, and changes nothing', async () => {
    const editor = await userWithRole(t, 'editor');
    const before = await snapshot();
    const attempts: Record<string, string>[] = [
      { cookie: editor.cookie },
      { cookie: editor.cookie, 'x-csrf-token': 'wrong' },
      { cookie: editor.cookie, 'x-csrf-token': withFirstCharacterChanged(editor.csrf) },
      { cookie: editor.cookie, 'x-csrf-token': editor.csrf, origin: 'https://evil.example' },
    ];
    for (const headers of attempts) {
      for (const [method, url] of [
        ['POST', '/v1/contacts'],
        ['DELETE', '/v1/session'],
      ] as const) {
        const res = await t.app.inject({
          method,
          url,
          headers,
          ...(method === 'POST' ? { payload: { email: 'csrf@example.com' } } : {}),
        });
        expect(res.statusCode, `${method} ${url} ${JSON.stringify(headers)}`).toBe(403);
        expect(res.json().code).toBe('CSRF_FAILED');
      }
    }
    expect(await snapshot()).toBe(before);
  });

  it('accepts a cookie write with the token (and the right origin)', async () => {
    const editor = await userWithRole(t, 'editor');
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: { ...editor.write, origin: 'https://herald.example.com' },
      payload: { email: 'csrf-ok@example.com' },
    });
    expect(res.statusCode, res.body).toBe(201);
  });

  it('lets reads through without the token', async () => {
    const viewer = await userWithRole(t, 'viewer');
    const res = await t.app.inject({ method: 'GET', url: '/v1/contacts', headers: viewer.read });
    expect(res.statusCode).toBe(200);
  });

  it('does not concern API keys, even with a session cookie alongside', async () => {
    const viewer = await userWithRole(t, 'viewer');
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: { ...t.auth(), cookie: viewer.cookie },
      payload: { email: 'by-key@example.com' },
    });
    expect(res.statusCode, res.body).toBe(201);
  });

  it('a token of one session does not work for another', async () => {
    const a = await userWithRole(t, 'editor');
    const b = await userWithRole(t, 'editor');
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/contacts',
      headers: { cookie: a.cookie, 'x-csrf-token': b.csrf },
      payload: { email: 'swap@example.com' },
    });
    expect(res.statusCode).toBe(403);
  });
});

function codeFor(secret: string, at: Date, offsetSteps = 0): string {
  return totpCode(base32Decode(secret), totpStep(at) + offsetSteps);
}

describe('second factor (TOTP)', () => {
  it('enrolls, confirms, then requires a code at sign-in, refusing a reused one', async () => {
    const session = await userWithRole(t, 'editor', { email: 'totp@example.com' });
    const enroll = await t.app.inject({ method: 'POST', url: '/v1/me/totp', headers: session.write });
    expect(enroll.statusCode, enroll.body).toBe(200);
    const { secret, otpauth_uri } = enroll.json();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(otpauth_uri).toContain(`secret=${secret}`);
    expect(otpauth_uri).toContain('Herald:totp%40example.com');
    // The secret is stored encrypted, never as given.
    expect(await snapshot()).not.toContain(secret);

    // Still off until confirmed: sign-in needs no code.
    await signIn(t, 'totp@example.com');
    const wrongConfirm = await t.app.inject({
      method: 'POST',
      url: '/v1/me/totp/confirm',
      headers: session.write,
      payload: { code: codeFor(secret, t.clock.now(), 5) },
    });
    expect(wrongConfirm.statusCode).toBe(401);
    expect(wrongConfirm.json().code).toBe('TOTP_INVALID');

    const confirm = await t.app.inject({
      method: 'POST',
      url: '/v1/me/totp/confirm',
      headers: session.write,
      payload: { code: codeFor(secret, t.clock.now()) },
    });
    expect(confirm.statusCode, confirm.body).toBe(204);
    // Encrypted with the master keyring (a user belongs to no one workspace): `herald keys rewrap` moves it.
    const stored = await t.container.db
      .selectFrom('users')
      .select('totp_secret')
      .where('email', '=', 'totp@example.com')
      .executeTakeFirstOrThrow();
    expect(stored.totp_secret).toMatch(new RegExp(`^v1\\.${t.container.keyring.current.id}\\.`));
    expect(stored.totp_secret).not.toContain(secret);

    const without = await t.app.inject({
      method: 'POST',
      url: '/v1/session',
      payload: { email: 'totp@example.com', password: TEST_PASSWORD },
    });
    expect(without.statusCode).toBe(401);
    expect(without.json().code).toBe('TOTP_REQUIRED');

    // The confirming code was used: it does not sign in.
    const reusedConfirm = await t.app.inject({
      method: 'POST',
      url: '/v1/session',
      payload: { email: 'totp@example.com', password: TEST_PASSWORD, totp: codeFor(secret, t.clock.now()) },
    });
    expect(reusedConfirm.statusCode).toBe(401);
    expect(reusedConfirm.json().code).toBe('TOTP_INVALID');

    t.clock.advance(30_000);
    const code = codeFor(secret, t.clock.now());
    const withCode = await signIn(t, 'totp@example.com', { totp: code });
    expect(withCode.cookie).toMatch(/^herald_session=/);
    const reused = await t.app.inject({
      method: 'POST',
      url: '/v1/session',
      payload: { email: 'totp@example.com', password: TEST_PASSWORD, totp: code },
    });
    expect(reused.statusCode).toBe(401);
    expect(reused.json().code).toBe('TOTP_INVALID');

    // A code of the previous step is still accepted (clock drift), but not after a later one was used.
    t.clock.advance(30_000);
    const previous = await t.app.inject({
      method: 'POST',
      url: '/v1/session',
      payload: {
        email: 'totp@example.com',
        password: TEST_PASSWORD,
        totp: codeFor(secret, t.clock.now(), -1),
      },
    });
    expect(previous.statusCode).toBe(401);
    t.clock.advance(30_000);
    await signIn(t, 'totp@example.com', { totp: codeFor(secret, t.clock.now(), -1) });

    // Disabling needs a code or the password.
    const noProof = await t.app.inject({
      method: 'POST',
      url: '/v1/me/totp/disable',
      headers: session.write,
      payload: {},
    });
    expect(noProof.statusCode).toBe(400);
    const badPassword = await t.app.inject({
      method: 'POST',
      url: '/v1/me/totp/disable',
      headers: session.write,
      payload: { password: 'not the password' },
    });
    expect(badPassword.statusCode).toBe(401);
    const off = await t.app.inject({
      method: 'POST',
      url: '/v1/me/totp/disable',
      headers: session.write,
      payload: { password: TEST_PASSWORD },
    });
    expect(off.statusCode).toBe(204);
    await signIn(t, 'totp@example.com');
  });

  it('refuses to confirm without enrolling, and to enroll twice', async () => {
    const session = await userWithRole(t, 'viewer');
    const early = await t.app.inject({
      method: 'POST',
      url: '/v1/me/totp/confirm',
      headers: session.write,
      payload: { code: '123456' },
    });
    expect(early.statusCode).toBe(409);
    expect(early.json().code).toBe('TOTP_STATE');
    const { secret } = (
      await t.app.inject({ method: 'POST', url: '/v1/me/totp', headers: session.write })
    ).json();
    await t.app.inject({
      method: 'POST',
      url: '/v1/me/totp/confirm',
      headers: session.write,
      payload: { code: codeFor(secret, t.clock.now()) },
    });
    const again = await t.app.inject({ method: 'POST', url: '/v1/me/totp', headers: session.write });
    expect(again.statusCode).toBe(409);
  });
});

describe('lockout', () => {
  it('locks after the set number of failures, says until when, and a later success resets the count', async () => {
    await userWithRole(t, 'viewer', { email: 'locked@example.com' });
    const attempt = (password: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/session',
        payload: { email: 'locked@example.com', password },
      });
    expect((await attempt('wrong password 1')).statusCode).toBe(401);
    expect((await attempt('wrong password 2')).statusCode).toBe(401);
    const third = await attempt('wrong password 3');
    expect(third.statusCode).toBe(423);
    expect(third.json().code).toBe('ACCOUNT_LOCKED');
    const until = new Date(t.clock.now().getTime() + 15 * 60_000).toISOString();
    expect(third.json().detail).toContain(until);

    // Locked: even the right password is refused, until the time has passed.
    const right = await attempt(TEST_PASSWORD);
    expect(right.statusCode).toBe(423);
    expect(right.json().detail).toContain(until);
    t.clock.advance(15 * 60_000 + 1000);
    expect((await attempt(TEST_PASSWORD)).statusCode).toBe(200);

    // The success reset the count: two failures do not lock again.
    expect((await attempt('wrong again 1')).statusCode).toBe(401);
    expect((await attempt('wrong again 2')).statusCode).toBe(401);
    expect((await attempt(TEST_PASSWORD)).statusCode).toBe(200);
    expect((await attempt('wrong again 3')).statusCode).toBe(401);
  });

  it('counts wrong second-factor codes as failures', async () => {
    const session = await userWithRole(t, 'viewer', { email: 'totp-lock@example.com' });
    const { secret } = (
      await t.app.inject({ method: 'POST', url: '/v1/me/totp', headers: session.write })
    ).json();
    await t.app.inject({
      method: 'POST',
      url: '/v1/me/totp/confirm',
      headers: session.write,
      payload: { code: codeFor(secret, t.clock.now()) },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/session',
        payload: {
          email: 'totp-lock@example.com',
          password: TEST_PASSWORD,
          totp: codeFor(secret, t.clock.now(), 10 + i),
        },
      });
      statuses.push(res.statusCode);
    }
    expect(statuses).toEqual([401, 401, 423]);
  });
});

describe('login rate limit', () => {
  it('answers 429 per client address past the limit', async () => {
    const limited = await createTestApp({ HERALD_LOGIN_RATE_LIMIT_PER_MINUTE: '3' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await limited.app.inject({
          method: 'POST',
          url: '/v1/session',
          payload: { email: 'nobody@example.com', password: 'whatever it is' },
        });
        statuses.push(res.statusCode);
      }
      expect(statuses).toEqual([401, 401, 401, 429]);
      const elsewhere = await limited.app.inject({
        method: 'POST',
        url: '/v1/session',
        remoteAddress: '127.0.0.2',
        payload: { email: 'nobody@example.com', password: 'whatever it is' },
      });
      expect(elsewhere.statusCode).toBe(401);
    } finally {
      await limited.close();
    }
  });
});

describe('API keys created by a signed-in user', () => {
  it('cannot hold scopes beyond the role, naming the ones refused', async () => {
    const editor = await userWithRole(t, 'editor');
    const principal = {
      workspaceId: t.workspaceId,
      actor: { type: 'user' as const, id: editor.userId },
      scopes: (await t.app.inject({ method: 'GET', url: '/v1/session', headers: editor.read })).json().scopes,
    };
    await expect(
      t.container.apiKeys.create({
        workspaceId: t.workspaceId,
        name: 'too much',
        scopes: ['contacts:read', 'settings:write', 'admin'],
        creator: principal,
      }),
    ).rejects.toThrow('settings:write, admin');
    const ok = await t.container.apiKeys.create({
      workspaceId: t.workspaceId,
      name: 'within role',
      scopes: ['contacts:read', 'campaigns:send'],
      creator: principal,
    });
    expect(ok.scopes).toEqual(['contacts:read', 'campaigns:send']);
  });

  it('an admin user creates keys over HTTP; an editor cannot reach the key routes', async () => {
    const admin = await userWithRole(t, 'admin');
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: admin.write,
      payload: { name: 'from the admin', scopes: ['contacts:read'] },
    });
    expect(created.statusCode, created.body).toBe(201);
    const editor = await userWithRole(t, 'editor');
    const refused = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: editor.write,
      payload: { name: 'from the editor', scopes: ['contacts:read'] },
    });
    expect(refused.statusCode).toBe(403);
  });
});

describe('sessions for an identity verified elsewhere (OIDC)', () => {
  it('starts a session for an existing member, usable like a password sign-in', async () => {
    const member = await userWithRole(t, 'analyst', { email: 'oidc@example.com' });
    const started = await t.container.users.startSessionForVerifiedEmail({
      workspaceId: t.workspaceId,
      email: 'OIDC@example.com',
      ip: '127.0.0.1',
      userAgent: 'test',
    });
    if ('refused' in started) throw new Error(started.detail);
    expect(started.user.id).toBe(member.userId);
    expect(started.role).toBe('analyst');
    expect(started.setCookie).toBe(
      serializeSessionCookie(started.cookieValue, { secure: true, maxAgeSeconds: 8 * 3600 }),
    );
    const cookie = `herald_session=${started.cookieValue}`;
    const me = await t.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie } });
    expect(me.statusCode).toBe(200);
    expect(me.json().csrf_token).toBe(started.csrfToken);
    const write = await t.app.inject({
      method: 'DELETE',
      url: '/v1/session',
      headers: { cookie, 'x-csrf-token': started.csrfToken },
    });
    expect(write.statusCode).toBe(204);
  });

  it('refuses unknown addresses, non-members and locked accounts, starting nothing', async () => {
    const other = await t.createWorkspace('OIDC elsewhere');
    await userWithRole(t, 'viewer', { email: 'oidc-member@example.com' });
    const before = await snapshot();
    const unknown = await t.container.users.startSessionForVerifiedEmail({
      workspaceId: t.workspaceId,
      email: 'stranger@example.com',
      ip: null,
      userAgent: null,
    });
    expect(unknown).toMatchObject({ refused: 'unknown_user' });
    const notMember = await t.container.users.startSessionForVerifiedEmail({
      workspaceId: other.workspaceId,
      email: 'oidc-member@example.com',
      ip: null,
      userAgent: null,
    });
    expect(notMember).toMatchObject({ refused: 'not_a_member' });
    expect(await snapshot()).toBe(before);

    for (let i = 0; i < 3; i++)
      await t.app.inject({
        method: 'POST',
        url: '/v1/session',
        payload: { email: 'oidc-member@example.com', password: `wrong password ${i}` },
      });
    const locked = await t.container.users.startSessionForVerifiedEmail({
      workspaceId: t.workspaceId,
      email: 'oidc-member@example.com',
      ip: null,
      userAgent: null,
    });
    expect(locked).toMatchObject({ refused: 'account_locked' });
  });
});
