import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, browserTestsRun, type Chromium, freePort, launchChromium } from '../helpers/chromium.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The public pages in a real browser (Debian's Chromium driven by
 * playwright-core) against the real app listening on 127.0.0.1: a person opens
 * the preference center from a link in a captured campaign email, changes
 * lists and unsubscribes; another subscribes through the hosted form and
 * confirms by the link in the captured confirmation email. Screenshots go to
 * test-artifacts/e2e/.
 *
 * Without Chromium the tests are skipped with a printed reason, unless
 * HERALD_REQUIRE_BROWSER=1 (set by .ci/run), which makes a missing browser a
 * failure.
 */

describe.runIf(browserTestsRun('public pages browser tests'))('public pages in Chromium', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let base: string;
  let context: BrowserContext;
  let browser: Chromium | undefined;
  const cspViolations: string[] = [];

  async function call(method: 'GET' | 'POST', url: string, payload?: object) {
    const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
    expect(res.statusCode, res.body).toBeLessThan(300);
    return res.json();
  }

  async function contact(email: string) {
    const found = (await call('GET', `/v1/contacts?email=${encodeURIComponent(email)}`)).data[0];
    return found ? call('GET', `/v1/contacts/${found.id}`) : undefined;
  }

  async function statusOn(listId: string, email: string): Promise<string | undefined> {
    return (await contact(email))?.lists.find((m: { list_id: string }) => m.list_id === listId)?.status;
  }

  async function consent(email: string) {
    const c = await contact(email);
    return (await call('GET', `/v1/contacts/${c.id}/consent?limit=1000`)).data as {
      action: string;
      list_id: string | null;
      source: string;
      source_id: string | null;
      user_agent: string | null;
      detail: Record<string, unknown> | null;
    }[];
  }

  async function mailTo(to: string) {
    const message = sink.messages.filter((m) => m.to[0] === to).at(-1);
    expect(message, `no message for ${to}`).toBeDefined();
    return simpleParser(message?.raw as Buffer);
  }

  async function newPage(): Promise<Page> {
    const page = await context.newPage();
    page.on('console', (msg) => {
      if (/Content.Security.Policy/i.test(msg.text())) cspViolations.push(msg.text());
    });
    return page;
  }

  async function shot(page: Page, name: string) {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

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

  it('opens the preference center from a campaign email, changes lists, and unsubscribes', async () => {
    const news = (
      await call('POST', '/v1/lists', { name: 'Weekly news', opt_in: 'single', visibility: 'public' })
    ).id;
    const offers = (
      await call('POST', '/v1/lists', {
        name: 'Offers',
        description: 'Deals and coupons, twice a month',
        opt_in: 'double',
        visibility: 'public',
        confirmation_from_email: 'news@shop.example',
      })
    ).id;
    await call('POST', `/v1/lists/${news}/members`, { emails: ['pat@example.com'], status: 'confirmed' });
    const template = await call('POST', '/v1/templates', {
      name: 'News',
      format: 'html',
      subject: 'This week',
      body: '<p>Hello</p><p><a href="{{ preferences_url }}">Manage your preferences</a> · <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    });
    const campaign = await call('POST', '/v1/campaigns', {
      name: 'This week',
      from_email: 'news@shop.example',
      template_id: template.id,
      lists: [news],
    });
    await call('POST', `/v1/campaigns/${campaign.id}/send`);
    await t.container.sender.drain();

    const mail = await mailTo('pat@example.com');
    const html = String(mail.html);
    const preferences = /href="([^"]+\/p\/[A-Za-z0-9_-]+)"/.exec(html)?.[1] as string;
    expect(preferences.startsWith(`${base}/p/`)).toBe(true);

    const page = await newPage();
    const response = await page.goto(preferences);
    expect(response?.status()).toBe(200);
    await shot(page, 'preferences-before');
    const newsBox = page.getByRole('checkbox', { name: /Weekly news/ });
    const offersBox = page.getByRole('checkbox', { name: /Offers/ });
    expect(await newsBox.isChecked()).toBe(true);
    expect(await offersBox.isChecked()).toBe(false);
    await offersBox.check();
    await newsBox.uncheck();
    await page.getByRole('button', { name: 'Save preferences' }).click();
    await page.getByText('Your preferences are saved.').waitFor();
    await shot(page, 'preferences-saved');
    expect(await page.getByRole('checkbox', { name: /Offers/ }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: /Weekly news/ }).isChecked()).toBe(false);

    expect(await statusOn(news, 'pat@example.com')).toBe('unsubscribed');
    expect(await statusOn(offers, 'pat@example.com')).toBe('confirmed');
    let records = (await consent('pat@example.com')).filter((r) => r.source === 'form');
    expect(records.map((r) => `${r.action}:${r.list_id === news ? 'news' : 'offers'}`).sort()).toEqual([
      'confirm:offers',
      'subscribe:offers',
      'unsubscribe:news',
    ]);
    for (const r of records) {
      expect(r.source_id).toBe(campaign.id);
      expect(r.user_agent).toMatch(/Chrome/);
      expect(r.detail).toMatchObject({ method: 'preferences', campaign_id: campaign.id });
    }

    // The email's unsubscribe link: a page that asks first, then unsubscribes from everything.
    const unsubscribe = /href="([^"]+\/u\/[A-Za-z0-9_-]+)"/.exec(html)?.[1] as string;
    await page.goto(unsubscribe);
    await shot(page, 'unsubscribe-confirm');
    expect((await contact('pat@example.com')).status).toBe('active');
    // Already off the campaign's list (by the preference center): the page offers everything instead.
    await page.getByText('You are already unsubscribed from').waitFor();
    await page.getByRole('button', { name: 'Unsubscribe from all marketing email' }).click();
    await page.getByRole('heading', { name: 'You are unsubscribed' }).waitFor();
    await shot(page, 'unsubscribe-done');

    const pat = await contact('pat@example.com');
    expect(pat.status).toBe('unsubscribed');
    expect(pat.lists.every((m: { status: string }) => m.status === 'unsubscribed')).toBe(true);
    records = (await consent('pat@example.com')).filter((r) => r.detail?.method === 'page');
    expect(records.map((r) => r.list_id).sort()).toEqual([offers, null].sort());
    for (const r of records) expect(r).toMatchObject({ action: 'unsubscribe', source_id: campaign.id });
    expect(cspViolations).toEqual([]);
    await page.close();
  }, 90_000);

  it('subscribes through the hosted form and confirms by the link in the confirmation email', async () => {
    const list = (
      await call('POST', '/v1/lists', {
        name: 'Product updates',
        opt_in: 'double',
        visibility: 'public',
        confirmation_from_email: 'updates@shop.example',
      })
    ).id;
    const page = await newPage();
    expect((await page.goto(`${base}/f/${list}`))?.status()).toBe(200);
    await shot(page, 'form');
    await page.getByLabel('Email address').fill('quinn@example.com');
    await page.getByLabel(/First name/).fill('Quinn');
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
    await shot(page, 'form-check-inbox');
    expect(await statusOn(list, 'quinn@example.com')).toBe('unconfirmed');
    expect((await contact('quinn@example.com')).attributes).toEqual({ first_name: 'Quinn' });

    await t.container.runner.drain();
    const mail = await mailTo('quinn@example.com');
    const confirm = new RegExp(`${base.replace(/[.]/g, '\\.')}/confirm/[A-Za-z0-9_-]+`).exec(
      String(mail.text),
    )?.[0];
    expect(confirm, String(mail.text)).toBeDefined();
    await page.goto(confirm as string);
    await shot(page, 'confirm');
    expect(await statusOn(list, 'quinn@example.com')).toBe('unconfirmed');
    await page.getByRole('button', { name: 'Confirm subscription' }).click();
    await page.getByRole('heading', { name: 'Subscription confirmed' }).waitFor();
    await shot(page, 'confirmed');

    expect(await statusOn(list, 'quinn@example.com')).toBe('confirmed');
    const records = await consent('quinn@example.com');
    const subscribe = records.find((r) => r.action === 'subscribe');
    expect(subscribe).toMatchObject({ source: 'form', source_id: `form:${list}` });
    expect(subscribe?.detail?.consent_text).toContain('Product updates');
    expect(subscribe?.user_agent).toMatch(/Chrome/);
    expect(records.find((r) => r.action === 'confirm')).toMatchObject({
      source: 'form',
      source_id: 'confirm-link',
    });
    expect(cspViolations).toEqual([]);
    await page.close();
  }, 90_000);
});
