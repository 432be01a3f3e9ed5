import type { DkimAlgorithm } from '../../mail/dkim.js';
import { type DnsLookup, DnsLookupError } from './dns-resolver.js';
import { isWithin, organizationalDomain } from './domain-name.js';
import { type AuthenticationSettings, DMARC_PATH, spfMechanism } from './domain-records.js';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skipped' | 'error';

export interface CheckItem {
  check: 'spf' | 'dkim' | 'dmarc' | 'alignment' | 'mx' | 'ptr';
  status: CheckStatus;
  /** The DNS name looked up (or the From domain, for alignment). */
  name: string;
  /** The records found there that the check read. */
  found: string[];
  message: string;
  /** What to change, in words and with the record to publish; null when nothing needs to change. */
  fix: string | null;
}

export interface DomainCheck {
  /** verified: DKIM and SPF pass and DMARC is published; inconclusive: a lookup needed for that failed. */
  status: 'verified' | 'failed' | 'inconclusive';
  from_domain: string;
  checked_at: string;
  items: CheckItem[];
}

export interface CheckedDomain {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  public_key: string;
  /** The dedicated Return-Path domain; null or absent: the envelope sender is at the From domain. */
  return_path_domain?: string | null | undefined;
}

/** RFC 7208 4.6.4: more than 10 terms that cause lookups is a permanent error. */
const SPF_LOOKUP_LIMIT = 10;

/**
 * Looks up what receivers will look up for mail from `fromDomain` signed by
 * `domain`, and says per item what passes and how to fix what does not.
 * Lookups run concurrently; SPF includes are followed to count lookups.
 */
export async function checkDomain(
  dns: DnsLookup,
  domain: CheckedDomain,
  settings: AuthenticationSettings,
  fromDomain: string,
  now: Date,
): Promise<DomainCheck> {
  const returnPathDomain = domain.return_path_domain ?? undefined;
  // SPF is checked for the envelope sender's domain: the Return-Path domain when set.
  const spfDomain = returnPathDomain ?? domain.domain;
  const mxNames = returnPathDomain ? [returnPathDomain] : [...new Set([domain.domain, fromDomain])];
  const [spf, dkim, dmarc, mx, ptr] = await Promise.all([
    guard('spf', spfDomain, () => checkSpf(dns, spfDomain, settings)),
    guard('dkim', `${domain.selector}._domainkey.${domain.domain}`, () => checkDkim(dns, domain)),
    guard('dmarc', `_dmarc.${fromDomain}`, () => findDmarc(dns, fromDomain)),
    Promise.all(
      mxNames.map((name) =>
        guard('mx', name, () => checkMx(dns, name, settings, name === (returnPathDomain ?? fromDomain))),
      ),
    ),
    settings.sendingIp
      ? guard('ptr', settings.sendingIp, () => checkPtr(dns, settings.sendingIp as string))
      : Promise.resolve<CheckItem>({
          check: 'ptr',
          status: 'skipped',
          name: '',
          found: [],
          message: 'no sending IP is configured, so reverse DNS was not checked',
          fix: 'set HERALD_SENDING_IP to the address mail leaves from to have its PTR record checked',
        }),
  ]);
  const dmarcItem = 'item' in dmarc ? dmarc.item : dmarc;
  const alignment = checkAlignment(
    domain.domain,
    fromDomain,
    returnPathDomain,
    'record' in dmarc ? dmarc.record : undefined,
  );
  const items = [spf, dkim, dmarcItem, alignment, ...mx, ptr];

  const deciding = [spf, dkim, dmarcItem];
  const status = deciding.some((i) => i.status === 'error')
    ? 'inconclusive'
    : spf.status === 'pass' && dkim.status === 'pass' && ['pass', 'warn'].includes(dmarcItem.status)
      ? 'verified'
      : 'failed';
  return { status, from_domain: fromDomain, checked_at: now.toISOString(), items };
}

