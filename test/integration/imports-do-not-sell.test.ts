import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The CCPA do_not_sell flag in CSV imports and exports: accepted as
 * true/false/1/0/yes/no in any case, a bad value reported by line while the
 * good rows import, every change a consent record (action do_not_sell, source
 * import) like the API writes, and the export's column imported back as is.
 */
let t: TestApp;
let copy: { workspaceId: string; adminKey: string };

async function call(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object, key?: string) {
  const res = await t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function importCsv(csv: string, key?: string) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/imports',
    headers: { ...t.auth(key), 'content-type': 'text/csv' },
    payload: csv,
  });
  expect(res.statusCode, res.body).toBe(202);
  await t.container.runner.drain();
  return (await call('GET', `/v1/imports/${res.json().id}`, undefined, key)).body;
}

async function contact(email: string, key?: string) {
  return (await call('GET', `/v1/contacts?email=${encodeURIComponent(email)}`, undefined, key)).body.data[0];
}

/** The contact's do_not_sell consent records, oldest first. */
async function doNotSellRecords(contactId: string, key?: string) {
  const records = (await call('GET', `/v1/contacts/${contactId}/consent`, undefined, key)).body.data as {
    action: string;
    source: string;
    source_id: string | null;
    detail: unknown;
  }[];
  return records
    .filter((r) => r.action === 'do_not_sell')
    .map((r) => ({ source: r.source, source_id: r.source_id, detail: r.detail }));
}

async function exportCsv(key?: string): Promise<Record<string, string>[]> {
  const res = await t.app.inject({
    method: 'GET',
    url: '/v1/exports/contacts?format=csv&tag=dns',
    headers: t.auth(key),
  });
  expect(res.statusCode).toBe(200);
  return parse(res.body, { columns: true }) as Record<string, string>[];
}

beforeAll(async () => {
  t = await createTestApp();
  copy = await t.createWorkspace('Copy');
});
afterAll(async () => {
  await t?.close();
});

describe('do_not_sell in CSV imports', () => {
  let firstImport: string;

  it('imports the flag in any spelling, reports a bad value by line, and records each one set', async () => {
    const report = await importCsv(
      [
        'email,Do_Not_Sell,tags',
        'dns-yes@example.com,YES,dns',
        'dns-one@example.com,1,dns',
        'dns-false@example.com,False,dns',
        'dns-bad@example.com,maybe,dns',
        'dns-zero@example.com,0,dns',
        'dns-empty@example.com,,dns',
      ].join('\n'),
    );
    firstImport = report.id;
    expect(report.mapping).toMatchObject({ Do_Not_Sell: 'do_not_sell' });
    expect(report).toMatchObject({ status: 'completed', created_count: 5, failed_count: 1, rows_total: 6 });
    expect(report.errors).toEqual([
      { line: 5, reason: 'invalid do_not_sell "maybe": use true, false, 1, 0, yes or no' },
    ]);
    expect(await contact('dns-bad@example.com')).toBeUndefined();
    for (const email of ['dns-yes@example.com', 'dns-one@example.com']) {
      const found = await contact(email);
      expect(found.do_not_sell, email).toBe(true);
      expect(await doNotSellRecords(found.id)).toEqual([
        { source: 'import', source_id: report.id, detail: { do_not_sell: true } },
      ]);
    }
    // A new contact that may be shared is the default: no record, as the API does.
    for (const email of ['dns-false@example.com', 'dns-zero@example.com', 'dns-empty@example.com']) {
      const found = await contact(email);
      expect(found.do_not_sell, email).toBe(false);
      expect(await doNotSellRecords(found.id)).toEqual([]);
    }
  });

  it('changes existing contacts, recording only real changes; an empty cell keeps the flag', async () => {
    const report = await importCsv(
      [
        'email,do_not_sell',
        'dns-yes@example.com,no',
        'dns-false@example.com,true',
        'dns-one@example.com,',
        'dns-zero@example.com,false',
      ].join('\n'),
    );
    expect(report).toMatchObject({ status: 'completed', updated_count: 4, failed_count: 0 });
    const yes = await contact('dns-yes@example.com');
    expect(yes.do_not_sell).toBe(false);
    expect(await doNotSellRecords(yes.id)).toEqual([
      { source: 'import', source_id: firstImport, detail: { do_not_sell: true } },
      { source: 'import', source_id: report.id, detail: { do_not_sell: false } },
    ]);
    const flagged = await contact('dns-false@example.com');
    expect(flagged.do_not_sell).toBe(true);
    expect(await doNotSellRecords(flagged.id)).toEqual([
      { source: 'import', source_id: report.id, detail: { do_not_sell: true } },
    ]);
    const kept = await contact('dns-one@example.com');
    expect(kept.do_not_sell).toBe(true);
    expect(await doNotSellRecords(kept.id)).toHaveLength(1);
    expect(await doNotSellRecords((await contact('dns-zero@example.com')).id)).toEqual([]);
  });

  it('ignores the column in unsubscribe mode, which reads only the email', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/imports?mode=unsubscribe',
      headers: { ...t.auth(), 'content-type': 'text/csv' },
      payload: 'email,do_not_sell\ndns-zero@example.com,maybe\n',
    });
    expect(res.statusCode, res.body).toBe(202);
    await t.container.runner.drain();
    const report = (await call('GET', `/v1/imports/${res.json().id}`)).body;
    expect(report).toMatchObject({ status: 'completed', failed_count: 0, updated_count: 1 });
    expect((await contact('dns-zero@example.com')).do_not_sell).toBe(false);
  });

  it('round-trips: the export writes the column and importing it elsewhere gives the same flags', async () => {
    const exported = await exportCsv();
    expect(Object.keys(exported[0] ?? {})).toContain('do_not_sell');
    const flags = Object.fromEntries(exported.map((row) => [row.email, row.do_not_sell]));
    expect(flags).toEqual({
      'dns-yes@example.com': 'false',
      'dns-one@example.com': 'true',
      'dns-false@example.com': 'true',
      'dns-zero@example.com': 'false',
      'dns-empty@example.com': 'false',
    });
    const file = await t.app.inject({
      method: 'GET',
      url: '/v1/exports/contacts?format=csv&tag=dns',
      headers: t.auth(),
    });
    const report = await importCsv(file.body, copy.adminKey);
    expect(report).toMatchObject({ status: 'completed', created_count: 5, failed_count: 0 });
    const copied = await exportCsv(copy.adminKey);
    expect(Object.fromEntries(copied.map((row) => [row.email, row.do_not_sell]))).toEqual(flags);
    const flaggedCopy = await contact('dns-one@example.com', copy.adminKey);
    expect(await doNotSellRecords(flaggedCopy.id, copy.adminKey)).toEqual([
      { source: 'import', source_id: report.id, detail: { do_not_sell: true } },
    ]);
    // Not an attribute: the column feeds the field.
    expect(flaggedCopy.attributes).toEqual({});
  });
});
