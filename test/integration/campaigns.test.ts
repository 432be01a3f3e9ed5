import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
async function call(method: Method, url: string, payload?: object, key?: string) {
  const res = await t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function list(name: string, opt_in: 'single' | 'double') {
  return (await call('POST', '/v1/lists', { name, opt_in, visibility: 'private' })).body.id as string;
}

async function members(listId: string, emails: string[], status?: 'confirmed' | 'unconfirmed') {
  const res = await call('POST', `/v1/lists/${listId}/members`, { emails, ...(status ? { status } : {}) });
  expect(res.status).toBe(200);
}

describe('campaigns', () => {
  it('creates a draft with normalized addresses and its lists', async () => {
    const news = await list('News', 'single');
    const vip = await list('VIP', 'single');
    const res = await call('POST', '/v1/campaigns', {
      name: 'November news',
      from_name: 'Herald Shop',
      from_email: 'news@Shop.EXAMPLE',
      reply_to: 'help@shop.example',
      lists: [news],
      exclude_lists: [vip],
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      status: 'draft',
      from_email: 'news@shop.example',
      lists: [news],
      exclude_lists: [vip],
      progress: { to_send: 0, sent: 0, failed: 0 },
      track_opens: true,
      failure_threshold: expect.closeTo(0.2, 5),
    });
  });

  it('refuses bad settings with every reason and writes nothing', async () => {
    const news = await list('Refusals', 'single');
    const before = (await call('GET', '/v1/campaigns?limit=1000')).body.data.length;
    const both = await call('POST', '/v1/campaigns', {
      name: 'x',
      from_email: 'not-an-address',
      lists: [news],
      exclude_lists: [news],
    });
    expect(both.status).toBe(400);
    expect(both.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      '/exclude_lists',
      '/from_email',
    ]);
    const unknown = await call('POST', '/v1/campaigns', {
      name: 'x',
      lists: ['01900000-0000-7000-8000-000000000000'],
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('LIST_NOT_FOUND');
    const other = await t.createWorkspace('Elsewhere');
    const foreignList = (
      await call(
        'POST',
        '/v1/lists',
        { name: 'Theirs', opt_in: 'single', visibility: 'private' },
        other.adminKey,
      )
    ).body.id;
    const foreign = await call('POST', '/v1/campaigns', { name: 'x', lists: [foreignList] });
    expect(foreign.body.code).toBe('LIST_NOT_FOUND');
    expect((await call('GET', '/v1/campaigns?limit=1000')).body.data.length).toBe(before);
  });

  it('computes the audience: opt-in rules, exclusions, contact status, each contact once', async () => {
    const single = await list('Audience single', 'single');
    const double = await list('Audience double', 'double');
    const excluded = await list('Audience excluded', 'single');
    await members(single, [
      'a@example.com',
      'b@example.com',
      'c@example.com',
      'd@example.com',
      'e@example.com',
    ]);
    await members(double, ['a@example.com', 'f@example.com']); // unconfirmed: only a (via single) counts
    await members(double, ['g@example.com'], 'confirmed');
    await members(excluded, ['b@example.com', 'c@example.com']);
    await call('POST', `/v1/lists/${excluded}/members/unsubscribe`, { emails: ['c@example.com'] }); // c is back in
    await call('POST', `/v1/lists/${single}/members/unsubscribe`, { emails: ['d@example.com'] });
    const e = (await call('GET', '/v1/contacts?email=e@example.com')).body.data[0];
    await call('PATCH', `/v1/contacts/${e.id}`, { status: 'bounced' });

    const campaign = (
      await call('POST', '/v1/campaigns', {
        name: 'Audience',
        lists: [single, double],
        exclude_lists: [excluded],
      })
    ).body;
    const audience = await call('GET', `/v1/campaigns/${campaign.id}/audience?limit=2`);
    expect(audience.body.total).toBe(3);
    const rest = await call(
      'GET',
      `/v1/campaigns/${campaign.id}/audience?limit=2&cursor=${audience.body.next_cursor}`,
    );
    const emails = [...audience.body.data, ...rest.body.data].map((c: { email: string }) => c.email).sort();
    expect(emails).toEqual(['a@example.com', 'c@example.com', 'g@example.com']);
  });

  it('edits drafts, refuses edits and deletion once sending, and deletes drafts', async () => {
    const { body: draft } = await call('POST', '/v1/campaigns', { name: 'Editable' });
    const edited = await call('PATCH', `/v1/campaigns/${draft.id}`, {
      subject: 'Hi {{ contact.attributes.first_name }}',
    });
    expect(edited.body.subject).toBe('Hi {{ contact.attributes.first_name }}');

    await t.container.db
      .updateTable('campaigns')
      .set({ status: 'sending' })
      .where('id', '=', draft.id)
      .execute();
    const locked = await call('PATCH', `/v1/campaigns/${draft.id}`, { name: 'Too late' });
    expect(locked.status).toBe(409);
    expect(locked.body.code).toBe('CAMPAIGN_STATE_CONFLICT');
    expect(locked.body.detail).toContain('sending');
    expect((await call('DELETE', `/v1/campaigns/${draft.id}`)).status).toBe(409);

    const { body: other } = await call('POST', '/v1/campaigns', { name: 'Short-lived' });
    expect((await call('DELETE', `/v1/campaigns/${other.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/campaigns/${other.id}`)).body.code).toBe('CAMPAIGN_NOT_FOUND');
  });

  it('refuses a subject or preheader override that is not valid Liquid, with line and column', async () => {
    const { body: draft } = await call('POST', '/v1/campaigns', { name: 'Liquid check' });
    const bad = await call('PATCH', `/v1/campaigns/${draft.id}`, {
      subject: 'Hi {{ contact.attributes.first_name ',
      preheader: '{% if %}',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('TEMPLATE_INVALID');
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['/preheader', '/subject']);
    expect(bad.body.errors[0]).toMatchObject({ line: 1, column: expect.any(Number) });
    expect((await call('GET', `/v1/campaigns/${draft.id}`)).body.subject).toBeNull();
    const created = await call('POST', '/v1/campaigns', { name: 'Bad subject', subject: '{{ ' });
    expect(created.status).toBe(400);
  });

  it('lists by status and needs campaign scopes', async () => {
    const drafts = await call('GET', '/v1/campaigns?status=draft');
    expect(drafts.body.data.every((c: { status: string }) => c.status === 'draft')).toBe(true);
    const reader = await t.createKey(['campaigns:read']);
    expect((await call('GET', '/v1/campaigns', undefined, reader)).status).toBe(200);
    expect((await call('POST', '/v1/campaigns', { name: 'no' }, reader)).status).toBe(403);
  });
});
