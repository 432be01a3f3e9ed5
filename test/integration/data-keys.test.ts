import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptSecret, parseSecretKeys, type SecretKeyring } from '../../src/lib/secret-keys.js';
import { rewrapDataKeys, rotateDataKeys } from '../../src/main/commands/keys.js';
import { userSettings } from '../../src/main/container.js';
import {
  createDataKeyService,
  DataKeyError,
  type DataKeyService,
} from '../../src/modules/data-keys/index.js';
import { createUserService } from '../../src/modules/users/index.js';
import { base32Decode, totpCode, totpStep } from '../../src/modules/users/totp.js';
import { createTestApp, TEST_SECRET_KEY, type TestApp } from '../helpers/test-app.js';
import { TEST_PASSWORD, userWithRole } from '../helpers/user-session.js';

let t: TestApp;
let other: { workspaceId: string; adminKey: string };
const legacyKeyring = parseSecretKeys(TEST_SECRET_KEY);

beforeAll(async () => {
  t = await createTestApp();
  other = await t.createWorkspace('Other');
});
afterAll(async () => {
  await t?.close();
});

/** The users service as a process configured with `keyring` runs it. */
function usersWith(keyring: SecretKeyring) {
  return createUserService({
    db: t.container.db,
    clock: t.clock,
    keyring,
    workspaces: t.container.workspaces,
    settings: userSettings(t.container.config),
  });
}

/** What `herald keys rewrap` uses, as a process configured with `keyring` has it. */
function rewrapDeps(dataKeys: DataKeyService, keyring: SecretKeyring) {
  return {
    dataKeys,
    users: usersWith(keyring),
    workspaces: t.container.workspaces,
    encryptedValueSources: t.container.encryptedValueSources,
  };
}

