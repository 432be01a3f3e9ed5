import { domainToASCII } from 'node:url';

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
 * Second-level labels under which registries sell names on a two-letter
 * country code (example.co.uk, example.com.au): the few public suffixes of
 * two labels that the organizational-domain rule knows.
 */
const COUNTRY_SECOND_LEVELS = new Set(['co', 'com', 'net', 'org', 'gov', 'edu', 'ac', 'or', 'ne', 'go']);

/**
 * The organizational domain for relaxed DMARC alignment (RFC 7489 3.2),
 * simplified instead of the full Public Suffix List: the last two labels, or
 * the last three when the name ends in one of the common `<co|com|...>.<cc>`
 * suffixes. Good enough to align mail.example.com with example.com and
 * shop.example.co.uk with example.co.uk; private suffixes (github.io and the
 * like) are not known, so two customers under one of them would align.
 */
export function organizationalDomain(domain: string): string {
  const labels = domain.toLowerCase().replace(/\.$/, '').split('.');
  const tld = labels[labels.length - 1] ?? '';
  const second = labels[labels.length - 2] ?? '';
  const take = labels.length >= 3 && tld.length === 2 && COUNTRY_SECOND_LEVELS.has(second) ? 3 : 2;
  return labels.slice(-take).join('.');
}

/** Whether `name` is `domain` or one of its subdomains. */
export function isWithin(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}
