import { domainToASCII } from 'node:url';

export type EmailCheck = { ok: true; email: string } | { ok: false; reason: string };

// RFC 5322 atext, extended with UTF-8 as RFC 6531 (SMTPUTF8) allows.
const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+$/u;
// Printable US-ASCII except backslash and quote, or a backslash escape (RFC 5322 qcontent).
const QUOTED_LOCAL = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Normalizes and validates an address as Herald stores it: trimmed, the domain
 * lower-cased and converted to punycode (IDN), within RFC 5321 limits (local
 * part <= 64 octets, domain <= 253 octets, path <= 254). The local part keeps
 * its case. Returns the reason when the address cannot receive mail.
 */
export function normalizeEmail(input: string): EmailCheck {
  const trimmed = input.trim();
  if (trimmed === '') return { ok: false, reason: 'email is empty' };
  const at = trimmed.lastIndexOf('@');
  if (at < 0) return { ok: false, reason: 'email has no @' };
  const local = trimmed.slice(0, at);
  const rawDomain = trimmed.slice(at + 1);
  if (local === '') return { ok: false, reason: 'email has nothing before the @' };
  if (rawDomain === '') return { ok: false, reason: 'email has no domain after the @' };
  if (/\s/.test(local) && !local.startsWith('"')) return { ok: false, reason: 'email contains whitespace' };

  const localCheck = checkLocalPart(local);
  if (localCheck) return { ok: false, reason: localCheck };

  if (rawDomain.startsWith('['))
    return { ok: false, reason: 'address literals ([1.2.3.4]) are not accepted' };
  const lowerDomain = rawDomain.toLowerCase().replace(/\.$/, '');
  if (/\.[0-9]+$/.test(lowerDomain)) {
    return { ok: false, reason: `domain "${rawDomain}" has a numeric top-level domain` };
  }
  const domain = domainToASCII(lowerDomain);
  if (domain === '') return { ok: false, reason: `domain "${rawDomain}" is not a valid domain name` };
  if (Buffer.byteLength(domain) > 253) return { ok: false, reason: 'domain is longer than 253 characters' };
  const labels = domain.split('.');
  if (labels.length < 2) return { ok: false, reason: `domain "${rawDomain}" has no top-level domain` };
  for (const label of labels) {
    if (label.length > 63)
      return { ok: false, reason: `domain label "${label}" is longer than 63 characters` };
    if (!LABEL.test(label)) return { ok: false, reason: `domain "${rawDomain}" is not a valid domain name` };
  }

  const email = `${local}@${domain}`;
  if (Buffer.byteLength(email) > 254) return { ok: false, reason: 'email is longer than 254 characters' };
  return { ok: true, email };
}

function checkLocalPart(local: string): string | undefined {
  if (Buffer.byteLength(local) > 64) return 'the part before the @ is longer than 64 characters';
  if (local.startsWith('"')) {
    return QUOTED_LOCAL.test(local) ? undefined : 'the quoted part before the @ is malformed';
  }
  if (local.startsWith('.') || local.endsWith('.')) return 'the part before the @ starts or ends with a dot';
  if (local.includes('..')) return 'the part before the @ contains two dots in a row';
  for (const atom of local.split('.')) {
    if (!ATEXT.test(atom)) return 'the part before the @ contains a character not allowed in an address';
  }
  return undefined;
}