async function dataKeyRows(workspaceId: string) {
  return t.container.db
    .selectFrom('data_keys')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

async function createTransport(
  auth: { authorization: string },
  name: string,
  password: string,
): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/transports',
    headers: auth,
    payload: {
      name,
      type: 'smtp',
      settings: { host: '127.0.0.1', port: 2525, tls: 'none', user: 'herald' },
      secrets: { password },
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

async function createDomain(auth: { authorization: string }, domain: string): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/sending-domains',
    headers: auth,
    payload: { domain, algorithm: 'ed25519' },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

async function storedSecrets(id: string): Promise<string> {
  const row = await t.container.db
    .selectFrom('transports')
    .select('secrets')
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return row.secrets as string;
}

async function storedKey(id: string): Promise<string> {
  const row = await t.container.db
    .selectFrom('sending_domains')
    .select('private_key_encrypted')
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return row.private_key_encrypted;
}

describe('workspace data keys', () => {
  it('creates one active key lazily, stores it only wrapped, and reuses it', async () => {
    const workspace = await t.container.workspaces.create('Lazy');
    expect(await dataKeyRows(workspace.id)).toHaveLength(0);
    const { cipher } = t.container.dataKeys;
    const first = await cipher.encrypt(workspace.id, 'test:field', 'hello');
    const second = await cipher.encrypt(workspace.id, 'test:field', 'hello');
    const rows = await dataKeyRows(workspace.id);
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row).toMatchObject({ active: true, retired_at: null, master_key_id: legacyKeyring.current.id });
    expect(first.startsWith(`hdk1.${row?.id}.`)).toBe(true);
    expect(second.startsWith(`hdk1.${row?.id}.`)).toBe(true);
    expect(first).not.toBe(second);
    // The wrapped key is 32 bytes + tag, not the raw key.
    expect(row?.wrapped_key).toMatch(/^[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{64}$/);
    expect(await cipher.decrypt(workspace.id, 'test:field', first)).toBe('hello');
  });

  it('creates exactly one active key when many first writes race', async () => {
    const workspace = await t.container.workspaces.create('Race');
    // Separate services: separate caches, as separate processes would have.
    const services = Array.from({ length: 4 }, () =>
      createDataKeyService({ db: t.container.db, clock: t.clock, keyring: t.container.keyring }),
    );
    const values = await Promise.all(services.map((s) => s.cipher.encrypt(workspace.id, 'p', 'x')));
    const rows = await dataKeyRows(workspace.id);
    expect(rows).toHaveLength(1);
    for (const value of values) expect(value.startsWith(`hdk1.${rows[0]?.id}.`)).toBe(true);
  });

  it('refuses a value in another workspace, another field, or naming an unknown key', async () => {
    const { cipher } = t.container.dataKeys;
    const value = await cipher.encrypt(t.workspaceId, 'transports:a', 'secret');
    await expect(cipher.decrypt(other.workspaceId, 'transports:a', value)).rejects.toThrow(DataKeyError);
    await expect(cipher.decrypt(t.workspaceId, 'transports:b', value)).rejects.toThrow(
      /failed authentication/,
    );
    const unknown = value.replace(/^hdk1\.[^.]+\./, 'hdk1.dkNoSuchKey0001.');
    await expect(cipher.decrypt(t.workspaceId, 'transports:a', unknown)).rejects.toThrow(
      /data key dkNoSuchKey0001, which this workspace does not have/,
    );
  });

  it('still decrypts values in the old master-key format', async () => {
    const legacy = encryptSecret(legacyKeyring, 'old secret', 'transports:legacy');
    expect(await t.container.dataKeys.cipher.decrypt(t.workspaceId, 'transports:legacy', legacy)).toBe(
      'old secret',
    );
    await expect(
      t.container.dataKeys.cipher.decrypt(t.workspaceId, 'transports:elsewhere', legacy),
    ).rejects.toThrow(/failed authentication/);
  });

  it('keeps a bounded number of unwrapped keys in memory and reloads evicted ones', async () => {
    const small = createDataKeyService({
      db: t.container.db,
      clock: t.clock,
      keyring: t.container.keyring,
      cacheSize: 1,
    });
    const a = await small.cipher.encrypt(t.workspaceId, 'p', 'in a');
    const b = await small.cipher.encrypt(other.workspaceId, 'p', 'in b');
    expect(await small.cipher.decrypt(t.workspaceId, 'p', a)).toBe('in a');
    expect(await small.cipher.decrypt(other.workspaceId, 'p', b)).toBe('in b');
  });
});

describe('encrypted transport credentials and DKIM keys', () => {
  it('stores new credentials under the workspace data key, with no plaintext in the row', async () => {
    const id = await createTransport(t.auth(), 'relay-new', 'pw-plain-text-1');
    const stored = await storedSecrets(id);
    const [active] = (await dataKeyRows(t.workspaceId)).filter((row) => row.active);
    expect(stored.startsWith(`hdk1.${active?.id}.`)).toBe(true);
    const raw = await sql<{
      text: string;
    }>`SELECT row_to_json(t)::text AS text FROM transports t WHERE id = ${id}`.execute(t.container.db);
    expect(raw.rows[0]?.text).not.toContain('pw-plain-text-1');
  });

  it('reads credentials written in the old format and re-encrypts them on the next write', async () => {
    const id = await createTransport(t.auth(), 'relay-legacy', 'placeholder');
    await t.container.db
      .updateTable('transports')
      .set({
        secrets: encryptSecret(legacyKeyring, JSON.stringify({ password: 'legacy-pw' }), `transports:${id}`),
      })
      .where('id', '=', id)
      .execute();
    const got = await t.app.inject({ method: 'GET', url: `/v1/transports/${id}`, headers: t.auth() });
    expect(got.statusCode).toBe(200);
    expect(got.json().secrets_set).toEqual(['password']);

    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/v1/transports/${id}`,
      headers: t.auth(),
      payload: { settings: { user: 'someone' } },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    const stored = await storedSecrets(id);
    expect(stored).toMatch(/^hdk1\./);
    expect(
      JSON.parse(await t.container.dataKeys.cipher.decrypt(t.workspaceId, `transports:${id}`, stored)),
    ).toEqual({ password: 'legacy-pw' });
  });

  it('signs with a DKIM key stored in the old format', async () => {
    const id = await createDomain(t.auth(), 'legacy-dkim.example');
    const pem = await t.container.dataKeys.cipher.decrypt(
      t.workspaceId,
      `sending_domains:${id}`,
      await storedKey(id),
    );
    expect(pem).toContain('PRIVATE KEY');
    await t.container.db
      .updateTable('sending_domains')
      .set({ private_key_encrypted: encryptSecret(legacyKeyring, pem, `sending_domains:${id}`) })
      .where('id', '=', id)
      .execute();
    const signer = await t.container.sendingDomains.signerFor(t.workspaceId, 'legacy-dkim.example');
    expect(signer?.domain).toBe('legacy-dkim.example');
  });

  it('stores the bounce-mailbox password encrypted and hands the poller the plaintext', async () => {
    const ws = await t.createWorkspace('Mailbox');
    const res = await t.app.inject({
      method: 'PATCH',
      url: '/v1/deliverability/settings',
      headers: t.auth(ws.adminKey),
      payload: {
        imap_enabled: true,
        imap_host: '127.0.0.1',
        imap_port: 1143,
        imap_tls: 'none',
        imap_user: 'bounces',
        imap_password: 'imap-password-1',
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).not.toContain('imap-password-1');
    const row = await t.container.db
      .selectFrom('deliverability_settings')
      .select('imap_password')
      .where('workspace_id', '=', ws.workspaceId)
      .executeTakeFirstOrThrow();
    expect(row.imap_password).toMatch(/^hdk1\./);
    expect(row.imap_password).not.toContain('imap-password-1');
    const mailboxes = await t.container.routeDeps.deliverability.imapMailboxes(ws.workspaceId);
    expect(mailboxes).toMatchObject([
      { workspaceId: ws.workspaceId, user: 'bounces', password: 'imap-password-1' },
    ]);
  });

  it('creates no data key for a refused request', async () => {
    const ws = await t.createWorkspace('Refused');
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/transports',
      headers: t.auth(ws.adminKey),
      payload: { name: 'no host', type: 'smtp', settings: {}, secrets: { password: 'pw-refused' } },
    });
    expect(res.statusCode).toBe(400);
    expect(await dataKeyRows(ws.workspaceId)).toHaveLength(0);
  });

  it('refuses a credential copied from another transport row', async () => {
    const a = await createTransport(t.auth(), 'copy-a', 'pw-a');
    const b = await createTransport(t.auth(), 'copy-b', 'pw-b');
    await t.container.db
      .updateTable('transports')
      .set({ secrets: await storedSecrets(a) })
      .where('id', '=', b)
      .execute();
    const got = await t.app.inject({ method: 'GET', url: `/v1/transports/${b}`, headers: t.auth() });
    expect(got.statusCode).toBe(500);
    // Put b back, so the rotation below has nothing broken in this workspace.
    await t.container.db.deleteFrom('transports').where('id', '=', b).execute();
  });
});

describe('herald keys rotate-data', () => {
  it('re-encrypts every value with a new key, retires the old one, and everything still decrypts', async () => {
    const ws = await t.createWorkspace('Rotating');
    const auth = t.auth(ws.adminKey);
    const transportIds: string[] = [];
    for (let i = 0; i < 5; i++) transportIds.push(await createTransport(auth, `relay-${i}`, `password-${i}`));
    const domainId = await createDomain(auth, 'rotate.example');
    // One value still in the old master-key format.
    const legacyId = transportIds[4] as string;
    await t.container.db
      .updateTable('transports')
      .set({
        secrets: encryptSecret(
          legacyKeyring,
          JSON.stringify({ password: 'password-4' }),
          `transports:${legacyId}`,
        ),
      })
      .where('id', '=', legacyId)
      .execute();
    const settings = await t.app.inject({
      method: 'PATCH',
      url: '/v1/deliverability/settings',
      headers: auth,
      payload: {
        mailgun_signing_key: 'mg-signing-secret',
        postmark_username: 'pm',
        postmark_password: 'pm-password-1',
      },
    });
    expect(settings.statusCode, settings.body).toBe(200);
    const settingsRow = async () =>
      t.container.db
        .selectFrom('deliverability_settings')
        .select(['mailgun_signing_key', 'postmark_password'])
        .where('workspace_id', '=', ws.workspaceId)
        .executeTakeFirstOrThrow();
    expect((await settingsRow()).mailgun_signing_key).toMatch(/^hdk1\./);
    // An outbound webhook endpoint's signing secret (a public address literal: nothing is sent here).
    const endpoint = await t.app.inject({
      method: 'POST',
      url: '/v1/webhooks/endpoints',
      headers: auth,
      payload: { url: 'https://93.184.215.14/hook' },
    });
    expect(endpoint.statusCode, endpoint.body).toBe(201);
    const endpointSecret = async () =>
      (
        await t.container.db
          .selectFrom('webhook_endpoints')
          .select('secret_encrypted')
          .where('id', '=', endpoint.json().id)
          .executeTakeFirstOrThrow()
      ).secret_encrypted;
    expect(await endpointSecret()).toMatch(/^hdk1\./);
    // A shop connection's webhook secret and an OpenID Connect provider's client secret.
    const shop = await t.app.inject({
      method: 'POST',
      url: '/v1/connectors/shops',
      headers: auth,
      payload: {
        platform: 'shopify',
        name: 'Rotating shop',
        shop_url: 'https://rotating.myshopify.com',
        webhook_secret: 'shop-secret-1',
      },
    });
    expect(shop.statusCode, shop.body).toBe(201);
    const oidc = await t.app.inject({
      method: 'POST',
      url: '/v1/oauth/oidc-providers',
      headers: auth,
      payload: {
        name: 'SSO',
        issuer: 'http://127.0.0.1:9',
        client_id: 'herald',
        client_secret: 'oidc-secret-1',
      },
    });
    expect(oidc.statusCode, oidc.body).toBe(201);
    // A CRM connection whose token is still in the old master-key format (made without asking HubSpot).
    const crmId = '01890000-0000-7000-8000-00000000c4a1';
    await t.container.db
      .insertInto('crm_connections')
      .values({
        id: crmId,
        workspace_id: ws.workspaceId,
        provider: 'hubspot',
        settings: JSON.stringify({ properties: {}, push_enabled: false }),
        secret: encryptSecret(legacyKeyring, 'crm-token-1', `crm:${crmId}`),
        created_at: t.clock.now(),
        updated_at: t.clock.now(),
      })
      .execute();
    // The Postmark password in the old master-key format.
    await t.container.db
      .updateTable('deliverability_settings')
      .set({
        postmark_password: encryptSecret(
          legacyKeyring,
          'pm-password-1',
          `deliverability:postmark:${ws.workspaceId}`,
        ),
      })
      .where('workspace_id', '=', ws.workspaceId)
      .execute();
    const [oldKey] = await dataKeyRows(ws.workspaceId);

    const lines: string[] = [];
    const { ok, reports } = await rotateDataKeys(
      t.container,
      { workspace: ws.workspaceId, batchSize: 2 },
      (line) => lines.push(line),
    );
    expect(ok).toBe(true);
    const [report] = reports;
    expect(report?.resumed).toBe(false);
    expect(report?.keyId).not.toBe(oldKey?.id);
    expect(report?.retired).toEqual([oldKey?.id]);
    expect(report?.sources).toEqual([
      { source: 'sending_domains.private_key', reencrypted: 1, changed: 0, failed: [] },
      { source: 'transports.secrets', reencrypted: 5, changed: 0, failed: [] },
      { source: 'deliverability_settings.secrets', reencrypted: 2, changed: 0, failed: [] },
      { source: 'contacts.attributes (sensitive)', reencrypted: 0, changed: 0, failed: [] },
      { source: 'webhook_endpoints.secret', reencrypted: 1, changed: 0, failed: [] },
      { source: 'shop_connections.secret', reencrypted: 1, changed: 0, failed: [] },
      { source: 'crm_connections.secret', reencrypted: 1, changed: 0, failed: [] },
      { source: 'oidc_providers.client_secret', reencrypted: 1, changed: 0, failed: [] },
    ]);
    const { cipher } = t.container.dataKeys;
    const rotated = [
      [
        'shop_connections',
        'secret_encrypted',
        shop.json().id,
        `shop_connections:${shop.json().id}`,
        'shop-secret-1',
      ],
      ['crm_connections', 'secret', crmId, `crm:${crmId}`, 'crm-token-1'],
      [
        'oidc_providers',
        'client_secret_encrypted',
        oidc.json().id,
        `oidc_providers:${oidc.json().id}`,
        'oidc-secret-1',
      ],
    ] as const;
    for (const [table, column, id, purpose, plaintext] of rotated) {
      const { rows } = await t.container.database.pool.query(
        `SELECT ${column} AS value FROM ${table} WHERE id = $1`,
        [id],
      );
      const value = rows[0]?.value as string;
      expect(value.startsWith(`hdk1.${report?.keyId}.`), table).toBe(true);
      expect(await cipher.decrypt(ws.workspaceId, purpose, value)).toBe(plaintext);
    }
    expect(await endpointSecret()).toMatch(new RegExp(`^hdk1\\.${report?.keyId}\\.`));
    const after = await settingsRow();
    expect(after.mailgun_signing_key?.startsWith(`hdk1.${report?.keyId}.`)).toBe(true);
    expect(after.postmark_password?.startsWith(`hdk1.${report?.keyId}.`)).toBe(true);
    expect(await t.container.routeDeps.deliverability.webhookCredentials(ws.workspaceId)).toMatchObject({
      mailgunSigningKey: 'mg-signing-secret',
      postmark: { username: 'pm', password: 'pm-password-1' },
    });
    expect(lines.join('\n')).toContain(`retired: ${oldKey?.id}`);

    const keys = await dataKeyRows(ws.workspaceId);
    // Both keys may carry the same created_at (the test clock stands still): compare in a fixed order.
    const byState = [...keys].sort((a, b) => Number(a.active) - Number(b.active));
    expect(byState.map((k) => [k.id, k.active, k.retired_at !== null])).toEqual([
      [oldKey?.id, false, true],
      [report?.keyId, true, false],
    ]);
    for (const [i, id] of transportIds.entries()) {
      const stored = await storedSecrets(id);
      expect(stored.startsWith(`hdk1.${report?.keyId}.`)).toBe(true);
      const got = await t.app.inject({ method: 'GET', url: `/v1/transports/${id}`, headers: auth });
      expect(got.json().secrets_set).toEqual(['password']);
      expect(
        JSON.parse(await t.container.dataKeys.cipher.decrypt(ws.workspaceId, `transports:${id}`, stored)),
      ).toEqual({
        password: `password-${i}`,
      });
    }
    expect((await storedKey(domainId)).startsWith(`hdk1.${report?.keyId}.`)).toBe(true);
    // A fresh process (no cache) signs with the re-encrypted key.
    t.clock.advance(61_000);
    expect((await t.container.sendingDomains.signerFor(ws.workspaceId, 'rotate.example'))?.domain).toBe(
      'rotate.example',
    );
    // Other workspaces were not touched.
    expect((await dataKeyRows(other.workspaceId)).every((k) => k.retired_at === null)).toBe(true);
  });

  it('does not retire the old key while a value cannot be re-encrypted, and resumes the same rotation', async () => {
    const ws = await t.createWorkspace('Broken');
    const auth = t.auth(ws.adminKey);
    const good = await createTransport(auth, 'good', 'good-pw');
    const bad = await createTransport(auth, 'bad', 'bad-pw');
    const badValue = await storedSecrets(bad);
    // Tamper with the ciphertext of one row.
    const tampered = `${badValue.slice(0, -4)}${badValue.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    await t.container.db.updateTable('transports').set({ secrets: tampered }).where('id', '=', bad).execute();
    const [oldKey] = await dataKeyRows(ws.workspaceId);

    const lines: string[] = [];
    const first = await rotateDataKeys(t.container, { workspace: ws.workspaceId }, (line) =>
      lines.push(line),
    );
    expect(first.ok).toBe(false);
    const report = first.reports[0];
    expect(report?.complete).toBe(false);
    expect(report?.retired).toEqual([]);
    expect(report?.sources[1]?.failed).toEqual([
      { id: bad, error: expect.stringMatching(/failed authentication/) },
    ]);
    // The report names rows, never their content.
    expect(lines.join('\n')).not.toContain('bad-pw');
    expect(lines.join('\n')).toContain('not complete');
    expect((await storedSecrets(good)).startsWith(`hdk1.${report?.keyId}.`)).toBe(true);
    expect((await dataKeyRows(ws.workspaceId)).find((k) => k.id === oldKey?.id)?.retired_at).toBeNull();

    // The operator fixes the row (here: sets the credential again), then runs the command again.
    await t.container.db.updateTable('transports').set({ secrets: badValue }).where('id', '=', bad).execute();
    const second = await rotateDataKeys(t.container, { workspace: ws.workspaceId }, () => {});
    expect(second.ok).toBe(true);
    expect(second.reports[0]).toMatchObject({ resumed: true, keyId: report?.keyId, retired: [oldKey?.id] });
    expect((await storedSecrets(bad)).startsWith(`hdk1.${report?.keyId}.`)).toBe(true);
    expect((await dataKeyRows(ws.workspaceId)).filter((k) => k.active)).toHaveLength(1);
  });

  it('lets a process that still holds the old key keep writing while another rotates, and catches up', async () => {
    const ws = await t.createWorkspace('Two processes');
    // Another process with its own cache, which saw the key before the rotation.
    const otherProcess = createDataKeyService({
      db: t.container.db,
      clock: t.clock,
      keyring: t.container.keyring,
    });
    const before = await otherProcess.cipher.encrypt(ws.workspaceId, 'p', 'before');
    const oldKeyId = before.split('.')[1];

    const { reports } = await rotateDataKeys(t.container, { workspace: ws.workspaceId }, () => {});
    const newKeyId = reports[0]?.keyId;
    expect(newKeyId).not.toBe(oldKeyId);
    // Within its cache time the other process still writes with the old key; the value still decrypts here.
    const during = await otherProcess.cipher.encrypt(ws.workspaceId, 'p', 'during');
    expect(during.split('.')[1]).toBe(oldKeyId);
    expect(await t.container.dataKeys.cipher.decrypt(ws.workspaceId, 'p', during)).toBe('during');
    // After it, the other process uses the new key.
    t.clock.advance(61_000);
    const after = await otherProcess.cipher.encrypt(ws.workspaceId, 'p', 'after');
    expect(after.split('.')[1]).toBe(newKeyId);
  });

  it('names an unknown workspace clearly', async () => {
    await expect(
      rotateDataKeys(t.container, { workspace: '00000000-0000-7000-8000-000000000000' }, () => {}),
    ).rejects.toThrow(/workspace/i);
  });
});

describe('herald keys rewrap', () => {
  const newMaster = randomBytes(32).toString('base64');

  it('re-wraps every data key under a new master key, after which the old master key can go', async () => {
    const ws = await t.createWorkspace('Rewrap');
    const id = await createTransport(t.auth(ws.adminKey), 'relay', 'rewrap-pw');
    const stored = await storedSecrets(id);

    // Step 1: the new key is prepended; both are configured.
    const both = parseSecretKeys(`${newMaster},${TEST_SECRET_KEY}`);
    const withBoth = createDataKeyService({ db: t.container.db, clock: t.clock, keyring: both });
    const lines: string[] = [];
    const { rewrapped: count } = await rewrapDataKeys(rewrapDeps(withBoth, both), (line) => lines.push(line));
    const total = await t.container.db
      .selectFrom('data_keys')
      .select(sql<number>`count(*)::int`.as('n'))
      .executeTakeFirstOrThrow();
    expect(count).toBe(total.n);
    expect(lines[0]).toContain(`Re-wrapped ${count}`);
    const masters = await t.container.db.selectFrom('data_keys').select('master_key_id').distinct().execute();
    expect(masters.map((row) => row.master_key_id)).toEqual([both.current.id]);
    expect((await rewrapDataKeys(rewrapDeps(withBoth, both), () => {})).rewrapped).toBe(0);

    // Step 2: the old master key is removed; values still decrypt.
    const onlyNew = createDataKeyService({
      db: t.container.db,
      clock: t.clock,
      keyring: parseSecretKeys(newMaster),
    });
    expect(JSON.parse(await onlyNew.cipher.decrypt(ws.workspaceId, `transports:${id}`, stored))).toEqual({
      password: 'rewrap-pw',
    });

    // And the old master key alone no longer opens them, with a message that says what to do.
    const onlyOld = createDataKeyService({ db: t.container.db, clock: t.clock, keyring: legacyKeyring });
    await expect(onlyOld.cipher.decrypt(ws.workspaceId, `transports:${id}`, stored)).rejects.toThrow(
      /not in HERALD_SECRET_KEYS.*herald keys rewrap/,
    );
  });
  it('also re-encrypts TOTP secrets and values older than data keys, so nothing needs the old master key', async () => {
    // Data keys are wrapped under the previous test's master key by now; a third one is put first.
    const newest = randomBytes(32).toString('base64');
    const ws = await t.createWorkspace('Master rotation');
    // A user's second factor, encrypted with the master keyring (users belong to no one workspace).
    const session = await userWithRole(t, 'editor', {
      email: 'rewrap-totp@example.com',
      workspaceId: ws.workspaceId,
    });
    const secret = (await t.app.inject({ method: 'POST', url: '/v1/me/totp', headers: session.write })).json()
      .secret;
    const code = (offset: number) => totpCode(base32Decode(secret), totpStep(t.clock.now()) + offset);
    const confirmed = await t.app.inject({
      method: 'POST',
      url: '/v1/me/totp/confirm',
      headers: session.write,
      payload: { code: code(0) },
    });
    expect(confirmed.statusCode, confirmed.body).toBe(204);
    const storedTotp = async () =>
      (
        await t.container.db
          .selectFrom('users')
          .select('totp_secret')
          .where('email', '=', 'rewrap-totp@example.com')
          .executeTakeFirstOrThrow()
      ).totp_secret;
    expect(await storedTotp()).toMatch(new RegExp(`^v1\\.${legacyKeyring.current.id}\\.`));
    expect(await storedTotp()).not.toContain(secret);
    // A shop connection secret still in the format written before data keys.
    const shop = await t.app.inject({
      method: 'POST',
      url: '/v1/connectors/shops',
      headers: t.auth(ws.adminKey),
      payload: {
        platform: 'woocommerce',
        name: 'Old shop',
        shop_url: 'https://shop.example.com',
        webhook_secret: 'old shop secret',
      },
    });
    expect(shop.statusCode, shop.body).toBe(201);
    const shopId = shop.json().id as string;
    await t.container.db
      .updateTable('shop_connections')
      .set({
        secret_encrypted: encryptSecret(legacyKeyring, 'old shop secret', `shop_connections:${shopId}`),
      })
      .where('id', '=', shopId)
      .execute();

    const all = parseSecretKeys([newest, newMaster, TEST_SECRET_KEY].join(','));
    const withAll = createDataKeyService({ db: t.container.db, clock: t.clock, keyring: all });
    const lines: string[] = [];
    const report = await rewrapDataKeys(rewrapDeps(withAll, all), (line) => lines.push(line));
    expect(report, lines.join('\n')).toMatchObject({ ok: true, totp: 1, legacy: 1 });
    expect(lines).toContain('Re-encrypted 1 TOTP secret(s) under the current master key.');
    expect(lines.at(-1)).toContain('no longer needed');
    expect(await storedTotp()).toMatch(new RegExp(`^v1\\.${all.current.id}\\.`));
    const storedShop = (
      await t.container.db
        .selectFrom('shop_connections')
        .select('secret_encrypted')
        .where('id', '=', shopId)
        .executeTakeFirstOrThrow()
    ).secret_encrypted;
    expect(storedShop).toMatch(/^hdk1\./);
    // Nothing left to do on a second run.
    expect(await rewrapDataKeys(rewrapDeps(withAll, all), () => {})).toMatchObject({ totp: 0, legacy: 0 });

    // The older master keys are removed: the second factor and the shop secret still work.
    const onlyNewest = parseSecretKeys(newest);
    const started = await usersWith(onlyNewest).login({
      email: 'rewrap-totp@example.com',
      password: TEST_PASSWORD,
      totp: code(1),
      ip: null,
      userAgent: null,
    });
    expect(started).toBeTruthy();
    const onlyNew = createDataKeyService({ db: t.container.db, clock: t.clock, keyring: onlyNewest });
    expect(await onlyNew.cipher.decrypt(ws.workspaceId, `shop_connections:${shopId}`, storedShop)).toBe(
      'old shop secret',
    );
  });
});
