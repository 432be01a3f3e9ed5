import { describe, expect, it } from 'vitest';
import { retryAfterMs } from './connector-http.js';
import { dataCenterOf } from './mailchimp-client.js';
import {
  type MailchimpSettings,
  memberAttributes,
  optInEvidence,
  planFor,
  tagLists,
} from './mailchimp-mapping.js';

const settings: MailchimpSettings = {
  audience_id: 'aud',
  audience_name: 'Audience',
  list_id: 'list',
  merge_fields: { FNAME: 'first_name', BDAY: 'birthday' },
  tags: { mode: 'lists', lists: { vip: 'vip-list', beta: 'beta-list' } },
};

describe('Mailchimp member mapping', () => {
  it('maps every status', () => {
    expect(planFor('subscribed')).toEqual({ action: 'membership', status: 'confirmed' });
    expect(planFor('pending')).toEqual({ action: 'membership', status: 'unconfirmed' });
    expect(planFor('unsubscribed')).toEqual({ action: 'membership', status: 'unsubscribed' });
    expect(planFor('cleaned')).toEqual({ action: 'suppress' });
    expect(planFor('transactional')).toEqual({ action: 'skip', why: 'transactional' });
    expect(planFor('archived')).toEqual({ action: 'skip', why: 'archived' });
  });

  it('takes mapped merge fields with a value and leaves empty ones alone', () => {
    const member = {
      email_address: 'a@example.com',
      status: 'subscribed' as const,
      merge_fields: { FNAME: 'Ann', BDAY: '', LNAME: 'Unmapped' },
      tags: [{ id: 1, name: 'vip' }],
    };
    expect(memberAttributes(member, settings)).toEqual({ first_name: 'Ann' });
    expect(
      memberAttributes(member, { ...settings, tags: { mode: 'attribute', attribute: 'mc_tags' } }),
    ).toEqual({
      first_name: 'Ann',
      mc_tags: ['vip'],
    });
    expect(
      tagLists(
        {
          ...member,
          tags: [
            { id: 1, name: 'vip' },
            { id: 2, name: 'other' },
          ],
        },
        settings,
      ),
    ).toEqual(['vip-list']);
  });

  it('keeps only a real IP and a readable opt-in time as evidence', () => {
    const base = { email_address: 'a@example.com', status: 'subscribed' as const };
    expect(
      optInEvidence({ ...base, ip_opt: '203.0.113.7', timestamp_opt: '2025-06-01T10:00:00+00:00' }),
    ).toEqual({
      ip: '203.0.113.7',
      opt_in_at: '2025-06-01T10:00:00.000Z',
    });
    expect(optInEvidence({ ...base, ip_opt: '', timestamp_opt: '' })).toEqual({ ip: null, opt_in_at: null });
    expect(optInEvidence({ ...base, ip_opt: 'not an ip' }).ip).toBeNull();
  });

  it('reads the data center from an API key', () => {
    expect(dataCenterOf('0123456789abcdef0123456789abcdef-us21')).toBe('us21');
    expect(dataCenterOf('0123456789abcdef0123456789abcdef')).toBeUndefined();
    expect(dataCenterOf('0123456789abcdef-us21/../evil')).toBeUndefined();
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates, and nothing else', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('7', now)).toBe(7000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});
