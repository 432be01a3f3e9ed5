import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

/** Every column but the read-only ones (id, created_at, updated_at), rows sorted by email. */
function comparable(csv: string): string[] {
  const [header = '', ...rows] = csv.trim().split('\n');
  const columns = header.split(',');
  const keep = columns
    .map((c, i) => (['id', 'created_at', 'updated_at'].includes(c) ? -1 : i))
    .filter((i) => i >= 0);
  const pick = (line: string) => {
    const cells = line.split(',');
    return keep.map((i) => cells[i]).join(',');
  };
  return [pick(header), ...rows.map(pick).sort()];
}

describe('export then import', () => {
  it('recreates the same contacts in another workspace, column for column', async () => {
    const contacts = [
      {
        email: 'ann@example.com',
        attributes: { city: 'Berlin', email: 'alt@example.org' },
        tags: ['a', 'b'],
      },
      { email: 'bo@example.com', external_id: 'crm-2', attributes: { city: 'Paris' }, locale: 'fr-FR' },
      { email: 'cy@example.com', status: 'unsubscribed', timezone: 'Europe/Lisbon' },
    ];
    for (const c of contacts) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/contacts', headers: t.auth(), payload: c });
      expect(res.statusCode).toBe(201);
    }
    const exported = await t.app.inject({
      method: 'GET',
      url: '/v1/exports/contacts?format=csv',
      headers: t.auth(),
    });
    expect(exported.body.split('\n')[0]).toContain('attributes.email');

    const other = await t.createWorkspace('Copy');
    const started = await t.app.inject({
      method: 'POST',
      url: '/v1/imports?mode=upsert',
      headers: { ...t.auth(other.adminKey), 'content-type': 'text/csv' },
      payload: exported.body,
    });
    expect(started.statusCode).toBe(202);
    await t.container.runner.drain();
    const report = await t.app.inject({
      method: 'GET',
      url: `/v1/imports/${started.json().id}`,
      headers: t.auth(other.adminKey),
    });
    expect(report.json()).toMatchObject({ status: 'completed', created_count: 3, failed_count: 0 });

    const again = await t.app.inject({
      method: 'GET',
      url: '/v1/exports/contacts?format=csv',
      headers: t.auth(other.adminKey),
    });
    expect(comparable(again.body)).toEqual(comparable(exported.body));
  });
});
