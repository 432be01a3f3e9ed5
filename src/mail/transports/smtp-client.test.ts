import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeMessageData, parseExtensions } from './smtp-client.js';

/** RFC 5321 by the book, written for clarity: normalize line breaks, stuff dots, terminate. */
function expectedData(raw: Buffer): Buffer {
  const text = raw.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  const stuffed = text.replace(/^\./gm, '..');
  return Buffer.from(stuffed.endsWith('\r\n') ? `${stuffed}.\r\n` : `${stuffed}\r\n.\r\n`, 'latin1');
}

/** What a server keeps: the data without its terminator, dots un-stuffed. */
function unstuff(data: Buffer): Buffer {
  const text = data.toString('latin1');
  return Buffer.from(text.slice(0, -3).replace(/^\.\./gm, '.'), 'latin1');
}

const lines = (...parts: string[]) => Buffer.from(parts.join(''), 'latin1');

describe('encodeMessageData', () => {
  it('leaves a CRLF message without leading dots as it is and appends ".\\r\\n"', () => {
    const raw = lines('Subject: hi\r\n', '\r\n', 'Hello\r\n');
    const { chunks, size, eightBit } = encodeMessageData(raw);
    const data = Buffer.concat(chunks);
    expect(data.toString('latin1')).toBe('Subject: hi\r\n\r\nHello\r\n.\r\n');
    expect(size).toBe(raw.length);
    expect(eightBit).toBe(false);
  });

  it('stuffs dots, normalizes bare CR and LF, and terminates a message without a final line break', () => {
    const cases: [string, string][] = [
      ['.starts with a dot\r\n', '..starts with a dot\r\n.\r\n'],
      ['a\r\n.\r\nb\r\n', 'a\r\n..\r\nb\r\n.\r\n'],
      ['a\n.b\nc', 'a\r\n..b\r\nc\r\n.\r\n'],
      ['a\r.b\rc\r', 'a\r\n..b\r\nc\r\n.\r\n'],
      ['a\r\r\n\n.', 'a\r\n\r\n\r\n..\r\n.\r\n'],
      ['.', '..\r\n.\r\n'],
      ['no line break', 'no line break\r\n.\r\n'],
      ['..\r\n', '...\r\n.\r\n'],
    ];
    for (const [input, wire] of cases) {
      const { chunks, size } = encodeMessageData(lines(input));
      const data = Buffer.concat(chunks);
      expect(data.toString('latin1'), JSON.stringify(input)).toBe(wire);
      expect(size).toBe(data.length - (/[\r\n]$/.test(input) ? 3 : 5));
    }
  });

  it('reports 8-bit content for BODY=8BITMIME', () => {
    expect(encodeMessageData(Buffer.from('Grüße\r\n', 'utf8')).eightBit).toBe(true);
    expect(encodeMessageData(Buffer.from('Gruesse\r\n', 'utf8')).eightBit).toBe(false);
  });

  it('matches the by-the-book encoding for any bytes, and a server gets the normalized message back', () => {
    // Bytes biased towards the interesting ones: CR, LF and dots.
    const byte = fc.oneof(
      fc.constantFrom(13, 10, 46),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 97, max: 122 }),
    );
    fc.assert(
      fc.property(fc.array(byte, { minLength: 1, maxLength: 300 }), (bytes) => {
        const raw = Buffer.from(bytes);
        const { chunks, size, eightBit } = encodeMessageData(raw);
        const data = Buffer.concat(chunks);
        expect(data.equals(expectedData(raw))).toBe(true);
        const last = bytes[bytes.length - 1];
        expect(size).toBe(data.length - (last === 10 || last === 13 ? 3 : 5));
        expect(eightBit).toBe(bytes.some((b) => b > 127));
        const normalized = raw.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
        const kept = normalized.endsWith('\r\n') ? normalized : `${normalized}\r\n`;
        expect(unstuff(data).toString('latin1')).toBe(kept);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseExtensions', () => {
  it('reads the EHLO keywords Herald uses', () => {
    const extensions = parseExtensions(
      [
        '250-mx.example Hello',
        '250-PIPELINING',
        '250-SIZE 10240000',
        '250-8BITMIME',
        '250-SMTPUTF8',
        '250-ENHANCEDSTATUSCODES',
        '250-AUTH PLAIN login CRAM-MD5',
        '250-AUTH=LOGIN XOAUTH2',
        '250 STARTTLS',
      ].join('\n'),
    );
    expect(extensions).toEqual({
      pipelining: true,
      eightBitMime: true,
      smtpUtf8: true,
      startTls: true,
      enhancedStatusCodes: true,
      size: 10240000,
      auth: ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'],
    });
  });

  it('knows SIZE without a limit from SIZE not offered', () => {
    expect(parseExtensions('250-mx.example\n250 SIZE').size).toBe(0);
    expect(parseExtensions('250 mx.example').size).toBeUndefined();
    expect(parseExtensions('250 mx.example').pipelining).toBe(false);
  });
});
