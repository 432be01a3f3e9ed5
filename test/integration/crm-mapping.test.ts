import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseSnapshot } from '../helpers/db-snapshot.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;

async function call(method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, key?: string) {
  const res = await t.app.inject({
    method,
    url,
    headers: t.auth(key),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function contact(email: string) {
  const res = await call('GET', `/v1/contacts?email=${encodeURIComponent(email)}`);
  return res.body.data[0];
}

const MAPPING = {
  FirstName: { attribute: 'first_name', type: 'string' },
  AnnualRevenue: { attribute: 'revenue', type: 'number' },
  IsCustomer: { attribute: 'customer', type: 'boolean' },
  SignedUp: { attribute: 'signed_up', type: 'date' },
};

beforeAll(async () => {
  t = await createTestApp();
  await call('POST', '/v1/attributes', { name: 'revenue', type: 'number' });
});
afterAll(async () => {
  await t?.close();
});

describe('CRM field mapping', () => {
  it('is empty until set, and upserts wait for one', async () => {
    expect((await call('GET', '/v1/connectors/crm/mapping')).body).toEqual({ fields: {}, updated_at: null });
    const res = await call('POST', '/v1/connectors/crm/contacts', { contacts: [{ email: 'a@example.com' }] });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('CONNECTOR_NOT_READY');
  });

  it('refuses a bad mapping with every problem named, changing nothing', async () => {
    const before = await databaseSnapshot(t.container.database.pool);
    const res = await call('PUT', '/v1/connectors/crm/mapping', {
      fields: {
        AnnualRevenue: { attribute: 'revenue', type: 'string' },
        'Bad Name': { attribute: '1st name', type: 'string' },
        Twin: { attribute: 'first_name', type: 'string' },
        Twin2: { attribute: 'first_name', type: 'string' },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_MAPPING');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([
      '/fields/AnnualRevenue',
      '/fields/Bad Name',
      '/fields/Twin2',
    ]);
    expect(res.body.detail).toContain('attribute "revenue" is defined as number, not string');
    const badType = await call('PUT', '/v1/connectors/crm/mapping', {
      fields: { X: { attribute: 'x', type: 'color' } },
    });
    expect(badType.status).toBe(400);
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });

  it('stores a good mapping', async () => {
    const res = await call('PUT', '/v1/connectors/crm/mapping', { fields: MAPPING });
    expect(res.status).toBe(200);
    expect(res.body.fields).toEqual(MAPPING);
    expect((await call('GET', '/v1/connectors/crm/mapping')).body.fields).toEqual(MAPPING);
  });
});

describe('CRM contact upsert', () => {
  it('applies good items and reports bad ones by index', async () => {
    const res = await call('POST', '/v1/connectors/crm/contacts', {
      contacts: [
        {
          external_id: 'crm-1',
          email: 'ann@example.com',
          fields: { FirstName: 'Ann', AnnualRevenue: '1200.5', IsCustomer: 'true', SignedUp: '2025-03-01' },
        },
        { external_id: 'crm-2', fields: { FirstName: 'Nobody' } },
        { email: 'bob@example.com', fields: { Shoe: 42 } },
        { email: 'carl@example.com', fields: { AnnualRevenue: 'lots' } },
        { email: 'not an email', fields: {} },
        { fields: { FirstName: 'Anonymous' } },
        { external_id: 'crm-3', email: 'dora@example.com', fields: { FirstName: 7 } },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ created: 2, updated: 0, failed: 5 });
    const byIndex = res.body.results.map((r: { status: string; code?: string }) => r.code ?? r.status);
    expect(byIndex).toEqual([
      'created',
      'CONTACT_NOT_FOUND',
      'INVALID_ATTRIBUTE',
      'INVALID_ATTRIBUTE',
      'INVALID_EMAIL',
      'VALIDATION_FAILED',
      'created',
    ]);
    expect(res.body.results[2].reason).toContain('field "Shoe" is not in the mapping');
    expect(res.body.results[3].reason).toContain('must be a number');

    const ann = await contact('ann@example.com');
    expect(ann).toMatchObject({
      external_id: 'crm-1',
      attributes: { first_name: 'Ann', revenue: 1200.5, customer: true, signed_up: '2025-03-01' },
    });
    expect((await contact('dora@example.com')).attributes).toEqual({ first_name: '7' });
    expect(await contact('bob@example.com')).toBeUndefined();
    expect(await contact('carl@example.com')).toBeUndefined();
  });

  it('updates by external_id, also changing the email, and removes attributes given null', async () => {
    const res = await call('POST', '/v1/connectors/crm/contacts', {
      contacts: [
        {
          external_id: 'crm-1',
          email: 'ann.new@example.com',
          fields: { FirstName: 'Anne', IsCustomer: null },
        },
      ],
    });
    expect(res.body.results).toEqual([expect.objectContaining({ index: 0, status: 'updated' })]);
    const ann = await contact('ann.new@example.com');
    expect(ann.external_id).toBe('crm-1');
    expect(ann.attributes).toEqual({ first_name: 'Anne', revenue: 1200.5, signed_up: '2025-03-01' });
    expect(await contact('ann@example.com')).toBeUndefined();
  });

  it("does not reach another workspace's contacts", async () => {
    const other = await t.createWorkspace();
    await call('PUT', '/v1/connectors/crm/mapping', { fields: MAPPING }, other.adminKey);
    const res = await call(
      'POST',
      '/v1/connectors/crm/contacts',
      { contacts: [{ external_id: 'crm-1', fields: { FirstName: 'Intruder' } }] },
      other.adminKey,
    );
    expect(res.body.results[0].code).toBe('CONTACT_NOT_FOUND');
    expect((await contact('ann.new@example.com')).attributes.first_name).toBe('Anne');
  });

  it('refuses a malformed body as a whole, changing nothing', async () => {
    const before = await databaseSnapshot(t.container.database.pool);
    for (const payload of [{ contacts: [] }, { contacts: [{ email: 'x@example.com', extra: 1 }] }, {}]) {
      const res = await call('POST', '/v1/connectors/crm/contacts', payload);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    expect(await databaseSnapshot(t.container.database.pool)).toBe(before);
  });
});
