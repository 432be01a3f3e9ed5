import { describe, expect, it } from 'vitest';
import {
  applyHygienePolicy,
  classifyEmail,
  DEFAULT_HYGIENE_POLICY,
  editDistance,
  inspectEmail,
} from './email-hygiene.js';
import { DISPOSABLE_DOMAINS, MAILBOX_DOMAINS } from './email-hygiene-data.js';

const codes = (email: string) => inspectEmail(email).map((f) => f.code);
const suggestion = (email: string) => inspectEmail(email).find((f) => f.code === 'possible_typo')?.suggestion;

describe('email hygiene', () => {
  it.each([
    // [address, findings, suggestion]
    ['ada@example.com', [], undefined],
    ['ada@acme.io', [], undefined],
    ['ada@shop.example', [], undefined],
    ['ada@gmail.com', [], undefined],
    ['info@example.com', ['role_account'], undefined],
    ['Admin@example.com', ['role_account'], undefined],
    ['support+tickets@example.com', ['role_account'], undefined],
    ['noreply@example.com', ['role_account'], undefined],
    ['postmaster@example.com', ['role_account'], undefined],
    ['information@example.com', [], undefined],
    ['ada@mailinator.com', ['disposable_domain'], undefined],
    ['ada@x.mailinator.com', ['disposable_domain'], undefined],
    ['ada@yopmail.com', ['disposable_domain'], undefined],
    ['ada@10minutemail.com', ['disposable_domain'], undefined],
    ['ada@guerrillamail.com', ['disposable_domain'], undefined],
    ['ada@notmailinator.com', [], undefined],
    ['ada@gmial.com', ['possible_typo'], 'ada@gmail.com'],
    ['ada@gmai.com', ['possible_typo'], 'ada@gmail.com'],
    ['ada@gnail.com', ['possible_typo'], 'ada@gmail.com'],
    ['Ada.Lovelace@gmaill.com', ['possible_typo'], 'Ada.Lovelace@gmail.com'],
    ['ada@hotmial.com', ['possible_typo'], 'ada@hotmail.com'],
    ['ada@yaho.com', ['possible_typo'], 'ada@yahoo.com'],
    ['ada@outlok.com', ['possible_typo'], 'ada@outlook.com'],
    ['ada@gmail.con', ['possible_typo'], 'ada@gmail.com'],
    ['ada@gmail.cmo', ['possible_typo'], 'ada@gmail.com'],
    ['ada@hotmial.con', ['possible_typo'], 'ada@hotmail.com'],
    ['ada@gmail.co', ['possible_typo'], 'ada@gmail.com'],
    ['ada@acme.con', [], undefined],
    ['info@gmial.com', ['role_account', 'possible_typo'], 'info@gmail.com'],
    // False-positive guards: real providers and company domains near popular ones.
    ['ada@gmx.com', [], undefined],
    ['ada@gmx.net', [], undefined],
    ['ada@gmx.de', [], undefined],
    ['ada@ymail.com', [], undefined],
    ['ada@mail.com', [], undefined],
    ['ada@email.com', [], undefined],
    ['ada@me.com', [], undefined],
    ['ada@mac.com', [], undefined],
    ['ada@aol.com', [], undefined],
    ['ada@yahoo.co.jp', [], undefined],
    ['ada@yahoo.co.uk', [], undefined],
    ['ada@hotmail.co.uk', [], undefined],
    ['ada@gmail.co.uk', [], undefined],
    ['ada@example.co', [], undefined],
    ['ada@cloud.com', [], undefined],
    ['ada@notyahoo.com', [], undefined],
    ['ada@mail.gmial.com', [], undefined],
    ['ada@163.com', [], undefined],
    ['ada@126.com', [], undefined],
    ['ada@x.io', [], undefined],
  ] as const)('%s -> %j', (email, expected, suggested) => {
    expect(codes(email)).toEqual(expected);
    expect(suggestion(email)).toBe(suggested);
  });

  it('never suggests a provider domain for another provider domain', () => {
    for (const domain of MAILBOX_DOMAINS) expect(codes(`ada@${domain}`), domain).toEqual([]);
  });

  it('keeps the lists consistent: no provider is listed as disposable', () => {
    const disposable = new Set(DISPOSABLE_DOMAINS);
    for (const domain of MAILBOX_DOMAINS) expect(disposable.has(domain), domain).toBe(false);
    expect(DISPOSABLE_DOMAINS.length).toBeGreaterThanOrEqual(90);
    expect(new Set(DISPOSABLE_DOMAINS).size).toBe(DISPOSABLE_DOMAINS.length);
  });

  it('leaves syntax to normalizeEmail', () => {
    expect(classifyEmail('not-an-address')).toEqual({ ok: false, reason: 'email has no @' });
    expect(classifyEmail(' Info@GMIAL.com ')).toMatchObject({
      ok: true,
      email: 'Info@gmial.com',
      findings: [{ code: 'role_account' }, { code: 'possible_typo', suggestion: 'Info@gmail.com' }],
    });
  });

  it('applies the policy: warnings by default, disposable refused, or warned, or ignored', () => {
    const findings = inspectEmail('info@mailinator.com');
    const strict = applyHygienePolicy(findings, DEFAULT_HYGIENE_POLICY);
    expect(strict.error).toMatchObject({ path: '/email', code: 'disposable_domain' });
    expect(strict.error?.message).toContain('mailinator.com is a disposable');
    expect(strict.warnings.map((w) => w.code)).toEqual(['role_account']);
    const lenient = applyHygienePolicy(findings, { ...DEFAULT_HYGIENE_POLICY, disposable: 'warn' });
    expect(lenient.error).toBeUndefined();
    expect(lenient.warnings.map((w) => w.code)).toEqual(['disposable_domain', 'role_account']);
    const off = applyHygienePolicy(
      findings,
      { role_accounts: 'off', typos: 'off', disposable: 'off', mx_check: false },
      '/x',
    );
    expect(off).toEqual({ warnings: [] });
    const typo = applyHygienePolicy(inspectEmail('ada@gmial.com'), DEFAULT_HYGIENE_POLICY);
    expect(typo.warnings).toEqual([
      {
        path: '/email',
        code: 'possible_typo',
        message: 'the domain gmial.com looks like a typo of gmail.com; did you mean ada@gmail.com?',
        suggestion: 'ada@gmail.com',
      },
    ]);
  });

  it('counts edits with adjacent swaps and stops past the limit', () => {
    expect(editDistance('gmial', 'gmail', 2)).toBe(1);
    expect(editDistance('gmai', 'gmail', 2)).toBe(1);
    expect(editDistance('gmx', 'gmail', 2)).toBe(3);
    expect(editDistance('kitten', 'sitting', 5)).toBe(3);
    expect(editDistance('abc', 'abc', 0)).toBe(0);
  });
});
