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

/** What a workspace does with each finding (workspaces columns hygiene_*, migration 0024). */
export interface HygienePolicy {
  role_accounts: 'warn' | 'off';
  typos: 'warn' | 'off';
  disposable: 'reject' | 'warn' | 'off';
  /** Look up the domain in DNS (`mx-check.ts`) and refuse one that takes no mail. */
  mx_check: boolean;
}

export const DEFAULT_HYGIENE_POLICY: HygienePolicy = {
  role_accounts: 'warn',
  typos: 'warn',
  disposable: 'reject',
  mx_check: false,
};

/** The refusal of an address whose domain takes no mail (the MX check said so). */
export function noMailError(domain: string, path = '/email'): ErrorDetail {
  return {
    path,
    code: 'no_mx',
    message: `${domain} takes no email: it has no MX or address records in DNS (or a null MX); check the domain`,
  };
}

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
  // Imports repeat a few domains many times: remember the answers (bounded, oldest forgotten first).
  const cached = SUGGESTIONS.get(domain);
  if (cached !== undefined) return cached === '' ? undefined : cached;
  const suggestion = findSuggestion(domain);
  if (SUGGESTIONS.size >= 10_000) SUGGESTIONS.delete(SUGGESTIONS.keys().next().value as string);
  SUGGESTIONS.set(domain, suggestion ?? '');
  return suggestion;
}

const SUGGESTIONS = new Map<string, string>();

// Provider names by suffix, split once: "com" -> [["gmail", "gmail.com"], ...].
const PROVIDERS_BY_SUFFIX = new Map<string, [string, string][]>();
for (const provider of MAILBOX_DOMAINS) {
  const { label, suffix } = splitDomain(provider);
  if (label.length < 4) continue;
  const list = PROVIDERS_BY_SUFFIX.get(suffix) ?? [];
  list.push([label, provider]);
  PROVIDERS_BY_SUFFIX.set(suffix, list);
}

function findSuggestion(domain: string): string | undefined {
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
    for (const [providerLabel, provider] of PROVIDERS_BY_SUFFIX.get(target) ?? []) {
      const distance = editDistance(label, providerLabel, allowed);
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
  const width = b.length + 1;
  // Three rolling rows (two back for the swap), reused across the loop.
  let before = new Int32Array(width);
  let prev = new Int32Array(width);
  let row = new Int32Array(width);
  for (let j = 0; j < width; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    row[0] = i;
    let rowMin = i;
    for (let j = 1; j < width; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let value = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, (before[j - 2] as number) + 1);
      row[j] = value;
      if (value < rowMin) rowMin = value;
    }
    if (rowMin > limit) return limit + 1;
    [before, prev, row] = [prev, row, before];
  }
  return Math.min(prev[b.length] as number, limit + 1);
}