async function guard<T extends CheckItem | { item: CheckItem; record?: DmarcRecord }>(
  check: CheckItem['check'],
  name: string,
  run: () => Promise<T>,
): Promise<T | CheckItem> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof DnsLookupError)) throw error;
    return {
      check,
      status: 'error',
      name,
      found: [],
      message: `${error.message}: the answer is unknown, so nothing was concluded`,
      fix: 'run the check again; if it keeps failing, check that HERALD_DNS_SERVERS names a resolver that answers',
    };
  }
}

// ---- SPF -------------------------------------------------------------------

function isSpf(text: string): boolean {
  return /^v=spf1(\s|$)/i.test(text.trim());
}

async function checkSpf(
  dns: DnsLookup,
  domain: string,
  settings: AuthenticationSettings,
): Promise<CheckItem> {
  const records = (await dns.txt(domain)).filter(isSpf);
  const mechanism = spfMechanism(settings);
  const suggestion = `v=spf1 ${mechanism ?? 'mx'} ~all`;
  const base = { check: 'spf' as const, name: domain, found: records };
  if (records.length === 0) {
    return {
      ...base,
      status: 'fail',
      message: `${domain} has no SPF record, so receivers cannot tell which servers may send its mail`,
      fix: `publish one TXT record at ${domain}: ${suggestion}`,
    };
  }
  if (records.length > 1) {
    return {
      ...base,
      status: 'fail',
      message: `${domain} has ${records.length} SPF records; receivers treat that as an error (RFC 7208 permerror) and ignore them all`,
      fix: `merge them into one TXT record that starts with v=spf1, lists the mechanisms of both${mechanism ? ` (including ${mechanism})` : ''} and ends with one all term; delete the others`,
    };
  }
  const record = records[0] as string;
  const terms = record.trim().split(/\s+/).slice(1);
  if (mechanism && !terms.some((t) => t.replace(/^[+]/, '').toLowerCase() === mechanism.toLowerCase())) {
    return {
      ...base,
      status: 'fail',
      message: `the SPF record of ${domain} does not authorize Herald's senders (${mechanism})`,
      fix: `add ${mechanism} before the all term: ${withMechanism(terms, mechanism)}`,
    };
  }
  const lookups = await countSpfLookups(dns, terms, new Set([domain]), 0);
  if (lookups > SPF_LOOKUP_LIMIT) {
    return {
      ...base,
      status: 'fail',
      message: `the SPF record of ${domain} needs ${lookups} DNS lookups (includes followed); more than ${SPF_LOOKUP_LIMIT} is an error (RFC 7208 permerror) and SPF fails`,
      fix: 'remove includes you no longer use, or replace some by the ip4:/ip6: ranges they stand for',
    };
  }
  if (!mechanism) {
    return {
      ...base,
      status: 'pass',
      message: `${domain} has one SPF record (${lookups} lookups); Herald is not told which servers send for it, so it cannot tell whether they are authorized`,
      fix: 'set HERALD_SPF_INCLUDE (or HERALD_SENDING_IP) to have the check require the right mechanism',
    };
  }
  return {
    ...base,
    status: 'pass',
    message: `${domain} has one SPF record that includes ${mechanism} (${lookups} of ${SPF_LOOKUP_LIMIT} lookups)`,
    fix: null,
  };
}

/** The record with `mechanism` inserted before its all (or redirect) term. */
function withMechanism(terms: string[], mechanism: string): string {
  const at = terms.findIndex((t) => /^[-~?+]?all$/i.test(t) || /^redirect=/i.test(t));
  const next = [...terms];
  next.splice(at < 0 ? next.length : at, 0, mechanism);
  return ['v=spf1', ...next].join(' ');
}

