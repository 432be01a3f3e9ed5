import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, browserTestsRun, type Chromium, freePort, launchChromium } from '../helpers/chromium.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { userWithRole } from '../helpers/user-session.js';

/**
 * The invitation accept page in a real browser (Debian's Chromium driven by
 * playwright-core) against the real app listening on 127.0.0.1: an admin
 * invites, the invitee opens the link from the captured email, types a
 * password that is too short, then a good one, and ends up signed in.
 * Skipped without Chromium unless HERALD_REQUIRE_BROWSER=1, like
 * public-pages-browser.test.ts.
 */

describe.runIf(browserTestsRun('invitation page browser test'))('invitation page in Chromium', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let base: string;
  let context: BrowserContext;
  let browser: Chromium | undefined;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await createTestApp({ HERALD_PUBLIC_URL: base });
    await t.app.listen({ port, host: '127.0.0.1' });
    sink = await startSmtpSink();
    await t.addSinkTransport(sink);
    browser = await launchChromium();
    context = browser.context;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await sink?.close();
  });

  it('opens the emailed link, refuses a short password, then creates the account and signs it in', async () => {
    const admin = await userWithRole(t, 'admin', { email: 'admin@example.com' });
    const invited = await t.app.inject({
      method: 'POST',
      url: '/v1/invitations',
      headers: admin.write,
      payload: { email: 'newcomer@example.com', role: 'editor' },
    });
    expect(invited.statusCode, invited.body).toBe(201);
    expect(invited.json().email.sent).toBe(true);
    const message = sink.messages.find((m) => m.to[0] === 'newcomer@example.com');
    expect(message).toBeDefined();
    const mail = await simpleParser(message?.raw as Buffer);
    const link = /(http:\/\/127\.0\.0\.1:\d+\/invitations\/accept\?token=\S+)/.exec(mail.text ?? '')?.[1];
    expect(link).toBe(invited.json().accept_url);

    const page = await context.newPage();
    page.on('console', (msg) => {
      if (/Content.Security.Policy/i.test(msg.text())) cspViolations.push(msg.text());
    });
    await page.setViewportSize({ width: 375, height: 740 });
    await page.goto(link as string);
    expect(await page.title()).toBe('Join Default');
    expect(await page.inputValue('#email')).toBe('newcomer@example.com');
    await page.screenshot({ path: join(ARTIFACTS, 'invitation-form.png'), fullPage: true });

    // The browser's own minlength check would stop a short password: take it away to reach the server's answer.
    await page.locator('#password').evaluate((input) => input.removeAttribute('minlength'));
    await page.fill('#password', 'short');
    await page.getByRole('button', { name: 'Create account and join' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.textContent('[role=alert]')).toContain('too short');
    expect(await page.getAttribute('#password', 'aria-invalid')).toBe('true');

    await page.fill('#password', 'correct horse battery staple');
    await page.getByRole('button', { name: 'Create account and join' }).click();
    await page.getByRole('heading', { name: 'Welcome' }).waitFor();
    expect(await page.textContent('main')).toContain('you are signed in to');
    expect(await page.title()).toBe('Welcome');
    await page.screenshot({ path: join(ARTIFACTS, 'invitation-welcome.png'), fullPage: true });

    // The browser now holds the session cookie: the API answers it as the new editor.
    const cookie = (await context.cookies(base)).find((c) => c.name === 'herald_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    const session = await t.app.inject({
      method: 'GET',
      url: '/v1/session',
      headers: { cookie: `herald_session=${cookie?.value}` },
    });
    expect(session.json()).toMatchObject({ user: { email: 'newcomer@example.com' }, role: 'editor' });
    expect(cspViolations).toEqual([]);
  }, 90_000);
});
