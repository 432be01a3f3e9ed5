import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { withFirstCharacterChanged } from '../helpers/tamper.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { type SignedIn, signIn, TEST_PASSWORD, userWithRole } from '../helpers/user-session.js';

/** Invitations and members: inviting, accepting once, roles, the last owner. */

let t: TestApp;
let owner: SignedIn;
let admin: SignedIn;

beforeAll(async () => {
  t = await createTestApp({
    HERALD_PUBLIC_URL: 'https://herald.example.com',
    HERALD_LOGIN_RATE_LIMIT_PER_MINUTE: '1000',
  });
  owner = await userWithRole(t, 'owner', { email: 'owner@example.com' });
  admin = await userWithRole(t, 'admin', { email: 'admin@example.com' });
});
afterAll(async () => {
  await t?.close();
});

function snapshot(): Promise<string> {
  return databaseSnapshot(t.container.database.pool);
}

async function invite(by: SignedIn, email: string, role: string) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/invitations',
    headers: by.write,
    payload: { email, role },
  });
  return res;
}

function accept(payload: object) {
  return t.app.inject({ method: 'POST', url: '/v1/invitations/accept', payload });
}

describe('invitations', () => {
  it('invites with a role; accepting creates the account, which then signs in with that role', async () => {
    const res = await invite(admin, 'newcomer@example.com', 'editor');
    expect(res.statusCode, res.body).toBe(201);
    const { invitation, token, accept_url } = res.json();
    expect(invitation).toMatchObject({ email: 'newcomer@example.com', role: 'editor', status: 'pending' });
    expect(invitation.invited_by).toBe(`user:${admin.userId}`);
    expect(accept_url).toBe(
      `https://herald.example.com/invitations/accept?token=${encodeURIComponent(token)}`,
    );
    expect(new Date(invitation.expires_at).getTime() - t.clock.now().getTime()).toBe(7 * 86_400_000);

    const noPassword = await accept({ token });
    expect(noPassword.statusCode).toBe(400);
    expect(noPassword.json().detail).toContain('Choose a password');
    const short = await accept({ token, password: 'short' });
    expect(short.statusCode).toBe(400);

    const accepted = await accept({ token, password: TEST_PASSWORD });
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(accepted.json()).toMatchObject({
      user: { email: 'newcomer@example.com' },
      workspace: { id: t.workspaceId },
      role: 'editor',
      created: true,
    });
    const session = await signIn(t, 'newcomer@example.com');
    const me = await t.app.inject({ method: 'GET', url: '/v1/session', headers: session.read });
    expect(me.json().role).toBe('editor');

    const listed = await t.app.inject({ method: 'GET', url: '/v1/invitations', headers: admin.read });
    const row = listed.json().data.find((i: { id: string }) => i.id === invitation.id);
    expect(row.status).toBe('accepted');
    expect(listed.body).not.toContain(token);
  });

  it('is single use', async () => {
    const { token } = (await invite(admin, 'once@example.com', 'viewer')).json();
    expect((await accept({ token, password: TEST_PASSWORD })).statusCode).toBe(200);
    const again = await accept({ token, password: 'another password here' });
    expect(again.statusCode).toBe(400);
    expect(again.json().code).toBe('INVITATION_INVALID');
    expect(again.json().detail).toContain('already used');
  });

  it('expires after the set days', async () => {
    const { token } = (await invite(admin, 'late@example.com', 'viewer')).json();
    t.clock.advance(7 * 86_400_000 + 1000);
    const before = await snapshot();
    const res = await accept({ token, password: TEST_PASSWORD });
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toContain('expired');
    expect(await snapshot()).toBe(before);
    // A week later the sessions of the beforeAll sign-ins are gone too.
    owner = await signIn(t, 'owner@example.com');
    admin = await signIn(t, 'admin@example.com');
  });

  it('refuses a revoked, forged or altered token, and changes nothing', async () => {
    const created = (await invite(admin, 'revoked@example.com', 'viewer')).json();
    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/v1/invitations/${created.invitation.id}`,
      headers: admin.write,
    });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().status).toBe('revoked');
    const fresh = (await invite(admin, 'fresh@example.com', 'viewer')).json();
    const [ws, id, key, sig] = fresh.token.split('.');
    const other = await t.createWorkspace('Elsewhere');
    const before = await snapshot();
    for (const token of [
      created.token,
      'garbage',
      `${ws}.${id}.${key}.${withFirstCharacterChanged(sig)}`,
      // The same invitation claimed for another workspace: the signature covers the workspace.
      `${other.workspaceId}.${id}.${key}.${sig}`,
    ]) {
      const res = await accept({ token, password: TEST_PASSWORD });
      expect(res.statusCode, token).toBe(400);
      expect(res.json().code).toBe('INVITATION_INVALID');
    }
    expect(await snapshot()).toBe(before);
  });

  it('adds the workspace to an existing account without asking for a password, and only that workspace', async () => {
    const other = await t.createWorkspace('Second brand');
    const otherOwner = await userWithRole(t, 'owner', { workspaceId: other.workspaceId });
    const existing = await userWithRole(t, 'viewer', { email: 'existing@example.com' });
    const { token } = (await invite(otherOwner, 'EXISTING@example.com', 'editor')).json();
    const res = await accept({ token });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      created: false,
      role: 'editor',
      workspace: { id: other.workspaceId },
    });
    // The old password still signs in; the new workspace is one switch away, with its own role.
    const session = await signIn(t, 'existing@example.com', { workspaceId: other.workspaceId });
    const me = (await t.app.inject({ method: 'GET', url: '/v1/session', headers: session.read })).json();
    expect(me.role).toBe('editor');
    expect(me.workspaces).toHaveLength(2);
    // In the first workspace they are still a viewer.
    const first = (await t.app.inject({ method: 'GET', url: '/v1/session', headers: existing.read })).json();
    expect(first.role).toBe('viewer');
  });

  it('cannot be listed, read or revoked from another workspace', async () => {
    const created = (await invite(admin, 'private@example.com', 'viewer')).json();
    const other = await t.createWorkspace('Snooper');
    const snooper = await userWithRole(t, 'owner', { workspaceId: other.workspaceId });
    const list = await t.app.inject({ method: 'GET', url: '/v1/invitations', headers: snooper.read });
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain('private@example.com');
    const read = await t.app.inject({
      method: 'GET',
      url: `/v1/invitations/${created.invitation.id}`,
      headers: snooper.read,
    });
    expect(read.statusCode).toBe(404);
    const revoke = await t.app.inject({
      method: 'DELETE',
      url: `/v1/invitations/${created.invitation.id}`,
      headers: snooper.write,
    });
    expect(revoke.statusCode).toBe(404);
    expect((await accept({ token: created.token, password: TEST_PASSWORD })).statusCode).toBe(200);
  });

  it('refuses a bad address, an existing member, and owner invitations from anyone but an owner', async () => {
    const bad = await invite(admin, 'not-an-address', 'viewer');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('INVALID_EMAIL');
    const member = await invite(admin, 'owner@example.com', 'viewer');
    expect(member.statusCode).toBe(409);
    expect(member.json().code).toBe('MEMBER_EXISTS');
    const asOwnerByAdmin = await invite(admin, 'boss@example.com', 'owner');
    expect(asOwnerByAdmin.statusCode).toBe(403);
    expect(asOwnerByAdmin.json().code).toBe('OWNER_REQUIRED');
    const byKey = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations',
      headers: t.auth(),
      payload: { email: 'boss@example.com', role: 'owner' },
    });
    expect(byKey.statusCode).toBe(403);
    const asOwnerByOwner = await invite(owner, 'boss@example.com', 'owner');
    expect(asOwnerByOwner.statusCode).toBe(201);
    const badRole = await invite(owner, 'x@example.com', 'superuser');
    expect(badRole.statusCode).toBe(400);
  });

  it('are managed by admins and owners only', async () => {
    const editor = await userWithRole(t, 'editor');
    expect((await invite(editor, 'nope@example.com', 'viewer')).statusCode).toBe(403);
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/invitations', headers: editor.read })).statusCode,
    ).toBe(403);
    // An API key with users:write invites too (provisioning from another system).
    const key = await t.createKey(['users:write']);
    const byKey = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations',
      headers: t.auth(key),
      payload: { email: 'provisioned@example.com', role: 'analyst' },
    });
    expect(byKey.statusCode, byKey.body).toBe(201);
    expect(byKey.json().invitation.invited_by).toMatch(/^api_key:/);
  });
});

describe('members', () => {
  it('lists members with roles, never password hashes', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/users', headers: admin.read });
    expect(res.statusCode).toBe(200);
    const emails = res.json().data.map((m: { email: string }) => m.email);
    expect(emails).toContain('owner@example.com');
    expect(res.body).not.toContain('argon2');
    const one = await t.app.inject({ method: 'GET', url: `/v1/users/${owner.userId}`, headers: admin.read });
    expect(one.json()).toMatchObject({ email: 'owner@example.com', role: 'owner', totp_enabled: false });
  });

  it('changes roles, effective on the next request', async () => {
    const member = await userWithRole(t, 'viewer');
    const write = () =>
      t.app.inject({
        method: 'POST',
        url: '/v1/lists',
        headers: member.write,
        payload: { name: `List ${Math.random()}`, opt_in: 'single', visibility: 'private' },
      });
    expect((await write()).statusCode).toBe(403);
    const changed = await t.app.inject({
      method: 'PATCH',
      url: `/v1/users/${member.userId}`,
      headers: admin.write,
      payload: { role: 'editor' },
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json().role).toBe('editor');
    expect((await write()).statusCode).toBe(201);
  });

  it('keeps the owner role to owners, and the last owner in place', async () => {
    const solo = await t.createWorkspace('Solo');
    const soloOwner = await userWithRole(t, 'owner', { workspaceId: solo.workspaceId });
    const soloAdmin = await userWithRole(t, 'admin', { workspaceId: solo.workspaceId });
    const before = await snapshot();
    const demoteByAdmin = await t.app.inject({
      method: 'PATCH',
      url: `/v1/users/${soloOwner.userId}`,
      headers: soloAdmin.write,
      payload: { role: 'viewer' },
    });
    expect(demoteByAdmin.statusCode).toBe(403);
    expect(demoteByAdmin.json().code).toBe('OWNER_REQUIRED');
    const promoteByAdmin = await t.app.inject({
      method: 'PATCH',
      url: `/v1/users/${soloAdmin.userId}`,
      headers: soloAdmin.write,
      payload: { role: 'owner' },
    });
    expect(promoteByAdmin.statusCode).toBe(403);
    const removeByAdmin = await t.app.inject({
      method: 'DELETE',
      url: `/v1/users/${soloOwner.userId}`,
      headers: soloAdmin.write,
    });
    expect(removeByAdmin.statusCode).toBe(403);
    const demoteSelf = await t.app.inject({
      method: 'PATCH',
      url: `/v1/users/${soloOwner.userId}`,
      headers: soloOwner.write,
      payload: { role: 'admin' },
    });
    expect(demoteSelf.statusCode).toBe(409);
    expect(demoteSelf.json().code).toBe('LAST_OWNER');
    const removeSelf = await t.app.inject({
      method: 'DELETE',
      url: `/v1/users/${soloOwner.userId}`,
      headers: soloOwner.write,
    });
    expect(removeSelf.statusCode).toBe(409);
    expect(await snapshot()).toBe(before);

    // With a second owner, the first may step down.
    const promote = await t.app.inject({
      method: 'PATCH',
      url: `/v1/users/${soloAdmin.userId}`,
      headers: soloOwner.write,
      payload: { role: 'owner' },
    });
    expect(promote.statusCode).toBe(200);
    const stepDown = await t.app.inject({
      method: 'PATCH',
      url: `/v1/users/${soloOwner.userId}`,
      headers: soloOwner.write,
      payload: { role: 'admin' },
    });
    expect(stepDown.statusCode, stepDown.body).toBe(200);
  });

  it('removes a member, who then cannot sign in to that workspace', async () => {
    const leaving = await userWithRole(t, 'editor', { email: 'leaving@example.com' });
    const res = await t.app.inject({
      method: 'DELETE',
      url: `/v1/users/${leaving.userId}`,
      headers: admin.write,
    });
    expect(res.statusCode).toBe(204);
    const again = await t.app.inject({
      method: 'POST',
      url: '/v1/session',
      payload: { email: 'leaving@example.com', password: TEST_PASSWORD },
    });
    expect(again.statusCode).toBe(403);
    expect(again.json().code).toBe('NOT_A_MEMBER');
    const missing = await t.app.inject({
      method: 'DELETE',
      url: `/v1/users/${leaving.userId}`,
      headers: admin.write,
    });
    expect(missing.statusCode).toBe(404);
  });

  it("cannot touch another workspace's members", async () => {
    const other = await t.createWorkspace('Other members');
    const outsider = await userWithRole(t, 'owner', { workspaceId: other.workspaceId });
    const before = await snapshot();
    for (const [method, payload] of [
      ['GET', undefined],
      ['PATCH', { role: 'viewer' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await t.app.inject({
        method,
        url: `/v1/users/${admin.userId}`,
        headers: outsider.write,
        ...(payload ? { payload } : {}),
      });
      expect(res.statusCode, method).toBe(404);
    }
    expect(await snapshot()).toBe(before);
  });
});