/** Terms that cost a DNS lookup (RFC 7208 4.6.4), with includes and redirects followed. */
async function countSpfLookups(
  dns: DnsLookup,
  terms: string[],
  seen: Set<string>,
  depth: number,
): Promise<number> {
  let count = 0;
  for (const raw of terms) {
    const term = raw.replace(/^[-~?+]/, '').toLowerCase();
    const target = /^(?:include:|redirect=)(.+)$/.exec(term)?.[1];
    if (target) {
      count++;
      if (depth >= SPF_LOOKUP_LIMIT || seen.has(target)) continue;
      seen.add(target);
      const included = (await dns.txt(target).catch(() => [])).filter(isSpf)[0];
      if (included)
        count += await countSpfLookups(dns, included.trim().split(/\s+/).slice(1), seen, depth + 1);
    } else if (/^(a|mx|ptr|exists)([:/]|$)/.test(term)) {
      count++;
    }
  }
  return count;
}

// ---- DKIM ------------------------------------------------------------------

function tags(record: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of record.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) map.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).replace(/\s+/g, ''));
  }
  return map;
}

async function checkDkim(dns: DnsLookup, domain: CheckedDomain): Promise<CheckItem> {
  const name = `${domain.selector}._domainkey.${domain.domain}`;
  const expected = `v=DKIM1; k=${domain.algorithm}; p=${domain.public_key}`;
  const found = (await dns.txt(name)).filter((r) => /(^|;)\s*p=/i.test(r) || /v=DKIM1/i.test(r));
  const base = { check: 'dkim' as const, name, found };
  if (found.length === 0) {
    return {
      ...base,
      status: 'fail',
      message: `no DKIM record at ${name}: receivers cannot verify Herald's signatures`,
      fix: `publish one TXT record at ${name}: ${expected}`,
    };
  }
  const parsed = found.map(tags);
  if (parsed.some((t) => t.get('p') === domain.public_key && (t.get('k') ?? 'rsa') === domain.algorithm)) {
    return { ...base, status: 'pass', message: `the DKIM record at ${name} holds Herald's key`, fix: null };
  }
  const revoked = parsed.some((t) => t.get('p') === '');
  const wrongType = parsed.some((t) => t.get('p') === domain.public_key);
  return {
    ...base,
    status: 'fail',
    message: revoked
      ? `the DKIM record at ${name} has an empty p=, which revokes the key`
      : wrongType
        ? `the DKIM record at ${name} holds Herald's key with the wrong k= (Herald signs with ${domain.algorithm})`
        : `the DKIM record at ${name} holds a different key than the one Herald signs with (an older or another service's key?)`,
    fix: `replace the record at ${name} with: ${expected}`,
  };
}

// ---- DMARC -----------------------------------------------------------------

interface DmarcRecord {
  /** Where it was found: the From domain or its organizational domain. */
  at: string;
  policy: string;
  adkim: 'r' | 's';
  aspf: 'r' | 's';
}

