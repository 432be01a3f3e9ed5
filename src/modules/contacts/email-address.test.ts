import { describe, expect, it } from 'vitest';
import { normalizeEmail } from './email-address.js';

describe('normalizeEmail', () => {
  it('trims, lower-cases the domain and keeps the local part', () => {
    expect(normalizeEmail('  Ann.Lee@Example.COM ')).toEqual({ ok: true, email: 'Ann.Lee@example.com' });
  });

  it('converts an internationalized domain to punycode', () => {
    expect(normalizeEmail('jürgen@Bücher.de')).toEqual({ ok: true, email: 'jürgen@xn--bcher-kva.de' });
  });

  it('accepts plus addressing and quoted local parts', () => {
    expect(normalizeEmail('a+tag@x.io').ok).toBe(true);
    expect(normalizeEmail('"john doe"@x.io').ok).toBe(true);
  });

  it.each([
    ['', 'empty'],
    ['plainaddress', 'no @'],
    ['@x.io', 'nothing before'],
    ['a@', 'no domain'],
    ['a@localhost', 'no top-level domain'],
    ['a..b@x.io', 'two dots'],
    ['.a@x.io', 'starts or ends with a dot'],
    ['a b@x.io', 'whitespace'],
    ['a@-x.io', 'not a valid domain'],
    ['a@x.123', 'numeric top-level'],
    ['a@[1.2.3.4]', 'address literals'],
    [`${'a'.repeat(65)}@x.io`, 'longer than 64'],
    [`a@${'b'.repeat(64)}.io`, 'longer than 63'],
    [`${'a'.repeat(64)}@${'b.'.repeat(95)}io`, 'longer than 254'],
  ])('refuses %j with a reason (%s)', (input, reason) => {
    const result = normalizeEmail(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reason);
  });
});
