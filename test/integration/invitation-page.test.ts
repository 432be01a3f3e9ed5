import { type ParsedMail, simpleParser } from 'mailparser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PAGE_CSP } from '../../src/http/public-page.js';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { withFirstCharacterChanged } from '../helpers/tamper.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import {
  type SignedIn,
  sessionCookieOf,
  signIn,
  TEST_PASSWORD,
  userWithRole,
} from '../helpers/user-session.js';

/**
 * Invitations that reach people: the email (through the workspace's default
 * transport, here a real SMTP server on 127.0.0.1) with its accept link, and
 * the public page the link opens, which creates the account and signs it in.
 */

const PUBLIC_URL = 'https://herald.example.com';
const WORKSPACE = 'Shop & <Co>';
let t: TestApp;
let sink: SmtpSink;
let admin: SignedIn;
/** Each test pages from its own client address: the page's per-address limit is then the rate test's alone. */
let nextAddress = 10;
let ip = '';

beforeAll(async () => {
  t = await createTestApp({
    HERALD_PUBLIC_URL: PUBLIC_URL,
    HERALD_SYSTEM_FROM_EMAIL: 'team@herald.example.com',
    HERALD_LOGIN_RATE_LIMIT_PER_MINUTE: '20',
  });
  sink = await startSmtpSink();
  await t.addSinkTransport(sink);
  const renamed = await t.app.inject({
    method: 'PATCH',
    url: '/v1/workspace',
    headers: t.auth(),
    payload: { name: WORKSPACE },
  });
  expect(renamed.statusCode, renamed.body).toBe(200);
  admin = await userWithRole(t, 'admin', { email: 'admin@example.com' });
});
afterAll(async () => {
  await t?.close();
  await sink?.close();
});
beforeEach(() => {
  sink.messages.length = 0;
  ip = `198.51.100.${nextAddress++}`;
});

function snapshot(): Promise<string> {
  return databaseSnapshot(t.container.database.pool);
}

async function invite(email: string, role = 'editor') {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/invitations',
    headers: admin.write,
    payload: { email, role },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as {
    invitation: { id: string; expires_at: string };
    token: string;
    accept_url: string;
    email: { sent: boolean; error: string | null };
  };
}

async function mailTo(to: string): Promise<ParsedMail> {
  const message = sink.messages.filter((m) => m.to[0] === to).at(-1);
  expect(message, `no message to ${to}`).toBeDefined();
  return simpleParser(message?.raw as Buffer);
}

/** The page path of an accept link (the public URL is not this test's server). */
function pathOf(link: string): string {
  expect(link.startsWith(`${PUBLIC_URL}/invitations/accept?token=`), link).toBe(true);
  return link.slice(PUBLIC_URL.length);
}

function openPage(path: string, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'GET', url: path, headers, remoteAddress: ip });
}

function submit(fields: Record<string, string>, headers: Record<string, string> = {}) {
  return t.app.inject({
    method: 'POST',
    url: '/invitations/accept',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams(fields).toString(),
    remoteAddress: ip,
  });
}

/** The hidden token field of a rendered form. */
function formToken(html: string): string {
  const value = /<input type="hidden" name="token" value="([^"]*)">/.exec(html)?.[1];
  expect(value, 'the form carries the token').toBeDefined();
  return (value as string).replace(/&#(\d+);/g, (_m, code) => String.fromCharCode(Number(code)));
}