async function findDmarc(
  dns: DnsLookup,
  fromDomain: string,
): Promise<{ item: CheckItem; record?: DmarcRecord }> {
  const org = organizationalDomain(fromDomain);
  // RFC 7489 6.6.3: the From domain's record, else the organizational domain's.
  for (const at of fromDomain === org ? [fromDomain] : [fromDomain, org]) {
    const name = `_dmarc.${at}`;
    const found = (await dns.txt(name)).filter((r) => /^v=DMARC1(\s*;|\s*$)/i.test(r.trim()));
    if (found.length === 0) continue;
    const base = { check: 'dmarc' as const, name, found };
    if (found.length > 1) {
      return {
        item: {
          ...base,
          status: 'fail',
          message: `${name} has ${found.length} DMARC records; receivers then apply none of them`,
          fix: `keep one TXT record at ${name}, e.g. v=DMARC1; p=none; rua=mailto:dmarc-reports@${org}`,
        },
      };
    }
    const t = tags(found[0] as string);
    const subdomain = at !== fromDomain;
    const policy = ((subdomain ? t.get('sp') : undefined) ?? t.get('p') ?? '').toLowerCase();
    const record: DmarcRecord = {
      at,
      policy,
      adkim: t.get('adkim')?.toLowerCase() === 's' ? 's' : 'r',
      aspf: t.get('aspf')?.toLowerCase() === 's' ? 's' : 'r',
    };
    const where = subdomain ? ` (the organizational domain's record, which covers ${fromDomain})` : '';
    const reports = t.get('rua')
      ? ''
      : ' It asks for no aggregate reports (rua=), so you will not see who sends as you.';
    if (!['none', 'quarantine', 'reject'].includes(policy)) {
      return {
        item: {
          ...base,
          status: 'fail',
          message: `the DMARC record at ${name}${where} has no valid policy (p=${policy || 'missing'})`,
          fix: `set p=none, quarantine or reject, e.g. v=DMARC1; p=none; rua=mailto:dmarc-reports@${org}`,
        },
      };
    }
    if (policy === 'none') {
      return {
        record,
        item: {
          ...base,
          status: 'warn',
          message: `DMARC is published at ${name}${where} with p=none: receivers report but do not act on mail that fails.${reports}`,
          fix: DMARC_PATH,
        },
      };
    }
    const partial = t.get('pct') && t.get('pct') !== '100' ? ` for ${t.get('pct')}% of failing mail` : '';
    return {
      record,
      item: {
        ...base,
        status: 'pass',
        message: `DMARC is published at ${name}${where} with p=${policy}${partial}.${reports}`,
        fix: partial ? 'raise pct to 100 once the reports show your mail passes' : null,
      },
    };
  }
  return {
    item: {
      check: 'dmarc',
      status: 'fail',
      name: `_dmarc.${fromDomain}`,
      found: [],
      message: `no DMARC record for ${fromDomain}${fromDomain === org ? '' : ` or ${org}`}; Gmail and Yahoo require one from bulk senders`,
      fix: `publish a TXT record at _dmarc.${org}: v=DMARC1; p=none; rua=mailto:dmarc-reports@${org}. ${DMARC_PATH}`,
    },
  };
}

/**
 * DMARC passes when SPF or DKIM passes for a domain aligned with the From
 * domain. Herald signs with d=<sending domain>; DKIM aligns strictly when d=
 * equals the From domain, relaxed when both have the same organizational
 * domain. SPF is checked for the Return-Path domain: b-<token>@<From domain>
 * by default, which aligns in either mode; with a return_path_domain it
 * aligns relaxed through the shared organizational domain, and strictly
 * (aspf=s) only when it equals the From domain.
 */
function checkAlignment(
  signingDomain: string,
  fromDomain: string,
  returnPathDomain: string | undefined,
  dmarc: DmarcRecord | undefined,
): CheckItem {
  const mode = dmarc?.adkim ?? 'r';
  const spfMode = dmarc?.aspf ?? 'r';
  const base = { check: 'alignment' as const, name: fromDomain, found: [] };
  if (!isWithin(fromDomain, signingDomain)) {
    return {
      ...base,
      status: 'fail',
      message: `mail from ${fromDomain} is not signed with this domain's key: Herald signs with the sending domain of the From address or its closest parent, and ${signingDomain} is neither`,
      fix: `send from an address at ${signingDomain} (or a subdomain of it), or add ${fromDomain} as a sending domain`,
    };
  }
  const aligned =
    mode === 's'
      ? fromDomain === signingDomain
      : organizationalDomain(fromDomain) === organizationalDomain(signingDomain);
  if (!aligned) {
    return {
      ...base,
      status: 'fail',
      message: `the DMARC record asks for strict DKIM alignment (adkim=s), but mail from ${fromDomain} is signed d=${signingDomain}`,
      fix: `send from an address at exactly ${signingDomain}, add ${fromDomain} as its own sending domain, or remove adkim=s from the DMARC record`,
    };
  }
  const dkim = `From ${fromDomain} aligns with DKIM d=${signingDomain} (${mode === 's' ? 'strict' : 'relaxed'})`;
  const envelope = returnPathDomain ?? fromDomain;
  const spfAligned =
    spfMode === 's'
      ? envelope === fromDomain
      : organizationalDomain(envelope) === organizationalDomain(fromDomain);
  if (!spfAligned) {
    return {
      ...base,
      status: 'fail',
      message:
        spfMode === 's'
          ? `${dkim}, but the DMARC record asks for strict SPF alignment (aspf=s) and the Return-Path domain ${envelope} is not ${fromDomain}: SPF cannot count for DMARC, which then rests on DKIM alone`
          : `${dkim}, but the Return-Path domain ${envelope} does not share the organizational domain of ${fromDomain}: SPF cannot count for DMARC, which then rests on DKIM alone`,
      fix:
        spfMode === 's'
          ? `remove aspf=s from the DMARC record (relaxed alignment accepts ${envelope}), or clear the Return-Path domain (PATCH the sending domain with "return_path_domain": null) so bounces go to the From domain`
          : `set a Return-Path domain under ${organizationalDomain(fromDomain)}, e.g. bounces.${signingDomain}`,
    };
  }
  return {
    ...base,
    status: 'pass',
    message: returnPathDomain
      ? `${dkim} and, for SPF, with the Return-Path domain ${envelope} (${spfMode === 's' ? 'strict' : 'relaxed: the same organizational domain'})`
      : `${dkim} and with the Return-Path domain ${fromDomain}`,
    fix: null,
  };
}

