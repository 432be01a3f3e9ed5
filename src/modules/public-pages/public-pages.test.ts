import { describe, expect, it } from 'vitest';
import { acceptedLanguages } from '../../http/accept-language.js';
import { createManualClock } from '../../lib/clock.js';
import { parseFormBody } from './form-body.js';
import { pageStrings } from './page-strings.js';
import { createWindowLimiter } from './submission-limiter.js';

describe('form bodies', () => {
  it('reads urlencoded fields, repeated names in order', async () => {
    const fields = await parseFormBody(
      'application/x-www-form-urlencoded; charset=UTF-8',
      Buffer.from('list=a&list=b&email=j%C3%B6rg%40example.com&List-Unsubscribe=One-Click'),
    );
    expect(fields.get('list')).toEqual(['a', 'b']);
    expect(fields.get('email')).toEqual(['jörg@example.com']);
    expect(fields.get('List-Unsubscribe')).toEqual(['One-Click']);
  });

  it('reads multipart text fields and ignores files', async () => {
    const body =
      '--xyz\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n' +
      '--xyz\r\nContent-Disposition: form-data; name="upload"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n' +
      '--xyz--\r\n';
    const fields = await parseFormBody('multipart/form-data; boundary=xyz', Buffer.from(body));
    expect(fields.get('List-Unsubscribe')).toEqual(['One-Click']);
    expect(fields.has('upload')).toBe(false);
  });

  it('gives no fields for malformed multipart, JSON or no content type', async () => {
    expect((await parseFormBody('multipart/form-data; boundary=xyz', Buffer.from('garbage'))).size).toBe(0);
    expect((await parseFormBody('application/json', Buffer.from('{"email":"a@b.c"}'))).size).toBe(0);
    expect((await parseFormBody(undefined, Buffer.from('email=a%40b.c'))).size).toBe(0);
  });
});

describe('page languages', () => {
  it('orders Accept-Language by preference and drops q=0 and wildcards', () => {
    expect(acceptedLanguages('fr;q=0.5, de-AT, en;q=0.8, *;q=0.1, it;q=0')).toEqual(['de-AT', 'en', 'fr']);
    expect(acceptedLanguages(undefined)).toEqual([]);
    expect(acceptedLanguages('')).toEqual([]);
  });

  it('picks the first language it has by primary subtag, else English', () => {
    expect(pageStrings('de-CH').lang).toBe('de');
    expect(pageStrings(null, 'fr', 'de_DE').lang).toBe('de');
    expect(pageStrings('fr', 'pt-BR').lang).toBe('en');
    expect(pageStrings().lang).toBe('en');
  });
});

describe('window limiter', () => {
  it('allows max per window per key, then again in the next window', () => {
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const limiter = createWindowLimiter({ clock, max: 2, windowMs: 1000 });
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([true, true, false]);
    expect(limiter.take('b')).toBe(true);
    clock.advance(1000);
    expect(limiter.take('a')).toBe(true);
  });

  it('stays bounded, forgetting the oldest keys first', () => {
    const clock = createManualClock(new Date('2026-01-01T00:00:00Z'));
    const limiter = createWindowLimiter({ clock, max: 1, windowMs: 60_000, maxKeys: 3 });
    for (const key of ['a', 'b', 'c']) expect(limiter.take(key)).toBe(true);
    expect(limiter.take('c')).toBe(false);
    expect(limiter.take('d')).toBe(true); // evicts a
    expect(limiter.take('a')).toBe(true);
    expect(limiter.take('d')).toBe(false);
  });
});
