import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

async function call(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

describe('attribute schema', () => {
  it('defines, pages through, changes and removes attribute definitions', async () => {
    for (const name of ['city', 'age', 'birthday']) {
      const type = name === 'age' ? 'number' : name === 'birthday' ? 'date' : 'string';
      expect((await call('POST', '/v1/attributes', { name, type })).status).toBe(201);
    }
    expect((await call('POST', '/v1/attributes', { name: 'city', type: 'string' })).body.code).toBe(
      'ATTRIBUTE_EXISTS',
    );
    const first = await call('GET', '/v1/attributes?limit=2');
    expect(first.body.data.map((d: { name: string }) => d.name)).toEqual(['age', 'birthday']);
    const second = await call('GET', `/v1/attributes?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body).toMatchObject({ data: [{ name: 'city' }], next_cursor: null });

    expect(
      (await call('PATCH', '/v1/attributes/city', { description: 'Where they live' })).body.description,
    ).toBe('Where they live');
    expect((await call('DELETE', '/v1/attributes/city')).status).toBe(204);
    expect((await call('GET', '/v1/attributes/city')).body.code).toBe('ATTRIBUTE_NOT_FOUND');
  });

  it('refuses a definition or type change that existing values contradict', async () => {
    await call('PUT', '/v1/contacts', { email: 'typed@example.com', attributes: { level: 'gold', rank: 3 } });
    const refused = await call('POST', '/v1/attributes', { name: 'level', type: 'number' });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('ATTRIBUTE_IN_USE');
    expect(refused.body.detail).toContain('1 contacts');
    expect((await call('POST', '/v1/attributes', { name: 'rank', type: 'number' })).status).toBe(201);
    expect((await call('PATCH', '/v1/attributes/rank', { type: 'boolean' })).body.code).toBe(
      'ATTRIBUTE_IN_USE',
    );
  });

  it('checks values of defined attributes on every write and converts dates', async () => {
    const bad = await call('PUT', '/v1/contacts', {
      email: 'typed@example.com',
      attributes: { rank: 'high' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatchObject({ path: '/attributes/rank' });
    const ok = await call('PUT', '/v1/contacts', {
      email: 'typed@example.com',
      attributes: { rank: 4, birthday: '1990-05-17', undefined_one: { nested: true } },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.attributes).toMatchObject({
      rank: 4,
      birthday: '1990-05-17',
      undefined_one: { nested: true },
    });
  });
});
