import type { ErrorDetail } from '../../lib/errors.js';
import { normalizeEmail } from './email-address.js';
import {
  DISPOSABLE_DOMAINS,
  MAILBOX_DOMAINS,
  NOT_TYPOS,
  PROVIDER_TLD_SLIPS,
  ROLE_LOCAL_PARTS,
  TLD_TYPOS,
} from './email-hygiene-data.js';

/**
 * List hygiene: what else than syntax is worth knowing about an address
 * before it is stored. Pure and synchronous; syntax stays in
 * `email-address.ts` (`normalizeEmail`), the one source of truth, and this
 * module only looks at addresses that passed it.
 */

export type HygieneCode = 'role_account' | 'possible_typo' | 'disposable_domain';

export interface HygieneFinding {
  code: HygieneCode;
  message: string;
  /** The corrected address, for possible_typo. */
  suggestion?: string;
}

/** What a workspace does with each finding (workspaces columns hygiene_*, migration 0030). */
export interface HygienePolicy {
  role_accounts: 'warn' | 'off';
  typos: 'warn' | 'off';
  disposable: 'reject' | 'warn' | 'off';
}

export const DEFAULT_HYGIENE_POLICY: HygienePolicy = {
  role_accounts: 'warn',
  typos: 'warn',
  disposable: 'reject',
};

/** A finding the policy lets through: returned to the caller next to the stored contact. */
export interface HygieneWarning {
  path: string;
  code: HygieneCode;
  message: string;
  suggestion?: string;
}

const ROLES = new Set(ROLE_LOCAL_PARTS);
const DISPOSABLE = new Set(DISPOSABLE_DOMAINS);
const MAILBOX = new Set(MAILBOX_DOMAINS);
const NOT_TYPO = new Set(NOT_TYPOS);
// Registrable suffixes of two labels that the provider list uses; anything else is its last label.
const TWO_LABEL_SUFFIXES = new Set(['co.uk', 'co.jp', 'co.in', 'com.br', 'com.au', 'co.nz', 'com.mx']);

/**
 * Findings for an address already normalized by `normalizeEmail` (domain
 * lower-cased, punycode). Several can apply (a role account at a mistyped
 * domain).
 */
export function inspectEmail(email: string): HygieneFinding[] {
  const at = email.lastIndexOf('@');
  const local = email.slice(0, at).toLowerCase();
  const domain = email.slice(at + 1).toLowerCase();
  const findings: HygieneFinding[] = [];

  if (isDisposable(domain)) {
    findings.push({
      code: 'disposable_domain',
      message: `${domain} is a disposable (temporary) email provider; such addresses stop working within hours`,
    });
  }
  // A +tag does not change whose mailbox it is (info+news@ is still info@).
  const base = local.replace(/\+.*$/, '').replace(/^"|"$/g, '');
  if (ROLES.has(base)) {
    findings.push({
      code: 'role_account',
      message: `${base}@ is a role address (a team or function, often shared or unread), not a person`,
    });
  }
  const suggested = suggestDomain(domain);
  if (suggested) {
    const suggestion = `${email.slice(0, at)}@${suggested}`;
    findings.push({
      code: 'possible_typo',
      message: `the domain ${domain} looks like a typo of ${suggested}; did you mean ${suggestion}?`,
      suggestion,
    });
  }
  return findings;
}

/** The syntax check and the findings in one verdict, for callers that start from raw input. */
export function classifyEmail(
  input: string,
): { ok: true; email: string; findings: HygieneFinding[] } | { ok: false; reason: string } {
  const normalized = normalizeEmail(input);
  if (!normalized.ok) return normalized;
  return { ok: true, email: normalized.email, findings: inspectEmail(normalized.email) };
}

/**
 * Applies a workspace's policy to the findings: which become warnings (the
 * address is stored) and which an error (it is not). The error says what to
 * do about it, for API responses and import row errors alike.
 */
