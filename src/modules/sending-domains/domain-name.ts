import { domainToASCII } from 'node:url';
import { getDomain } from 'tldts';

/**
 * Normalizes a domain name to lowercase ASCII (punycode for international
 * names), or says what is wrong with it.
 */
export function normalizeDomain(input: string): { domain: string } | { error: string } {
  const trimmed = input.trim().replace(/\.$/, '');
  if (!trimmed) return { error: 'the domain is empty' };
  if (/[\s/@:]/.test(trimmed)) return { error: 'give a bare domain name such as mail.example.com' };
  const ascii = domainToASCII(trimmed).toLowerCase();
  if (!ascii) return { error: `"${input}" is not a valid domain name` };
  if (ascii.length > 253) return { error: 'a domain name is at most 253 characters' };
  const labels = ascii.split('.');
  if (labels.length < 2) return { error: 'give a fully qualified domain name such as mail.example.com' };
  for (const label of labels) {
    if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) {
      return {
        error: `"${label}" is not a valid label: use letters, digits and inner hyphens, 1-63 characters`,
      };
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] as string))
    return { error: 'an IP address is not a domain name' };
  return { domain: ascii };
}

/** A DKIM selector: one or more DNS labels. */
export function isValidSelector(selector: string): boolean {
  return (
    selector.length <= 63 &&
    selector.split('.').every((label) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i.test(label))
  );
}

/** The domain and each parent with at least two labels, most specific first. */
export function domainAndParents(domain: string): string[] {
  const labels = domain.toLowerCase().split('.');
  const names: string[] = [];
  for (let i = 0; i <= labels.length - 2; i++) names.push(labels.slice(i).join('.'));
  return names;
}

/**
 * The organizational domain for relaxed DMARC alignment (RFC 7489 3.2): the
 * registrable domain under the Public Suffix List (tldts), private suffixes
 * included, so shop.example.co.uk gives example.co.uk and two customers
 * under github.io (alice.github.io, bob.github.io) do not align with each
 * other. A name the list gives no registrable domain for (a public suffix
 * itself, such as github.io) falls back to its last two labels.
 */
export function organizationalDomain(domain: string): string {
  const name = domain.toLowerCase().replace(/\.$/, '');
  const registrable = getDomain(name, { allowPrivateDomains: true, extractHostname: false });
  return registrable ?? name.split('.').slice(-2).join('.');
}

/**
 * Why `returnPathDomain` cannot be the Return-Path (envelope sender) domain
 * of mail signed by `sendingDomain`, or undefined when it can: it must be
 * the sending domain, one of its subdomains, or share its organizational
 * domain, so that SPF, which receivers check for the envelope domain,
 * aligns with the From domain under relaxed DMARC alignment. Both names are
 * normalized.
 */
export function returnPathDomainProblem(returnPathDomain: string, sendingDomain: string): string | undefined {
  if (isWithin(returnPathDomain, sendingDomain)) return undefined;
  const org = organizationalDomain(sendingDomain);
  if (organizationalDomain(returnPathDomain) === org) return undefined;
  return (
    `${returnPathDomain} is not under ${sendingDomain} and does not share its organizational domain ${org}, ` +
    'so SPF for the bounce address would not align with the From domain and DMARC could not pass through SPF; ' +
    `use a subdomain such as bounces.${sendingDomain}`
  );
}

/** Whether `name` is `domain` or one of its subdomains. */
export function isWithin(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}
