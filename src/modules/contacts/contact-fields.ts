import { DomainError, type ErrorDetail } from '../../lib/errors.js';
import { normalizeEmail } from './email-address.js';

/** Validation of the built-in contact fields, shared by the API and CSV import. */

export function checkEmail(input: string, path = '/email'): { email: string } | { error: ErrorDetail } {
  const result = normalizeEmail(input);
  return result.ok
    ? { email: result.email }
    : { error: { path, message: `invalid email: ${result.reason}` } };
}

export function requireEmail(input: string, path = '/email'): string {
  const checked = checkEmail(input, path);
  if ('error' in checked) throw new DomainError('INVALID_EMAIL', checked.error.message, [checked.error]);
  return checked.email;
}

export function checkTimezone(value: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: value }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

export function checkLocale(value: string): string | undefined {
  try {
    return Intl.getCanonicalLocales(value)[0];
  } catch {
    return undefined;
  }
}

const TAG = /^[^\s,;][^,;]{0,63}$/u;

export function checkTags(tags: string[], path = '/tags'): { tags: string[]; errors: ErrorDetail[] } {
  const errors: ErrorDetail[] = [];
  const clean = new Set<string>();
  tags.forEach((raw, index) => {
    const tag = raw.trim();
    if (!TAG.test(tag))
      errors.push({
        path: `${path}/${index}`,
        message: `tag "${raw}" must be 1-64 characters without , or ;`,
      });
    else clean.add(tag);
  });
  return { tags: [...clean].sort(), errors };
}