export function applyHygienePolicy(
  findings: HygieneFinding[],
  policy: HygienePolicy,
  path = '/email',
): { warnings: HygieneWarning[]; error?: ErrorDetail } {
  const warnings: HygieneWarning[] = [];
  let error: ErrorDetail | undefined;
  for (const finding of findings) {
    const mode =
      finding.code === 'disposable_domain'
        ? policy.disposable
        : finding.code === 'role_account'
          ? policy.role_accounts
          : policy.typos;
    if (mode === 'off') continue;
    if (mode === 'reject') {
      error ??= {
        path,
        code: finding.code,
        message: `${finding.message}; this workspace refuses them (workspace setting hygiene.disposable)`,
      };
      continue;
    }
    warnings.push({
      path,
      code: finding.code,
      message: finding.message,
      ...(finding.suggestion ? { suggestion: finding.suggestion } : {}),
    });
  }
  return error ? { warnings, error } : { warnings };
}

function isDisposable(domain: string): boolean {
  // The domain and each parent (x.mailinator.com is mailinator too), never the bare TLD.
  for (let d = domain; d.includes('.'); d = d.slice(d.indexOf('.') + 1)) if (DISPOSABLE.has(d)) return true;
  return false;
}

function splitDomain(domain: string): { label: string; suffix: string } {
  const labels = domain.split('.');
  const two = labels.slice(-2).join('.');
  const suffixLength = labels.length > 2 && TWO_LABEL_SUFFIXES.has(two) ? 2 : 1;
  return {
    label: labels.slice(0, -suffixLength).join('.'),
    suffix: labels.slice(-suffixLength).join('.'),
  };
}

/**
 * The popular provider domain a mistyped one most likely meant, or undefined.
 * False positives are the danger (a suggestion on a real company domain), so:
 * known provider domains and a few real near neighbours are never typos;
 * addresses on subdomains are left alone; a misspelt TLD that is not a real
 * one (.con) is fixed after any name, but a real TLD (.co) only after a
 * provider's name; a name is compared only with providers on the same
 * suffix, at most one edit away (two for names of 8+ letters), never for
 * names under 4 letters (gmx, aol, qq), and only when exactly one provider
 * is that close.
 */
export function suggestDomain(domain: string): string | undefined {
  if (MAILBOX.has(domain) || NOT_TYPO.has(domain)) return undefined;
  const { label, suffix } = splitDomain(domain);
  if (label === '' || label.includes('.')) return undefined;
  const fixedSuffix = TLD_TYPOS[suffix] ?? suffix;
  const retyped = `${label}.${fixedSuffix}`;
  if (fixedSuffix !== suffix && MAILBOX.has(retyped)) return retyped;
  const slip = PROVIDER_TLD_SLIPS[suffix];
  if (slip && MAILBOX.has(`${label}.${slip}`)) return `${label}.${slip}`;

  const allowed = label.length >= 8 ? 2 : label.length >= 4 ? 1 : 0;
  if (allowed === 0) return undefined;
  for (const target of [fixedSuffix, slip].filter((s): s is string => s !== undefined)) {
    let best: string | undefined;
    let bestDistance = allowed + 1;
    let ties = 0;
    for (const provider of MAILBOX_DOMAINS) {
      const p = splitDomain(provider);
      if (p.suffix !== target || p.label.length < 4) continue;
      const distance = editDistance(label, p.label, allowed);
      if (distance < bestDistance) {
        best = provider;
        bestDistance = distance;
        ties = 1;
      } else if (distance === bestDistance) ties++;
    }
    if (best && ties === 1) return best;
  }
  return undefined;
}

/**
 * Optimal string alignment distance (Levenshtein plus swapping two adjacent
 * letters, the commonest typing slip: gmial). Returns `limit + 1` as soon as
 * the distance must exceed `limit`.
 */
export function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      }
      row.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (i > 0 && rowMin > limit) return limit + 1;
    rows.push(row);
  }
  return Math.min((rows[a.length] as number[])[b.length] as number, limit + 1);
}