describe('the invitation email', () => {
  it('reaches the invitee with a working link, the workspace, role, inviter and expiry; the link accepts', async () => {
    const created = await invite('newcomer@example.com', 'editor');
    expect(created.email).toEqual({ sent: true, error: null });
    expect(sink.messages).toHaveLength(1);
    expect(sink.messages[0]?.to).toEqual(['newcomer@example.com']);
    const mail = await mailTo('newcomer@example.com');
    expect(mail.from?.value[0]?.address).toBe('team@herald.example.com');
    expect(mail.subject).toBe(`Join ${WORKSPACE} on Herald`);
    const text = mail.text ?? '';
    expect(text).toContain(created.accept_url);
    expect(text).toContain(`workspace "${WORKSPACE}"`);
    expect(text).toContain('as an editor');
    expect(text).toContain('admin@example.com invites you');
    const expires = new Date(created.invitation.expires_at);
    expect(text).toContain(`${expires.getUTCDate()} `);
    expect(text).toContain(`${expires.getUTCFullYear()}, `);
    expect(text).toContain(' UTC');
    // HTML: the name escaped, the link the same as in the text part.
    const html = String(mail.html);
    expect(html).toContain('Shop &#38; &#60;Co&#62;');
    expect(html).not.toContain('<Co>');
    const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map((m) =>
      (m[1] as string).replace(/&#(\d+);/g, (_s, code) => String.fromCharCode(Number(code))),
    );
    expect(new Set(hrefs)).toEqual(new Set([created.accept_url]));

    // Following the link: the page, then its form.
    const page = await openPage(pathOf(hrefs[0] as string));
    expect(page.statusCode, page.body).toBe(200);
    expect(page.body).toContain('newcomer@example.com');
    expect(page.body).toContain('Shop &#38; &#60;Co&#62;');
    expect(page.body).toContain('<strong>editor</strong>');
    const accepted = await submit({ token: formToken(page.body), password: TEST_PASSWORD });
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(accepted.body).toContain('you are signed in to');
    // Signed in as sign-in would: the same cookie, and it works.
    const setCookie = String(accepted.headers['set-cookie']);
    expect(setCookie).toMatch(
      /^herald_session=hs_[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/,
    );
    const session = await t.app.inject({
      method: 'GET',
      url: '/v1/session',
      headers: { cookie: sessionCookieOf(setCookie) },
    });
    expect(session.statusCode, session.body).toBe(200);
    expect(session.json()).toMatchObject({
      user: { email: 'newcomer@example.com' },
      workspace: { id: t.workspaceId, name: WORKSPACE },
      role: 'editor',
    });
    // The password chosen on the page signs in.
    await signIn(t, 'newcomer@example.com');
  });

  it('keeps the invitation and its token when the email cannot be sent; resend sends the same link', async () => {
    sink.reject.set('bounce@example.com', { code: 550, message: '5.1.1 no such user here' });
    try {
      const created = await invite('bounce@example.com', 'viewer');
      expect(created.email.sent).toBe(false);
      expect(created.email.error).toContain('no such user here');
      expect(created.token.length).toBeGreaterThan(40);
      expect(created.accept_url).toContain(encodeURIComponent(created.token));
      const shown = await t.app.inject({
        method: 'GET',
        url: `/v1/invitations/${created.invitation.id}`,
        headers: admin.read,
      });
      expect(shown.json().status).toBe('pending');
      expect(shown.body).not.toContain(created.token);

      sink.reject.delete('bounce@example.com');
      const resent = await t.app.inject({
        method: 'POST',
        url: `/v1/invitations/${created.invitation.id}/resend`,
        headers: admin.write,
      });
      expect(resent.statusCode, resent.body).toBe(200);
      expect(resent.json().email).toEqual({ sent: true, error: null });
      expect(resent.json().invitation).toMatchObject({ id: created.invitation.id, status: 'pending' });
      // The token is the creator's alone: resend does not return it, the invitee's email carries it.
      expect(resent.body).not.toContain(created.token);
      expect((await mailTo('bounce@example.com')).text).toContain(created.accept_url);

      // The link passed on by hand works as well.
      const accepted = await submit({ token: created.token, password: TEST_PASSWORD });
      expect(accepted.statusCode, accepted.body).toBe(200);
      const again = await t.app.inject({
        method: 'POST',
        url: `/v1/invitations/${created.invitation.id}/resend`,
        headers: admin.write,
      });
      expect(again.statusCode).toBe(409);
      expect(again.json().code).toBe('INVITATION_NOT_PENDING');
      expect(again.json().detail).toContain('accepted');
    } finally {
      sink.reject.delete('bounce@example.com');
    }
  });

  it('resends only invitations of its own workspace', async () => {
    const created = await invite('mine@example.com');
    const other = await t.createWorkspace('Other brand');
    const before = await snapshot();
    sink.messages.length = 0;
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/invitations/${created.invitation.id}/resend`,
      headers: t.auth(other.adminKey),
    });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('INVITATION_NOT_FOUND');
    expect(sink.messages).toHaveLength(0);
    expect(await snapshot()).toBe(before);
  });
});

describe('the accept page', () => {
  it('shows the workspace, role and address with a password form, with the public-page headers, and changes nothing', async () => {
    const created = await invite('reader@example.com', 'viewer');
    const before = await snapshot();
    const page = await openPage(pathOf(created.accept_url));
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['content-security-policy']).toBe(PAGE_CSP);
    expect(page.headers['x-robots-tag']).toBe('noindex, nofollow');
    expect(page.body).toContain('<html lang="en">');
    expect(page.body).toContain('name="viewport"');
    expect(page.body).toContain('<title>Join Shop &#38; &#60;Co&#62;</title>');
    expect(page.body).toContain('<strong>viewer</strong>');
    expect(page.body).toContain('value="reader@example.com" autocomplete="username" readonly');
    expect(page.body).toContain('<label for="password">Choose a password</label>');
    expect(page.body).toMatch(
      /<input type="password" id="password" name="password" autocomplete="new-password" required minlength="12"/,
    );
    expect(page.body).toContain('At least 12 characters');
    expect(page.body).toContain('expires on');
    expect(page.body).not.toContain('<script');
    expect(await snapshot()).toBe(before);
  });

  it("speaks the browser's language", async () => {
    const created = await invite('leser@example.com', 'analyst');
    const page = await openPage(pathOf(created.accept_url), { 'accept-language': 'de-AT,de;q=0.9,en;q=0.5' });
    expect(page.body).toContain('<html lang="de">');
    expect(page.body).toContain('<strong>Analyst</strong>');
    expect(page.body).toContain('Passwort wählen');
    const short = await submit({ token: created.token, password: 'kurz' }, { 'accept-language': 'de' });
    expect(short.body).toContain('Das Passwort ist zu kurz: Verwenden Sie mindestens 12 Zeichen (es hat 4).');
  });

  it('refuses a short or missing password with a clear message, keeps the form, and changes nothing', async () => {
    const created = await invite('careful@example.com', 'editor');
    const before = await snapshot();
    const short = await submit({ token: created.token, password: 'short' });
    expect(short.statusCode).toBe(400);
    expect(short.headers['content-security-policy']).toBe(PAGE_CSP);
    expect(short.body).toContain('The password is too short: use at least 12 characters (it has 5).');
    expect(short.body).toContain('role="alert"');
    expect(short.body).toContain('aria-invalid="true"');
    // The form again: same token, the address, the workspace; never the password typed.
    expect(formToken(short.body)).toBe(created.token);
    expect(short.body).toContain('value="careful@example.com"');
    expect(short.body).toContain('<strong>editor</strong>');
    expect(short.body).not.toContain('value="short"');
    const missing = await submit({ token: created.token });
    expect(missing.statusCode).toBe(400);
    expect(missing.body).toContain('Please choose a password of at least 12 characters.');
    const tooLong = await submit({ token: created.token, password: 'x'.repeat(300) });
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.body).toContain('at most 256 characters');
    expect(await snapshot()).toBe(before);
    // Then a good one.
    const ok = await submit({ token: formToken(short.body), password: TEST_PASSWORD });
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('answers a plain error page to a bad, expired, used or revoked link, and changes nothing', async () => {
    const used = await invite('used@example.com');
    expect((await submit({ token: used.token, password: TEST_PASSWORD })).statusCode).toBe(200);
    const revoked = await invite('revoked@example.com');
    await t.app.inject({
      method: 'DELETE',
      url: `/v1/invitations/${revoked.invitation.id}`,
      headers: admin.write,
    });
    const fresh = await invite('fresh@example.com');
    const [ws, id, key, sig] = fresh.token.split('.');
    const cases: [string, string][] = [
      ['', 'not valid'],
      ['garbage', 'not valid'],
      [`${ws}.${id}.${key}.${withFirstCharacterChanged(sig as string)}`, 'not valid'],
      [used.token, 'already used'],
      [revoked.token, 'withdrawn'],
    ];
    const before = await snapshot();
    for (const [token, says] of cases) {
      const page = await openPage(`/invitations/accept?token=${encodeURIComponent(token)}`);
      expect(page.statusCode, token).toBe(404);
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.body).toContain('Invitation not valid');
      expect(page.body, token).toContain(says);
      expect(page.body).not.toContain('<form');
      const posted = await submit({ token, password: TEST_PASSWORD });
      expect(posted.statusCode, token).toBe(404);
      expect(posted.body, token).toContain(says);
      expect(posted.headers['set-cookie']).toBeUndefined();
    }
    expect((await openPage('/invitations/accept')).statusCode).toBe(404);
    expect(await snapshot()).toBe(before);

    // A week later the fresh one has expired.
    t.clock.advance(7 * 86_400_000 + 1000);
    try {
      const expired = await openPage(pathOf(fresh.accept_url));
      expect(expired.statusCode).toBe(404);
      expect(expired.body).toContain('has expired');
      expect((await submit({ token: fresh.token, password: TEST_PASSWORD })).body).toContain('has expired');
      expect(await snapshot()).toBe(before);
    } finally {
      // Sessions idle out over a week: sign the admin in again for the tests after.
      admin = await signIn(t, 'admin@example.com');
    }
  });

  it('adds the workspace to an existing account without a password and without signing it in', async () => {
    const other = await t.createWorkspace('Second brand');
    await t.container.users.createUser({
      email: 'existing@example.com',
      password: TEST_PASSWORD,
      workspaceId: other.workspaceId,
      role: 'owner',
    });
    const created = await invite('existing@example.com', 'analyst');
    const page = await openPage(pathOf(created.accept_url));
    expect(page.body).toContain('already has a Herald account');
    expect(page.body).not.toContain('type="password"');
    expect(page.body).toContain('Join the workspace');
    const joined = await submit({ token: created.token, password: 'ignored anyway' });
    expect(joined.statusCode, joined.body).toBe(200);
    expect(joined.body).toContain('Sign in with your current password');
    // A link is not a password: the existing account is not signed in by it.
    expect(joined.headers['set-cookie']).toBeUndefined();
    const session = await signIn(t, 'existing@example.com', { workspaceId: t.workspaceId });
    const me = await t.app.inject({ method: 'GET', url: '/v1/session', headers: session.read });
    expect(me.json().role).toBe('analyst');
  });

  it('refuses a form posted from another site', async () => {
    const created = await invite('crosssite@example.com');
    const before = await snapshot();
    const res = await submit(
      { token: created.token, password: TEST_PASSWORD },
      { origin: 'https://evil.example' },
    );
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('sent from another site');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(await snapshot()).toBe(before);
    const crossSite = await submit(
      { token: created.token, password: TEST_PASSWORD },
      { origin: 'null', 'sec-fetch-site': 'cross-site' },
    );
    expect(crossSite.statusCode).toBe(403);
    expect(await snapshot()).toBe(before);
    // Under the page's no-referrer policy a browser posts its own form with Origin: null.
    const same = await submit(
      { token: created.token, password: TEST_PASSWORD },
      { origin: 'null', 'sec-fetch-site': 'same-origin' },
    );
    expect(same.statusCode, same.body).toBe(200);
  });

  it('limits views and submissions per client address', async () => {
    const created = await invite('limited@example.com');
    const path = pathOf(created.accept_url);
    for (let i = 0; i < 20; i++) expect((await openPage(path)).statusCode).toBe(200);
    const before = await snapshot();
    const limited = await submit({ token: created.token, password: TEST_PASSWORD });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(limited.headers['retry-after']).toBe('60');
    expect(limited.body).toContain('Too many attempts');
    expect(await snapshot()).toBe(before);
    // Another address is not held back, and after the minute this one may go on.
    ip = '198.51.100.250';
    expect((await openPage(path)).statusCode).toBe(200);
    ip = `198.51.100.${nextAddress - 1}`;
    t.clock.advance(61_000);
    expect((await submit({ token: created.token, password: TEST_PASSWORD })).statusCode).toBe(200);
  });
});