// ---- MX and PTR ------------------------------------------------------------

async function checkMx(
  dns: DnsLookup,
  name: string,
  settings: AuthenticationSettings,
  returnPath: boolean,
): Promise<CheckItem> {
  const records = await dns.mx(name);
  const found = records.map((r) => `${r.priority} ${r.exchange}`);
  const role = returnPath
    ? ` (the Return-Path domain: bounces to b-<token>@${name} are delivered there)`
    : '';
  const base = { check: 'mx' as const, name, found };
  if (records.length === 0) {
    return {
      ...base,
      status: 'fail',
      message: `${name} has no MX record${role}; many receivers refuse mail whose envelope sender domain cannot receive mail`,
      fix: `publish an MX record at ${name}${settings.bounceMxHost ? `: 10 ${settings.bounceMxHost}` : ' pointing to the server that receives its mail'}`,
    };
  }
  const host = settings.bounceMxHost?.toLowerCase().replace(/\.$/, '');
  if (returnPath && host && !records.some((r) => r.exchange.toLowerCase().replace(/\.$/, '') === host)) {
    return {
      ...base,
      status: 'warn',
      message: `${name} has MX records${role}, but none is the bounce host ${host}`,
      fix: `make sure the server behind ${found.join(', ')} hands b-* addresses to the bounce mailbox, or point the MX to ${host}`,
    };
  }
  return { ...base, status: 'pass', message: `${name} has MX records${role}`, fix: null };
}

async function checkPtr(dns: DnsLookup, ip: string): Promise<CheckItem> {
  const names = await dns.ptr(ip);
  const base = { check: 'ptr' as const, name: ip, found: names };
  if (names.length === 0) {
    return {
      ...base,
      status: 'fail',
      message: `the sending IP ${ip} has no PTR record (reverse DNS); many receivers reject or junk mail from such addresses`,
      fix: `ask whoever runs ${ip} (hosting provider, ISP) to set its PTR to a host name that resolves back to ${ip}`,
    };
  }
  for (const name of names) {
    if ((await dns.addresses(name)).includes(ip)) {
      return {
        ...base,
        status: 'pass',
        message: `${ip} has PTR ${name}, which resolves back to it`,
        fix: null,
      };
    }
  }
  return {
    ...base,
    status: 'warn',
    message: `${ip} has PTR ${names.join(', ')}, but no such name resolves back to ${ip} (forward-confirmed reverse DNS fails)`,
    fix: `publish an A (or AAAA) record for ${names[0]} pointing to ${ip}`,
  };
}
