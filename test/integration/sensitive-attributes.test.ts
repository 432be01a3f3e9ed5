import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateDataKeys } from '../../src/main/commands/keys.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

async function call(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  payload?: object,
  auth = t.auth(),
) {
  const res = await t.app.inject({ method, url, headers: auth, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined, text: res.body };
}

/** The contact row as stored, as text: what someone reading the database sees. */
async function storedRow(workspaceId: string, email: string): Promise<string> {
  const { rows } = await sql<{
    text: string;
  }>`SELECT row_to_json(c)::text AS text FROM contacts c WHERE workspace_id = ${workspaceId} AND email = ${email}`.execute(
    t.container.db,
  );
  const [row] = rows;
  if (!row) throw new Error(`no contact ${email}`);
  return row.text;
}

async function storedAttributes(workspaceId: string, email: string): Promise<Record<string, unknown>> {
  const row = await t.container.db
    .selectFrom('contacts')
    .select('attributes')
    .where('workspace_id', '=', workspaceId)
    .where('email', '=', email)
    .executeTakeFirstOrThrow();
  return row.attributes;
}

describe('sensitive attribute definitions', () => {
  it('defines a sensitive string attribute and shows the flag', async () => {
    const created = await call('POST', '/v1/attributes', {
      name: 'passport_no',
      type: 'string',
      sensitive: true,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'passport_no', type: 'string', sensitive: true });
    expect((await call('GET', '/v1/attributes/passport_no')).body.sensitive).toBe(true);
    const plain = await call('POST', '/v1/attributes', { name: 'nickname', type: 'string' });
    expect(plain.body.sensitive).toBe(false);
  });

  it('refuses sensitive attributes of other types than string, naming the type', async () => {
    for (const type of ['number', 'boolean', 'date', 'json']) {
      const refused = await call('POST', '/v1/attributes', { name: `secret_${type}`, type, sensitive: true });
      expect(refused.status).toBe(400);
      expect(refused.body.detail).toContain(
        `only string attributes are stored encrypted (this one is ${type})`,
      );
      expect((await call('GET', `/v1/attributes/secret_${type}`)).status).toBe(404);
    }
    await call('POST', '/v1/attributes', { name: 'tax_id', type: 'string', sensitive: true });
    const retype = await call('PATCH', '/v1/attributes/tax_id', { type: 'number' });
    expect(retype.status).toBe(400);
    expect((await call('GET', '/v1/attributes/tax_id')).body).toMatchObject({
      type: 'string',
      sensitive: true,
    });
  });

  it('refuses to change the flag while contacts hold values, naming the count', async () => {
    await call('PUT', '/v1/contacts', { email: 'a@flag.example', attributes: { shoe_size: '42' } });
    await call('PUT', '/v1/contacts', { email: 'b@flag.example', attributes: { shoe_size: '44' } });
    const refusedCreate = await call('POST', '/v1/attributes', {
      name: 'shoe_size',
      type: 'string',
      sensitive: true,
    });
    expect(refusedCreate.status).toBe(409);
    expect(refusedCreate.body.code).toBe('ATTRIBUTE_IN_USE');
    expect(refusedCreate.body.detail).toContain('2 contacts hold a value of "shoe_size"');
    expect((await call('GET', '/v1/attributes/shoe_size')).status).toBe(404);

    expect((await call('POST', '/v1/attributes', { name: 'shoe_size', type: 'string' })).status).toBe(201);
    const refusedPatch = await call('PATCH', '/v1/attributes/shoe_size', { sensitive: true });
    expect(refusedPatch.status).toBe(409);
    expect(refusedPatch.body.detail).toContain('2 contacts hold a value');
    expect((await call('GET', '/v1/attributes/shoe_size')).body.sensitive).toBe(false);

    // Without values the flag changes both ways.
    await call('POST', '/v1/attributes', { name: 'hobby', type: 'string' });
    expect((await call('PATCH', '/v1/attributes/hobby', { sensitive: true })).body.sensitive).toBe(true);
    expect((await call('PATCH', '/v1/attributes/hobby', { sensitive: false })).body.sensitive).toBe(false);

    // A sensitive attribute with values can neither be made plain nor removed.
    await call('POST', '/v1/attributes', { name: 'pin', type: 'string', sensitive: true });
    await call('PUT', '/v1/contacts', { email: 'c@flag.example', attributes: { pin: '1234' } });
    const unflag = await call('PATCH', '/v1/attributes/pin', { sensitive: false });
    expect(unflag.status).toBe(409);
    expect(unflag.body.detail).toContain('1 contacts hold a value of "pin"');
    expect((await call('DELETE', '/v1/attributes/pin')).status).toBe(409);
    expect((await call('GET', '/v1/attributes/pin')).body.sensitive).toBe(true);
  });
});

describe('sensitive attribute values', () => {
  it('stores values encrypted and the API shows them in plain text', async () => {
    const ws = await t.createWorkspace('Stored');
    const auth = t.auth(ws.adminKey);
    await call('POST', '/v1/attributes', { name: 'ssn', type: 'string', sensitive: true }, auth);
    const created = await call(
      'POST',
      '/v1/contacts',
      { email: 'enc@example.com', attributes: { ssn: 'SSN-111-22-3333', city: 'Lyon' } },
      auth,
    );
    expect(created.status).toBe(201);
    expect(created.body.attributes).toEqual({ ssn: 'SSN-111-22-3333', city: 'Lyon' });

    const row = await storedRow(ws.workspaceId, 'enc@example.com');
    expect(row).not.toContain('SSN-111-22-3333');
    expect(row).toContain('Lyon');
    const stored = await storedAttributes(ws.workspaceId, 'enc@example.com');
    expect(String(stored.ssn)).toMatch(/^hdk1\./);

    const id = created.body.id as string;
    expect((await call('GET', `/v1/contacts/${id}`, undefined, auth)).body.attributes.ssn).toBe(
      'SSN-111-22-3333',
    );
    const list = await call('GET', '/v1/contacts', undefined, auth);
    expect(list.body.data[0].attributes.ssn).toBe('SSN-111-22-3333');

    const patched = await call('PATCH', `/v1/contacts/${id}`, { attributes: { ssn: 'SSN-999' } }, auth);
    expect(patched.body.attributes.ssn).toBe('SSN-999');
    const upserted = await call(
      'PUT',
      '/v1/contacts',
      { email: 'enc@example.com', attributes: { ssn: 'SSN-888', city: 'Paris' } },
      auth,
    );
    expect(upserted.body.attributes).toEqual({ ssn: 'SSN-888', city: 'Paris' });
    const after = await storedRow(ws.workspaceId, 'enc@example.com');
    expect(after).not.toContain('SSN-888');
    expect(after).not.toContain('SSN-999');
    expect(String((await storedAttributes(ws.workspaceId, 'enc@example.com')).ssn)).toMatch(/^hdk1\./);

    // Even an empty value is stored encrypted (its presence is all that shows).
    const empty = await call('PATCH', `/v1/contacts/${id}`, { attributes: { ssn: '' } }, auth);
    expect(empty.body.attributes.ssn).toBe('');
    expect(String((await storedAttributes(ws.workspaceId, 'enc@example.com')).ssn)).toMatch(/^hdk1\./);
    // Removing the value works as for any attribute.
    const removed = await call('PATCH', `/v1/contacts/${id}`, { attributes: { ssn: null } }, auth);
    expect(removed.body.attributes).toEqual({ city: 'Paris' });
  });

  it('refuses a value of the wrong type and stores nothing', async () => {
    const ws = await t.createWorkspace('Typed');
    const auth = t.auth(ws.adminKey);
    await call('POST', '/v1/attributes', { name: 'ssn', type: 'string', sensitive: true }, auth);
    const refused = await call(
      'POST',
      '/v1/contacts',
      { email: 'n@example.com', attributes: { ssn: 12345 } },
      auth,
    );
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toContain('attribute "ssn" must be a string');
    expect((await call('GET', '/v1/contacts', undefined, auth)).body.data).toEqual([]);
  });

  it('does not decrypt a value under another attribute name or in another workspace', async () => {
    const ws = await t.createWorkspace('Moved');
    const auth = t.auth(ws.adminKey);
    await call('POST', '/v1/attributes', { name: 'ssn', type: 'string', sensitive: true }, auth);
    await call('POST', '/v1/attributes', { name: 'passport', type: 'string', sensitive: true }, auth);
    await call('POST', '/v1/contacts', { email: 'm@example.com', attributes: { ssn: 'SECRET-1' } }, auth);
    const stored = await storedAttributes(ws.workspaceId, 'm@example.com');
    // Someone with database access copies the ciphertext to another attribute: it does not open there.
    await t.container.db
      .updateTable('contacts')
      .set({ attributes: JSON.stringify({ ssn: stored.ssn, passport: stored.ssn }) })
      .where('workspace_id', '=', ws.workspaceId)
      .execute();
    const list = await call('GET', '/v1/contacts', undefined, auth);
    expect(list.body.data[0].attributes).toEqual({ ssn: 'SECRET-1' });
  });

  it('refuses to filter contacts by a sensitive value', async () => {
    const refused = await call('GET', '/v1/contacts?attribute=passport_no:X');
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toContain('"passport_no" is sensitive');
  });

  it('refuses segment conditions that compare a sensitive value, and accepts exists', async () => {
    for (const condition of [
      { attribute: 'passport_no', operator: 'equals', value: 'X' },
      { attribute: 'passport_no', operator: 'starts_with', value: 'X' },
      {
        any: [
          { attribute: 'nickname', operator: 'exists' },
          { attribute: 'passport_no', operator: 'in', value: ['X'] },
        ],
      },
    ]) {
      const refused = await call('POST', '/v1/segments', { name: 'By passport', definition: condition });
      expect(refused.status, JSON.stringify(refused.body)).toBe(400);
      expect(refused.body.detail).toContain('"passport_no" is sensitive');
    }
    expect((await call('GET', '/v1/segments')).body.data).toEqual([]);
    const holders = await call('POST', '/v1/segments', {
      name: 'Has a passport',
      definition: { attribute: 'passport_no', operator: 'exists' },
    });
    expect(holders.status, JSON.stringify(holders.body)).toBe(201);
    await call('PUT', '/v1/contacts', { email: 'holder@seg.example', attributes: { passport_no: 'P-1' } });
    const members = await call('GET', `/v1/segments/${holders.body.id}/contacts`);
    expect(members.status).toBe(200);
    expect(members.body.data.map((c: { email: string }) => c.email)).toContain('holder@seg.example');
  });
});

describe('herald keys rotate-data with sensitive attributes', () => {
  it('re-encrypts every sensitive value with the new key, page by page, and they still read back', async () => {
    const ws = await t.createWorkspace('Rotated');
    const auth = t.auth(ws.adminKey);
    await call('POST', '/v1/attributes', { name: 'iban', type: 'string', sensitive: true }, auth);
    await call('POST', '/v1/attributes', { name: 'ssn', type: 'string', sensitive: true }, auth);
    const people = [
      { email: 'r1@example.com', attributes: { iban: 'IBAN-1', ssn: 'SSN-1' } },
      { email: 'r2@example.com', attributes: { ssn: 'SSN-2', city: 'Rome' } },
      { email: 'r3@example.com', attributes: { iban: 'IBAN-3', ssn: 'SSN-3' } },
      { email: 'r4@example.com', attributes: { city: 'Oslo' } },
    ];
    for (const person of people) expect((await call('PUT', '/v1/contacts', person, auth)).status).toBe(201);
    const before = await storedAttributes(ws.workspaceId, 'r1@example.com');
    const oldKeyId = String(before.iban).split('.')[1];

    const lines: string[] = [];
    // Batches of 2 split r1's and r3's values across pages.
    const { ok, reports } = await rotateDataKeys(
      t.container,
      { workspace: ws.workspaceId, batchSize: 2 },
      (line) => lines.push(line),
    );
    expect(ok).toBe(true);
    const [report] = reports;
    expect(report?.keyId).not.toBe(oldKeyId);
    expect(report?.retired).toEqual([oldKeyId]);
    expect(report?.sources.find((s) => s.source === 'contacts.attributes (sensitive)')).toEqual({
      source: 'contacts.attributes (sensitive)',
      reencrypted: 5,
      changed: 0,
      failed: [],
    });
    expect(lines.join('\n')).not.toContain('SSN-');
    for (const person of people) {
      const stored = await storedAttributes(ws.workspaceId, person.email);
      for (const name of ['iban', 'ssn'])
        if (name in person.attributes)
          expect(String(stored[name])).toMatch(new RegExp(`^hdk1\\.${report?.keyId}\\.`));
      expect(stored.city).toBe((person.attributes as { city?: string }).city);
    }
    t.clock.advance(61_000);
    const list = await call('GET', '/v1/contacts?limit=10', undefined, auth);
    const shown = Object.fromEntries(
      list.body.data.map((c: { email: string; attributes: unknown }) => [c.email, c.attributes]),
    );
    for (const person of people) expect(shown[person.email]).toEqual(person.attributes);
  });

  it('leaves a value that changed meanwhile alone', async () => {
    const ws = await t.createWorkspace('Raced');
    const auth = t.auth(ws.adminKey);
    await call('POST', '/v1/attributes', { name: 'ssn', type: 'string', sensitive: true }, auth);
    await call('PUT', '/v1/contacts', { email: 'race@example.com', attributes: { ssn: 'SSN-OLD' } }, auth);
    const source = t.container.encryptedValueSources.find(
      (s) => s.name === 'contacts.attributes (sensitive)',
    );
    if (!source) throw new Error('no contacts source');
    const [row] = await source.page(ws.workspaceId, null, 10);
    if (!row) throw new Error('no encrypted value found');
    expect(row.purpose).toBe('attribute:ssn');
    await call('PUT', '/v1/contacts', { email: 'race@example.com', attributes: { ssn: 'SSN-NEW' } }, auth);
    expect(await source.replace(ws.workspaceId, row.id, row.value, 'hdk1.bogus')).toBe(false);
    const list = await call('GET', '/v1/contacts', undefined, auth);
    expect(list.body.data[0].attributes.ssn).toBe('SSN-NEW');
  });
});
