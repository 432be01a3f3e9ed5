import { describe, expect, it } from 'vitest';
import { normalizeEvent } from './event-payloads.js';

const receivedAt = new Date('2026-03-15T12:00:00.000Z');
const options = {
  receivedAt,
  oldestAllowed: new Date('2025-03-15T12:00:00Z'),
  retentionDays: 365,
  path: '/batch/0',
};

describe('normalizeEvent', () => {
  it('corrects originalTimestamp by the clock skew sentAt shows, and keeps an explicit timestamp', () => {
    const skewed = normalizeEvent(
      {
        type: 'track',
        userId: 'u',
        event: 'E',
        originalTimestamp: '2026-03-15T12:09:00Z',
        sentAt: '2026-03-15T12:10:00Z',
      },
      undefined,
      options,
    );
    expect(skewed.ok && skewed.event.occurredAt.toISOString()).toBe('2026-03-15T11:59:00.000Z');
    const batchSentAt = normalizeEvent(
      { type: 'track', userId: 'u', event: 'E', originalTimestamp: '2026-03-15T12:09:00Z' },
      undefined,
      { ...options, batch: { sentAt: '2026-03-15T12:10:00Z' } },
    );
    expect(batchSentAt.ok && batchSentAt.event.occurredAt.toISOString()).toBe('2026-03-15T11:59:00.000Z');
    const explicit = normalizeEvent(
      { userId: 'u', event: 'E', timestamp: '2026-03-01T00:00:00+01:00', sentAt: '2026-03-15T12:10:00Z' },
      'track',
      options,
    );
    expect(explicit.ok && explicit.event.occurredAt.toISOString()).toBe('2026-02-28T23:00:00.000Z');
  });

  it('reads numeric ids as text and gives events without a messageId one', () => {
    const result = normalizeEvent({ userId: 42, anonymousId: 7, event: 'E' }, 'track', options);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.event).toMatchObject({ userId: '42', anonymousId: '7', name: 'E', type: 'track' });
    expect(result.event.messageId).toMatch(/^herald-/);
  });

  it('refuses text PostgreSQL cannot store and nesting deeper than 64 levels', () => {
    const nul = normalizeEvent({ userId: 'u', event: 'E', properties: { a: 'x\u0000' } }, 'track', options);
    expect(nul).toEqual({
      ok: false,
      errors: [
        { path: '/batch/0', message: 'the event contains a NUL character (\\u0000), which cannot be stored' },
      ],
    });
    const lone = normalizeEvent({ userId: 'u', event: 'E', properties: { a: '\ud83d' } }, 'track', options);
    expect(lone.ok).toBe(false);
    const pair = normalizeEvent(
      { userId: 'u', event: 'E', properties: { a: '\ud83d\ude00 \\u0000' } },
      'track',
      options,
    );
    expect(pair.ok).toBe(true);
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = [deep];
    const nested = normalizeEvent({ userId: 'u', event: 'E', properties: { deep } }, 'track', options);
    expect(nested.ok === false && nested.errors[0]?.message).toBe('the event nests deeper than 64 levels');
  });

  it('keeps page names and categories', () => {
    const page = normalizeEvent(
      { anonymousId: 'a', name: 'Pricing', category: 'Docs', properties: { path: '/p' } },
      'page',
      options,
    );
    expect(page.ok && page.event).toMatchObject({
      type: 'page',
      name: 'Pricing',
      properties: { path: '/p', category: 'Docs' },
    });
  });
});
