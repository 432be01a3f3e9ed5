import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DnsRecords, startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The sending-domain check against a real DNS server on 127.0.0.1 (node:dns
 * resolving through HERALD_DNS_SERVERS): one good domain and one broken in
 * each way the check must recognise.
 */
const INCLUDE = '_spf.herald.test';
const BOUNCE_HOST = 'bounces.herald.test';
const SENDING_IP = '192.0.2.10';
const GOOD_SPF = `v=spf1 include:${INCLUDE} ~all`;
const MX = [{ priority: 10, exchange: BOUNCE_HOST }];

let t: TestApp;
let dns: TestDnsServer;

type Method = 'GET' | 'POST' | 'PATCH';
async function call(method: Method, url: string, payload?: object) {
  const res = await t.app.inject({ method, url, headers: t.auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

interface Domain {
  id: string;
  domain: string;
  dns_record: { name: string; value: string };
  dns_records: { purpose: string; name: string; type: string; value: string; note: string }[];
}

/** Adds the domain to Herald and publishes its records, with `change` applied (a record set to undefined is left out). */
async function publish(
  name: string,
  change: { spf?: string[]; dkim?: string[]; dmarc?: string[]; mx?: DnsRecords['MX'] } = {},
  algorithm: 'rsa' | 'ed25519' = 'ed25519',
): Promise<Domain> {
  const added = await call('POST', '/v1/sending-domains', { domain: name, algorithm });
  expect(added.status).toBe(201);
  const domain = added.body as Domain;
  const has = (key: keyof typeof change) => key in change;
  dns.records.set(name, {
    TXT: has('spf') ? change.spf : [GOOD_SPF, 'google-site-verification=abc'],
    MX: has('mx') ? change.mx : MX,
  });
  dns.records.set(domain.dns_record.name, { TXT: has('dkim') ? change.dkim : [domain.dns_record.value] });
  dns.records.set(`_dmarc.${name}`, {
    TXT: has('dmarc') ? change.dmarc : [`v=DMARC1; p=reject; rua=mailto:dmarc@${name}`],
  });
  return domain;
}

async function check(domain: Domain, fromEmail?: string) {
  const query = fromEmail ? `?from_email=${encodeURIComponent(fromEmail)}` : '';
  const res = await call('POST', `/v1/sending-domains/${domain.id}/check${query}`);
  expect(res.status).toBe(200);
  const items = res.body.last_check.items as {
    check: string;
    status: string;
    name: string;
    message: string;
    fix: string | null;
  }[];
  const item = (name: string) => items.find((i) => i.check === name) as (typeof items)[number];
  return { body: res.body, items, item };
}

beforeAll(async () => {
  dns = await startDnsServer({
    [INCLUDE]: { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] },
    [BOUNCE_HOST]: { A: ['192.0.2.20'] },
    '10.2.0.192.in-addr.arpa': { PTR: ['mail.herald.test'] },
    'mail.herald.test': { A: [SENDING_IP] },
  });
  t = await createTestApp({
    HERALD_DNS_SERVERS: dns.address,
    HERALD_SPF_INCLUDE: INCLUDE,
    HERALD_BOUNCE_MX_HOST: BOUNCE_HOST,
    HERALD_SENDING_IP: SENDING_IP,
  });
});
afterAll(async () => {
  await t?.close();
  await dns?.close();
});

describe('records to publish', () => {
  it('lists DKIM, SPF with the configured include, a DMARC start and the bounce MX', async () => {
    const added = await call('POST', '/v1/sending-domains', { domain: 'records.test', algorithm: 'ed25519' });
    const records = (added.body as Domain).dns_records;
    expect(records.map((r) => [r.purpose, r.type, r.name])).toEqual([
      ['dkim', 'TXT', 'herald._domainkey.records.test'],
      ['spf', 'TXT', 'records.test'],
      ['dmarc', 'TXT', '_dmarc.records.test'],
      ['bounce', 'MX', 'records.test'],
    ]);
    expect(records[0]?.value).toBe(added.body.dns_record.value);
    expect(records[1]?.value).toBe(GOOD_SPF);
    expect(records[1]?.note).toContain(`add include:${INCLUDE} to it before its all term`);
    expect(records[2]?.value).toBe('v=DMARC1; p=none; rua=mailto:dmarc-reports@records.test');
    expect(records[2]?.note).toMatch(/p=quarantine.*p=reject/);
    expect(records[3]?.value).toBe(`10 ${BOUNCE_HOST}`);
    expect(added.body).toMatchObject({ status: 'pending', allow_unverified: false, last_check: null });
  });
});

describe('the check', () => {
  it('verifies a fully good domain (an RSA key: its record only fits a TCP answer)', async () => {
    const good = await publish('good.test', {}, 'rsa');
    const { body, items } = await check(good);
    expect(body.status).toBe('verified');
    expect(body.checked_at).toBe(t.clock.now().toISOString());
    expect(items.map((i) => [i.check, i.status])).toEqual([
      ['spf', 'pass'],
      ['dkim', 'pass'],
      ['dmarc', 'pass'],
      ['alignment', 'pass'],
      ['mx', 'pass'],
      ['ptr', 'pass'],
    ]);
    expect(items.every((i) => i.fix === null)).toBe(true);
    expect(dns.queries).toContain('10.2.0.192.in-addr.arpa PTR');
    // Stored and read back.
    expect((await call('GET', `/v1/sending-domains/${good.id}`)).body.last_check).toEqual(body.last_check);
  });

  it('fails a domain without SPF, saying what to publish', async () => {
    const { body, item } = await check(await publish('nospf.test', { spf: ['google-site-verification=x'] }));
    expect(body.status).toBe('failed');
    expect(item('spf')).toMatchObject({ status: 'fail', message: expect.stringContaining('no SPF record') });
    expect(item('spf').fix).toBe(`publish one TXT record at nospf.test: ${GOOD_SPF}`);
  });

  it('fails SPF without the include and gives the merged record', async () => {
    const { item } = await check(
      await publish('noinclude.test', { spf: ['v=spf1 mx ip4:198.51.100.7 -all'] }),
    );
    expect(item('spf').status).toBe('fail');
    expect(item('spf').fix).toBe(
      `add include:${INCLUDE} before the all term: v=spf1 mx ip4:198.51.100.7 include:${INCLUDE} -all`,
    );
  });

  it('fails two SPF records', async () => {
    const { item } = await check(await publish('twospf.test', { spf: [GOOD_SPF, 'v=spf1 mx -all'] }));
    expect(item('spf')).toMatchObject({ status: 'fail', message: expect.stringContaining('2 SPF records') });
    expect(item('spf').fix).toContain('merge them into one TXT record');
  });

  it('fails SPF that needs more than 10 lookups, counting through includes', async () => {
    dns.records.set('big.herald.test', { TXT: ['v=spf1 a mx a:a.test a:b.test mx:c.test mx:d.test ~all'] });
    const spf = `v=spf1 include:${INCLUDE} include:big.herald.test exists:x.test ptr a ~all`;
    const { item } = await check(await publish('lookups.test', { spf: [spf] }));
    expect(item('spf')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('needs 11 DNS lookups'),
    });
  });

  it('fails a DKIM record with another key and gives Herald’s', async () => {
    const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
    const stale = `v=DKIM1; k=ed25519; p=${other.subarray(-32).toString('base64')}`;
    const domain = await publish('badkey.test', { dkim: [stale] });
    const { body, item } = await check(domain);
    expect(body.status).toBe('failed');
    expect(item('dkim')).toMatchObject({ status: 'fail', message: expect.stringContaining('different key') });
    expect(item('dkim').fix).toBe(
      `replace the record at herald._domainkey.badkey.test with: ${domain.dns_record.value}`,
    );
    // And none at all.
    const missing = await check(await publish('nodkim.test', { dkim: [] }));
    expect(missing.item('dkim').fix).toContain('publish one TXT record at herald._domainkey.nodkim.test');
  });

  it('fails a domain without DMARC, falling back to the organizational domain first', async () => {
    const { body, item } = await check(await publish('nodmarc.test', { dmarc: [] }));
    expect(body.status).toBe('failed');
    expect(item('dmarc')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('no DMARC record'),
    });
    expect(item('dmarc').fix).toContain('_dmarc.nodmarc.test: v=DMARC1; p=none; rua=mailto:');

    // A subdomain without its own record is covered by the organizational domain's.
    const sub = await publish('mail.good.test', { dmarc: [] });
    const covered = await check(sub);
    expect(covered.item('dmarc')).toMatchObject({ status: 'pass', name: '_dmarc.good.test' });
    expect(covered.body.status).toBe('verified');
  });

  it('warns on p=none with the path to quarantine and reject, and still verifies', async () => {
    const { body, item } = await check(await publish('monitor.test', { dmarc: ['v=DMARC1; p=none'] }));
    expect(body.status).toBe('verified');
    expect(item('dmarc')).toMatchObject({
      status: 'warn',
      message: expect.stringContaining('no aggregate reports'),
    });
    expect(item('dmarc').fix).toMatch(/p=quarantine.*p=reject/);
  });

  it('fails a From domain that does not align', async () => {
    const good = (await call('GET', '/v1/sending-domains?limit=100')).body.data.find(
      (d: Domain) => d.domain === 'good.test',
    ) as Domain;
    const other = await check(good, 'news@other.test');
    expect(other.item('alignment')).toMatchObject({ status: 'fail', name: 'other.test' });
    expect(other.item('alignment').fix).toContain('add other.test as a sending domain');
    // Relaxed: a subdomain aligns; strict (adkim=s) it does not.
    expect((await check(good, 'news@shop.good.test')).item('alignment').status).toBe('pass');
    const strict = await publish('strict.test', {
      dmarc: ['v=DMARC1; p=reject; adkim=s; rua=mailto:d@strict.test'],
    });
    dns.records.set('_dmarc.shop.strict.test', { TXT: ['v=DMARC1; p=reject; adkim=s'] });
    const sub = await check(strict, 'news@shop.strict.test');
    expect(sub.item('alignment')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('adkim=s'),
    });
  });

  it('fails a domain without MX, and warns when the MX is not the bounce host', async () => {
    const { body, item } = await check(await publish('nomx.test', { mx: [] }));
    expect(body.status).toBe('verified'); // MX is reported, not required for verification
    expect(item('mx')).toMatchObject({ status: 'fail', message: expect.stringContaining('no MX record') });
    expect(item('mx').fix).toBe(`publish an MX record at nomx.test: 10 ${BOUNCE_HOST}`);
    const elsewhere = await check(
      await publish('othermx.test', { mx: [{ priority: 5, exchange: 'mx.isp.test' }] }),
    );
    expect(elsewhere.item('mx')).toMatchObject({
      status: 'warn',
      message: expect.stringContaining(BOUNCE_HOST),
    });
  });

  it('concludes nothing when a lookup fails, keeping the status', async () => {
    const flaky = await publish('flaky.test');
    expect((await check(flaky)).body.status).toBe('verified');
    dns.records.set(flaky.dns_record.name, { SERVFAIL: true });
    const { body, item } = await check(flaky);
    expect(body.last_check.status).toBe('inconclusive');
    expect(body.status).toBe('verified');
    expect(item('dkim')).toMatchObject({ status: 'error', message: expect.stringContaining('ESERVFAIL') });
    expect(item('dkim').fix).toContain('HERALD_DNS_SERVERS');
  });

  it('is scoped to the workspace', async () => {
    const other = await t.createWorkspace('Other');
    const mine = (await call('GET', '/v1/sending-domains?limit=1')).body.data[0] as Domain;
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/sending-domains/${mine.id}/check`,
      headers: t.auth(other.adminKey),
    });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('SENDING_DOMAIN_NOT_FOUND');
  });
});

describe('a Return-Path domain', () => {
  const OWN_MX = [{ priority: 10, exchange: 'mx.mailhost.test' }];

  /**
   * Adds `name` with the Return-Path domain bounces.<name> and publishes the
   * records Herald lists: SPF and the bounce MX at the Return-Path domain;
   * DKIM and DMARC at the domain, which keeps its own MX and no SPF.
   */
  async function publishWithReturnPath(
    name: string,
    change: { spf?: string[]; mx?: DnsRecords['MX']; dmarc?: string[] } = {},
  ): Promise<Domain & { return_path_domain: string }> {
    const added = await call('POST', '/v1/sending-domains', {
      domain: name,
      algorithm: 'ed25519',
      return_path_domain: `bounces.${name}`,
    });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    const domain = added.body as Domain & { return_path_domain: string };
    const has = (key: keyof typeof change) => key in change;
    for (const record of domain.dns_records) {
      if (record.purpose === 'spf')
        dns.records.set(record.name, {
          ...dns.records.get(record.name),
          TXT: has('spf') ? change.spf : [record.value],
        });
      if (record.purpose === 'bounce') {
        const [priority, exchange] = record.value.split(' ');
        dns.records.set(record.name, {
          ...dns.records.get(record.name),
          MX: has('mx') ? change.mx : [{ priority: Number(priority), exchange: exchange as string }],
        });
      }
      if (record.purpose === 'dkim') dns.records.set(record.name, { TXT: [record.value] });
      if (record.purpose === 'dmarc')
        dns.records.set(record.name, { TXT: has('dmarc') ? change.dmarc : [record.value] });
    }
    dns.records.set(name, { MX: OWN_MX });
    return domain;
  }

  it('lists SPF and the bounce MX at the Return-Path domain, DKIM and DMARC at the domain', async () => {
    const added = await call('POST', '/v1/sending-domains', {
      domain: 'rp-records.test',
      algorithm: 'ed25519',
      return_path_domain: 'bounces.rp-records.test',
    });
    const records = (added.body as Domain).dns_records;
    expect(records.map((r) => [r.purpose, r.type, r.name])).toEqual([
      ['dkim', 'TXT', 'herald._domainkey.rp-records.test'],
      ['spf', 'TXT', 'bounces.rp-records.test'],
      ['dmarc', 'TXT', '_dmarc.rp-records.test'],
      ['bounce', 'MX', 'bounces.rp-records.test'],
    ]);
    expect(records[1]?.value).toBe(GOOD_SPF);
    expect(records[1]?.note).toContain("envelope sender's domain, which is bounces.rp-records.test");
    expect(records[1]?.note).toContain('organizational domain rp-records.test');
    expect(records[2]?.value).toBe('v=DMARC1; p=none; rua=mailto:dmarc-reports@rp-records.test');
    expect(records[2]?.note).toContain('aspf');
    expect(records[3]).toMatchObject({ value: `10 ${BOUNCE_HOST}` });
    expect(records[3]?.note).toContain('b-<token>@bounces.rp-records.test');
    expect(records[3]?.note).toContain('rp-records.test keeps its own MX');
  });

  it('checks SPF and MX at the Return-Path domain and verifies a domain whose own MX is elsewhere', async () => {
    const domain = await publishWithReturnPath('rp-good.test');
    const { body, items, item } = await check(domain);
    expect(body.status).toBe('verified');
    expect(items.map((i) => [i.check, i.status, i.name])).toEqual([
      ['spf', 'pass', 'bounces.rp-good.test'],
      ['dkim', 'pass', 'herald._domainkey.rp-good.test'],
      // The DMARC start Herald suggests is p=none: a warning that still verifies.
      ['dmarc', 'warn', '_dmarc.rp-good.test'],
      ['alignment', 'pass', 'rp-good.test'],
      ['mx', 'pass', 'bounces.rp-good.test'],
      ['ptr', 'pass', SENDING_IP],
    ]);
    expect(item('alignment').message).toContain(
      'with the Return-Path domain bounces.rp-good.test (relaxed: the same organizational domain)',
    );
    expect(item('mx').message).toContain('b-<token>@bounces.rp-good.test');
    // A From address at a subdomain aligns too.
    expect((await check(domain, 'news@shop.rp-good.test')).item('alignment').status).toBe('pass');
  });

  it('fails a Return-Path domain without SPF or without MX, naming it in the fix', async () => {
    const nospf = await check(await publishWithReturnPath('rp-nospf.test', { spf: [] }));
    expect(nospf.body.status).toBe('failed');
    expect(nospf.item('spf')).toMatchObject({ status: 'fail', name: 'bounces.rp-nospf.test' });
    expect(nospf.item('spf').fix).toBe(`publish one TXT record at bounces.rp-nospf.test: ${GOOD_SPF}`);

    // SPF on the From domain does not help: receivers check the envelope domain.
    const misplaced = await publishWithReturnPath('rp-misplaced.test', { spf: [] });
    dns.records.set('rp-misplaced.test', { TXT: [GOOD_SPF], MX: OWN_MX });
    expect((await check(misplaced)).item('spf')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('bounces.rp-misplaced.test has no SPF record'),
    });

    const nomx = await check(await publishWithReturnPath('rp-nomx.test', { mx: [] }));
    expect(nomx.items.filter((i) => i.check === 'mx')).toHaveLength(1);
    expect(nomx.item('mx')).toMatchObject({ status: 'fail', name: 'bounces.rp-nomx.test' });
    expect(nomx.item('mx').fix).toBe(`publish an MX record at bounces.rp-nomx.test: 10 ${BOUNCE_HOST}`);

    const elsewhere = await check(await publishWithReturnPath('rp-othermx.test', { mx: OWN_MX }));
    expect(elsewhere.item('mx')).toMatchObject({
      status: 'warn',
      message: expect.stringContaining(`none is the bounce host ${BOUNCE_HOST}`),
    });
  });

  it('fails SPF alignment under aspf=s, with the fix, and passes once the Return-Path domain is cleared', async () => {
    const domain = await publishWithReturnPath('rp-strict.test', {
      dmarc: ['v=DMARC1; p=reject; aspf=s; rua=mailto:d@rp-strict.test'],
    });
    const strict = await check(domain);
    expect(strict.item('dkim').status).toBe('pass');
    expect(strict.item('alignment')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining(
        'strict SPF alignment (aspf=s) and the Return-Path domain bounces.rp-strict.test is not rp-strict.test',
      ),
    });
    expect(strict.item('alignment').fix).toContain('remove aspf=s');
    expect(strict.item('alignment').fix).toContain('"return_path_domain": null');

    const cleared = await call('PATCH', `/v1/sending-domains/${domain.id}`, { return_path_domain: null });
    expect(cleared.body.return_path_domain).toBeNull();
    // Without it, SPF and MX are about the domain itself again, as before.
    expect(cleared.body.dns_records.find((r: { purpose: string }) => r.purpose === 'spf').name).toBe(
      'rp-strict.test',
    );
    dns.records.set('rp-strict.test', { TXT: [GOOD_SPF], MX: MX });
    const again = await check(domain);
    expect(again.item('alignment')).toMatchObject({ status: 'pass' });
    expect(again.item('spf')).toMatchObject({ status: 'pass', name: 'rp-strict.test' });
    expect(again.items.filter((i) => i.check === 'mx').map((i) => i.name)).toEqual(['rp-strict.test']);
  });
});

describe('sending from an unverified domain', () => {
  async function message(from: string) {
    return call('POST', '/v1/messages', {
      to: 'reader@example.com',
      from_email: from,
      inline: { subject: 'Hi', text: 'Hi' },
    });
  }

  it('refuses messages and campaigns from a domain whose check failed, unless allowed', async () => {
    const failed = (await call('GET', '/v1/sending-domains?limit=100')).body.data.find(
      (d: Domain) => d.domain === 'nodmarc.test',
    ) as Domain & { status: string };
    expect(failed.status).toBe('failed');

    const refused = await message('news@nodmarc.test');
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('SENDING_DOMAIN_UNVERIFIED');
    expect(refused.body.detail).toContain('DMARC: no DMARC record');
    expect(refused.body.detail).toContain(`/v1/sending-domains/${failed.id}/check`);
    expect(refused.body.detail).toContain('allow_unverified');
    // A subdomain is signed by the failed domain, so it is refused too.
    expect((await message('news@shop.nodmarc.test')).status).toBe(409);

    // Verified, never added and never checked domains send.
    expect((await message('news@good.test')).status).toBe(202);
    expect((await message('news@shop.example')).status).toBe(202);
    expect((await message('news@records.test')).status).toBe(202);

    const listId = (
      await call('POST', '/v1/lists', { name: 'Readers', opt_in: 'single', visibility: 'private' })
    ).body.id;
    await call('POST', `/v1/lists/${listId}/members`, { emails: ['reader@example.com'] });
    const template = await call('POST', '/v1/templates', {
      name: 'News',
      format: 'html',
      subject: 'News',
      body: '<p>News</p>',
    });
    const campaign = await call('POST', '/v1/campaigns', {
      name: 'From a failed domain',
      from_email: 'news@nodmarc.test',
      template_id: template.body.id,
      lists: [listId],
    });
    const send = await call('POST', `/v1/campaigns/${campaign.body.id}/send`);
    expect(send.status).toBe(409);
    expect(send.body.code).toBe('SENDING_DOMAIN_UNVERIFIED');
    const schedule = await call('POST', `/v1/campaigns/${campaign.body.id}/schedule`, {
      send_at: '2099-01-01T09:00:00Z',
    });
    expect(schedule.body.code).toBe('SENDING_DOMAIN_UNVERIFIED');

    const allowed = await call('PATCH', `/v1/sending-domains/${failed.id}`, { allow_unverified: true });
    expect(allowed.body).toMatchObject({ allow_unverified: true, status: 'failed' });
    expect((await message('news@nodmarc.test')).status).toBe(202);
    expect((await call('POST', `/v1/campaigns/${campaign.body.id}/send`)).body.status).toBe('sending');
  });

  it('pauses a scheduled campaign whose domain failed before it started, saying why', async () => {
    const failed = (await call('GET', '/v1/sending-domains?limit=100')).body.data.find(
      (d: Domain) => d.domain === 'nodmarc.test',
    ) as Domain;
    const listId = (
      await call('POST', '/v1/lists', { name: 'Later', opt_in: 'single', visibility: 'private' })
    ).body.id;
    await call('POST', `/v1/lists/${listId}/members`, { emails: ['later@example.com'] });
    const template = await call('POST', '/v1/templates', {
      name: 'Later',
      format: 'html',
      subject: 'Later',
      body: '<p>Later</p>',
    });
    const campaign = await call('POST', '/v1/campaigns', {
      name: 'Scheduled while allowed',
      from_email: 'news@nodmarc.test',
      template_id: template.body.id,
      lists: [listId],
    });
    const at = new Date(t.clock.now().getTime() + 3_600_000).toISOString();
    expect((await call('POST', `/v1/campaigns/${campaign.body.id}/schedule`, { send_at: at })).status).toBe(
      200,
    );
    await call('PATCH', `/v1/sending-domains/${failed.id}`, { allow_unverified: false });
    t.clock.advance(2 * 3_600_000);
    await t.container.campaigns.startDue();
    const paused = (await call('GET', `/v1/campaigns/${campaign.body.id}`)).body;
    expect(paused.status).toBe('paused');
    expect(paused.status_reason).toContain('the sending domain nodmarc.test failed its last check');
  });

  it('with HERALD_REQUIRE_VERIFIED_DOMAINS, sends only from verified domains', async () => {
    const strict = await createTestApp({
      HERALD_DNS_SERVERS: dns.address,
      HERALD_REQUIRE_VERIFIED_DOMAINS: 'true',
    });
    try {
      const send = async (from: string) =>
        strict.app.inject({
          method: 'POST',
          url: '/v1/messages',
          headers: strict.auth(),
          payload: { to: 'reader@example.com', from_email: from, inline: { subject: 'Hi', text: 'Hi' } },
        });
      const unknown = await send('news@shop.example');
      expect(unknown.statusCode).toBe(409);
      expect(unknown.json().detail).toContain(
        'shop.example is not one; add it with POST /v1/sending-domains',
      );
      const added = await strict.app.inject({
        method: 'POST',
        url: '/v1/sending-domains',
        headers: strict.auth(),
        payload: { domain: 'fresh.test', algorithm: 'ed25519' },
      });
      const pending = await send('news@fresh.test');
      expect(pending.statusCode).toBe(409);
      expect(pending.json().detail).toContain('fresh.test has not been checked yet');
      const domain = added.json() as Domain;
      dns.records.set('fresh.test', { TXT: ['v=spf1 mx ~all'] });
      dns.records.set(domain.dns_record.name, { TXT: [domain.dns_record.value] });
      dns.records.set('_dmarc.fresh.test', { TXT: ['v=DMARC1; p=quarantine; rua=mailto:d@fresh.test'] });
      const checked = await strict.app.inject({
        method: 'POST',
        url: `/v1/sending-domains/${domain.id}/check`,
        headers: strict.auth(),
      });
      // No HERALD_SPF_INCLUDE here: one SPF record passes, with a note that it cannot be judged.
      expect(checked.json().status).toBe('verified');
      expect(checked.json().last_check.items[0].fix).toContain('set HERALD_SPF_INCLUDE');
      expect((await send('news@fresh.test')).statusCode).toBe(202);
    } finally {
      await strict.close();
    }
  });

  it('sends again once the records are fixed and the check passes', async () => {
    const domain = (await call('GET', '/v1/sending-domains?limit=100')).body.data.find(
      (d: Domain) => d.domain === 'badkey.test',
    ) as Domain;
    expect((await message('news@badkey.test')).status).toBe(409);
    dns.records.set(domain.dns_record.name, { TXT: [domain.dns_record.value] });
    expect((await check(domain)).body.status).toBe('verified');
    expect((await message('news@badkey.test')).status).toBe(202);
  });
});
