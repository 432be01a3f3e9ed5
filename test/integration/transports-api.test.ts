import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let dataDir: string;
let smtp: SMTPServer;
let smtpPort: number;
const received: { to: string[]; data: string }[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'herald-transports-'));
  t = await createTestApp({ HERALD_DATA_DIR: dataDir });
  smtp = new SMTPServer({
    authMethods: ['PLAIN'],
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    onAuth: (auth, _s, cb) =>
      auth.password === 'hunter2-secret' ? cb(null, { user: auth.username }) : cb(new Error('bad password')),
    onRcptTo: (address, _s, cb) =>
      address.address.startsWith('gone')
        ? cb(Object.assign(new Error('No such user'), { responseCode: 550 }))
        : cb(),
    onData(stream, session, cb) {
      let data = '';
      stream.on('data', (c: Buffer) => {
        data += c.toString();
      });
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), data });
        cb(null, 'Ok: queued as T1' as unknown as undefined);
      });
    },
    logger: false,
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  smtpPort = (smtp.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await t?.close();
  await new Promise((resolve) => smtp.close(() => resolve(undefined)));
  await rm(dataDir, { recursive: true, force: true });
});

const smtpBody = () => ({
  name: 'Local relay',
  type: 'smtp',
  settings: { host: '127.0.0.1', port: smtpPort, tls: 'none', user: 'herald' },
  secrets: { password: 'hunter2-secret' },
  rate_limit: { per_second: 10, per_hour: 1000 },
  max_concurrency: 2,
});

