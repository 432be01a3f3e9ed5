import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

async function post(payload: object, key?: string) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/sending-domains',
    headers: t.auth(key),
    payload,
  });
  return { status: res.statusCode, body: res.json(), text: res.body };
}

describe('sending domains', () => {
  it('generates an RSA-2048 key, stores it encrypted and returns only the DNS record', async () => {
    const res = await post({ domain: 'Mail.Example.COM.' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ domain: 'mail.example.com', selector: 'herald', algorithm: 'rsa' });
    expect(res.body.dns_record.name).toBe('herald._domainkey.mail.example.com');
    expect(res.body.dns_record.value).toMatch(/^v=DKIM1; k=rsa; p=MIIBIjAN[A-Za-z0-9+/=]+$/);
    expect(res.text).not.toMatch(/PRIVATE|private_key/);
    const row = await t.container.db
      .selectFrom('sending_domains')
      .selectAll()
      .where('id', '=', res.body.id)
      .executeTakeFirstOrThrow();
    expect(row.private_key_encrypted).toMatch(/^hdk1\./);
    expect(row.private_key_encrypted).not.toContain('PRIVATE');

    const got = await t.app.inject({
      method: 'GET',
      url: `/v1/sending-domains/${res.body.id}`,
      headers: t.auth(),
    });
    expect(got.json()).toEqual(res.body);
    const list = await t.app.inject({ method: 'GET', url: '/v1/sending-domains', headers: t.auth() });
    expect(list.json().data.map((d: { id: string }) => d.id)).toContain(res.body.id);
  });

  it('stores international names as punycode and refuses invalid names and duplicates', async () => {
    const idn = await post({ domain: 'bücher.example', algorithm: 'ed25519' });
    expect(idn.status).toBe(201);
    expect(idn.body.domain).toBe('xn--bcher-kva.example');
    expect(idn.body.dns_record.value).toMatch(/^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);

    for (const domain of ['localhost', 'no spaces.com', 'http://x.com', '-bad.example.com', '1.2.3.4']) {
      const res = await post({ domain });
      expect(res.status, domain).toBe(400);
      expect(res.body.code).toBe('INVALID_DOMAIN');
    }
    const dup = await post({ domain: 'BÜCHER.example' });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('SENDING_DOMAIN_EXISTS');
    expect((await post({ domain: 'ok.example.com', selector: 'bad selector' })).status).toBe(400);
  });

  it('imports an existing key, refusing garbage, weak keys and algorithm mismatches', async () => {
    const pem = (type: 'ed25519' | 'rsa', bits = 2048) =>
      (type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: bits })
        : generateKeyPairSync('ed25519')
      ).privateKey
        .export({ type: 'pkcs8', format: 'pem' })
        .toString();
    const imported = await post({ domain: 'imported.example.com', private_key: pem('ed25519') });
    expect(imported.status).toBe(201);
    expect(imported.body.algorithm).toBe('ed25519');
    for (const [body, fragment] of [
      [{ private_key: 'not a key' }, 'not a PEM private key'],
      [{ private_key: pem('rsa', 512) }, '512 bits'],
      [{ private_key: pem('ed25519'), algorithm: 'rsa' }, 'but algorithm is rsa'],
    ] as const) {
      const res = await post({ domain: 'other.example.com', ...body });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('INVALID_DKIM_KEY');
      expect(res.body.detail).toContain(fragment);
    }
  });

  it('sets, changes and clears a Return-Path domain, refusing one that would not align', async () => {
    const patch = async (id: string, payload: object) => {
      const res = await t.app.inject({
        method: 'PATCH',
        url: `/v1/sending-domains/${id}`,
        headers: t.auth(),
        payload,
      });
      return { status: res.statusCode, body: res.json() };
    };
    const created = await post({
      domain: 'news.rp.example.com',
      algorithm: 'ed25519',
      return_path_domain: 'Bounces.News.RP.example.com.',
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.return_path_domain).toBe('bounces.news.rp.example.com');
    expect(
      (await t.container.sendingDomains.signerFor(t.workspaceId, 'news.rp.example.com'))?.returnPathDomain,
    ).toBe('bounces.news.rp.example.com');
    // Without one, it is null and mail keeps its Return-Path at the From domain.
    const plain = await post({ domain: 'plain-rp.example.com', algorithm: 'ed25519' });
    expect(plain.body.return_path_domain).toBeNull();
    expect(
      (await t.container.sendingDomains.signerFor(t.workspaceId, 'plain-rp.example.com'))?.returnPathDomain,
    ).toBeUndefined();

    // Another name under the same organizational domain aligns too; the signer picks it up at once.
    const moved = await patch(created.body.id, { return_path_domain: 'mx-bounces.example.com' });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body).toMatchObject({
      return_path_domain: 'mx-bounces.example.com',
      allow_unverified: false,
    });
    expect(
      (await t.container.sendingDomains.signerFor(t.workspaceId, 'shop.news.rp.example.com'))
        ?.returnPathDomain,
    ).toBe('mx-bounces.example.com');

    for (const [body, path, fragment] of [
      [
        { return_path_domain: 'bounces.other.com' },
        '/return_path_domain',
        'does not share its organizational domain example.com',
      ],
      [
        { return_path_domain: 'bounces.example.co.uk' },
        '/return_path_domain',
        'bounces.example.co.uk is not under ',
      ],
      [{ return_path_domain: 'no spaces.example.com' }, '/return_path_domain', 'bare domain name'],
      [{ return_path_domain: 'localhost' }, '/return_path_domain', 'fully qualified'],
    ] as const) {
      for (const res of [
        await patch(created.body.id, body),
        await post({ domain: 'refused-rp.example.com', algorithm: 'ed25519', ...body }),
      ]) {
        expect(res.status, JSON.stringify(res.body)).toBe(400);
        expect(res.body.code).toBe('INVALID_DOMAIN');
        expect(res.body.detail).toContain('return_path_domain: ');
        expect(res.body.detail).toContain(fragment);
        expect(res.body.errors).toEqual([expect.objectContaining({ path })]);
      }
    }
    // Nothing refused was stored.
    expect((await patch(created.body.id, { allow_unverified: true })).body).toMatchObject({
      return_path_domain: 'mx-bounces.example.com',
      allow_unverified: true,
    });
    expect((await post({ domain: 'refused-rp.example.com', algorithm: 'ed25519' })).status).toBe(201);

    const cleared = await patch(created.body.id, { return_path_domain: null });
    expect(cleared.body).toMatchObject({ return_path_domain: null, allow_unverified: true });
    expect(
      (await t.container.sendingDomains.signerFor(t.workspaceId, 'news.rp.example.com'))?.returnPathDomain,
    ).toBeUndefined();

    const empty = await patch(created.body.id, {});
    expect(empty.status).toBe(400);
    expect(empty.body.code).toBe('VALIDATION_FAILED');
    expect(empty.body.detail).toContain('send allow_unverified, return_path_domain or both');
    // Another workspace cannot change it.
    const other = await t.createWorkspace('Other');
    const foreign = await t.app.inject({
      method: 'PATCH',
      url: `/v1/sending-domains/${created.body.id}`,
      headers: t.auth(other.adminKey),
      payload: { return_path_domain: 'bounces.news.rp.example.com' },
    });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().code).toBe('SENDING_DOMAIN_NOT_FOUND');
  });

  it('deletes, after which the signer is gone', async () => {
    const created = await post({ domain: 'gone.example.com', algorithm: 'ed25519' });
    expect(await t.container.sendingDomains.signerFor(t.workspaceId, 'gone.example.com')).toBeDefined();
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/v1/sending-domains/${created.body.id}`,
      headers: t.auth(),
    });
    expect(del.statusCode).toBe(204);
    expect(await t.container.sendingDomains.signerFor(t.workspaceId, 'gone.example.com')).toBeUndefined();
    const again = await t.app.inject({
      method: 'GET',
      url: `/v1/sending-domains/${created.body.id}`,
      headers: t.auth(),
    });
    expect(again.json().code).toBe('SENDING_DOMAIN_NOT_FOUND');
  });
});
