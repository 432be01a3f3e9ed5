import { type DkimAlgorithm, dkimDnsRecord } from '../../mail/dkim.js';
import { organizationalDomain } from './domain-name.js';

/** What the sending-domain records and check need to know about Herald's own setup. */
export interface AuthenticationSettings {
  /** SPF include of the servers that send (HERALD_SPF_INCLUDE). */
  spfInclude?: string | undefined;
  /** The IP mail leaves from (HERALD_SENDING_IP), for PTR and an ip4:/ip6: SPF suggestion. */
  sendingIp?: string | undefined;
  /** The host that receives bounces (HERALD_BOUNCE_MX_HOST). */
  bounceMxHost?: string | undefined;
}

export interface DnsRecordToPublish {
  purpose: 'dkim' | 'spf' | 'dmarc' | 'bounce';
  name: string;
  type: 'TXT' | 'MX';
  value: string;
  note: string;
}

/** The SPF mechanism that authorizes Herald's senders, or undefined when Herald is not told. */
export function spfMechanism(settings: AuthenticationSettings): string | undefined {
  if (settings.spfInclude) return `include:${settings.spfInclude}`;
  if (settings.sendingIp) return `${settings.sendingIp.includes(':') ? 'ip6' : 'ip4'}:${settings.sendingIp}`;
  return undefined;
}

export const DMARC_PATH =
  'Start with p=none and read the aggregate reports (rua) for a few weeks; once all your legitimate mail ' +
  'passes SPF or DKIM aligned with its From domain, move to p=quarantine (pct=25, then 100) and then to p=reject.';

/**
 * The records a domain needs before Herald sends from it: DKIM (Herald's
 * key), SPF, a DMARC start and, when a bounce host is configured, the MX
 * that receives bounces. Herald's VERP Return-Path is b-<token>@<From
 * domain> (mail/message-builder.ts), so SPF and bounces are about the
 * sending domain itself; with a return_path_domain the Return-Path is
 * b-<token>@<return_path_domain>, and SPF and the bounce MX move there
 * while DKIM and DMARC stay on the sending domain.
 */
export function recordsToPublish(
  domain: {
    domain: string;
    selector: string;
    algorithm: DkimAlgorithm;
    public_key: string;
    return_path_domain: string | null;
  },
  settings: AuthenticationSettings,
): DnsRecordToPublish[] {
  const dkim = dkimDnsRecord(domain.selector, domain.domain, domain.algorithm, domain.public_key);
  const mechanism = spfMechanism(settings);
  const returnPath = domain.return_path_domain;
  const envelope = returnPath ?? domain.domain;
  const aligned = returnPath
    ? ` Receivers check SPF for the envelope sender's domain, which is ${returnPath} (Herald's Return-Path b-<token>@${returnPath}), not the From domain; it aligns with From addresses at ${domain.domain} under relaxed DMARC alignment because they share the organizational domain ${organizationalDomain(domain.domain)}.`
    : '';
  const records: DnsRecordToPublish[] = [
    {
      purpose: 'dkim',
      ...dkim,
      note:
        'Herald signs with this key (d=' +
        domain.domain +
        ', s=' +
        domain.selector +
        '). Publish it exactly.',
    },
    {
      purpose: 'spf',
      name: envelope,
      type: 'TXT',
      value: `v=spf1 ${mechanism ?? 'mx'} ~all`,
      note:
        (mechanism
          ? `Authorizes Herald's senders (${mechanism}).`
          : 'Herald is not told which servers send for it (HERALD_SPF_INCLUDE or HERALD_SENDING_IP): this suggestion authorizes your MX hosts only; use the include: or ip4: of the server or provider your transport relays through.') +
        aligned +
        ` A domain has at most one SPF record: if one exists, add ${mechanism ?? 'the mechanism'} to it before its all term instead of publishing a second.`,
    },
    {
      purpose: 'dmarc',
      name: `_dmarc.${domain.domain}`,
      type: 'TXT',
      value: `v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain.domain}`,
      note: `${DMARC_PATH} A DMARC record on the organizational domain already covers this one.${returnPath ? ' Leave aspf relaxed (the default): aspf=s would not align SPF for the Return-Path domain.' : ''}`,
    },
  ];
  if (settings.bounceMxHost) {
    records.push({
      purpose: 'bounce',
      name: envelope,
      type: 'MX',
      value: `10 ${settings.bounceMxHost}`,
      note: returnPath
        ? `Herald's Return-Path is b-<token>@${returnPath}, so bounces arrive at this domain's MX. ` +
          `It is a domain for bounces only, so ${domain.domain} keeps its own MX for the rest of its mail.`
        : `Herald's Return-Path is b-<token>@${domain.domain}, so bounces arrive at this domain's MX. ` +
          'Publish this MX only if the domain receives no other mail; otherwise have your mail server hand b-* addresses to the bounce mailbox, or set a return_path_domain.',
    });
  }
  return records;
}