describe('transports API', () => {
  it('creates an smtp transport, never returns its password and stores it encrypted', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/transports',
      headers: t.auth(),
      payload: smtpBody(),
    });
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({
      name: 'Local relay',
      type: 'smtp',
      secrets_set: ['password'],
      rate_limit: { per_second: 10, per_hour: 1000, per_day: null },
      max_concurrency: 2,
      is_default: true,
    });
    expect(res.body).not.toContain('hunter2');
    const got = await t.app.inject({ method: 'GET', url: `/v1/transports/${body.id}`, headers: t.auth() });
    expect(got.body).not.toContain('hunter2');
    const list = await t.app.inject({ method: 'GET', url: '/v1/transports', headers: t.auth() });
    expect(list.json().data.map((x: { id: string }) => x.id)).toEqual([body.id]);
    expect(list.body).not.toContain('hunter2');
    const stored = await t.container.database.pool.query(
      'SELECT secrets, settings::text AS settings FROM transports WHERE id = $1',
      [body.id],
    );
    expect(stored.rows[0].secrets).toMatch(/^hdk1\./);
    expect(stored.rows[0].secrets).not.toContain('hunter2');
    expect(stored.rows[0].settings).not.toContain('hunter2');
  });

  it('sends a test message through the transport and classifies a refused recipient', async () => {
    const [transport] = (
      await t.app.inject({ method: 'GET', url: '/v1/transports', headers: t.auth() })
    ).json().data;
    const ok = await t.app.inject({
      method: 'POST',
      url: `/v1/transports/${transport.id}/test`,
      headers: t.auth(),
      payload: { to: 'ann@example.com', from: 'news@shop.example' },
    });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ delivered: true, provider_message_id: 'T1' });
    expect(received.at(-1)?.to).toEqual(['ann@example.com']);
    expect(received.at(-1)?.data).toContain(`Message-ID: ${ok.json().message_id}`);

    const refused = await t.app.inject({
      method: 'POST',
      url: `/v1/transports/${transport.id}/test`,
      headers: t.auth(),
      payload: { to: 'gone@example.com', from: 'news@shop.example' },
    });
    expect(refused.json()).toMatchObject({ delivered: false, error: { kind: 'permanent', code: '550' } });
  });

  it('rebuilds the live transport when its settings change', async () => {
    const [transport] = (
      await t.app.inject({ method: 'GET', url: '/v1/transports', headers: t.auth() })
    ).json().data;
    const before = await t.container.transports.transportFor(t.workspaceId);
    expect(before.id).toBe(transport.id);
    expect(await t.container.transports.transportFor(t.workspaceId)).toBe(before);
    t.clock.advance(1000);
    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/v1/transports/${transport.id}`,
      headers: t.auth(),
      payload: { secrets: { password: 'wrong' } },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    const after = await t.container.transports.transportFor(t.workspaceId);
    expect(after).not.toBe(before);
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/transports/${transport.id}/test`,
      headers: t.auth(),
      payload: { to: 'ann@example.com', from: 'news@shop.example' },
    });
    expect(res.json()).toMatchObject({ delivered: false, error: { kind: 'connection' } });
  });

  it('refuses invalid settings per type with clear errors', async () => {
    const cases: [object, string][] = [
      [{ name: 'a', type: 'smtp', settings: {} }, '/settings/host'],
      [{ name: 'b', type: 'smtp', settings: { host: 'mx.example', tls: 'maybe' } }, '/settings/tls'],
      [{ name: 'c', type: 'smtp', settings: { host: 'mx.example', hots: 'x' } }, '/settings/hots'],
      [
        { name: 'd', type: 'ses', settings: { region: 'eu-west-1', access_key_id: 'AKIDEXAMPLE12345' } },
        '/secrets/secret_access_key',
      ],
      [
        {
          name: 'e',
          type: 'sendgrid',
          settings: { base_url: 'http://api.example.com' },
          secrets: { api_key: 'k' },
        },
        '/settings/base_url',
      ],
      [{ name: 'f', type: 'file', settings: { subfolder: '../etc' } }, '/settings/subfolder'],
    ];
    for (const [payload, path] of cases) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/transports', headers: t.auth(), payload });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().code).toBe('TRANSPORT_INVALID');
      expect(res.json().errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    const dup = await t.app.inject({
      method: 'POST',
      url: '/v1/transports',
      headers: t.auth(),
      payload: { ...smtpBody(), name: 'LOCAL RELAY' },
    });
    expect([dup.statusCode, dup.json().code]).toEqual([409, 'TRANSPORT_EXISTS']);
    const unknownType = await t.app.inject({
      method: 'POST',
      url: '/v1/transports',
      headers: t.auth(),
      payload: { name: 'x', type: 'pigeon' },
    });
    expect(unknownType.statusCode).toBe(400);
  });

  it('keeps workspaces apart and falls back to the file transport', async () => {
    const other = await t.createWorkspace('Other shop');
    const list = await t.app.inject({
      method: 'GET',
      url: '/v1/transports',
      headers: t.auth(other.adminKey),
    });
    expect(list.json().data).toEqual([]);
    const fallback = await t.container.transports.transportFor(other.workspaceId);
    expect([fallback.id, fallback.type]).toEqual([null, 'file']);
    await fallback.transport.send({
      raw: Buffer.from('From: a@b.example\r\nSubject: x\r\n\r\nhi\r\n'),
      envelope: { from: 'a@b.example', to: ['c@d.example'] },
      messageId: '<fallback-1@b.example>',
    });
    expect(await readdir(join(dataDir, 'outbox'))).toContain('fallback-1@b.example.eml');
    expect(await readFile(join(dataDir, 'outbox', 'fallback-1@b.example.eml'), 'utf8')).toContain('hi');
  });

  it('switches the default and deletes', async () => {
    const file = await t.app.inject({
      method: 'POST',
      url: '/v1/transports',
      headers: t.auth(),
      payload: { name: 'Outbox', type: 'file', settings: { subfolder: 'main' }, is_default: true },
    });
    expect(file.json().is_default).toBe(true);
    const all = (await t.app.inject({ method: 'GET', url: '/v1/transports', headers: t.auth() })).json().data;
    expect(all.filter((x: { is_default: boolean }) => x.is_default).map((x: { id: string }) => x.id)).toEqual(
      [file.json().id],
    );
    expect((await t.container.transports.transportFor(t.workspaceId)).id).toBe(file.json().id);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/v1/transports/${file.json().id}`,
      headers: t.auth(),
    });
    expect(del.statusCode).toBe(204);
    const again = await t.app.inject({
      method: 'GET',
      url: `/v1/transports/${file.json().id}`,
      headers: t.auth(),
    });
    expect([again.statusCode, again.json().code]).toEqual([404, 'TRANSPORT_NOT_FOUND']);
  });
});
