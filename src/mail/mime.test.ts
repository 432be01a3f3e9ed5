import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import {
  encodedWords,
  encodeQpBytes,
  encodeQpLine,
  foldAtSpaces,
  mimePart,
  quotedPrintable,
  rfc5322Date,
} from './mime.js';

/** Decodes a part with an independent parser by wrapping it in a minimal message. */
async function decode(part: string): Promise<string> {
  const parsed = await simpleParser(Buffer.from(`Subject: t\r\n${part}`, 'latin1'));
  return parsed.text ?? '';
}

describe('quoted-printable', () => {
  it('round-trips text full of what quoted-printable must escape, within 76-character lines', async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = ['a', 'Z', '=', ' ', '\t', '.', 'é', '€', '😀', '=3D', 'From ', '\r\n'];
    for (let round = 0; round < 50; round++) {
      let text = '';
      const length = Math.floor(random() * 400);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      text = text.replace(/^\r\n/, 'x\r\n');
      const encoded = quotedPrintable(text);
      for (const line of encoded.split('\r\n')) {
        expect(line.length).toBeLessThanOrEqual(76);
        expect(line).not.toMatch(/[ \t]$/);
        expect(line).not.toMatch(/^From /);
      }
      const part = `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${encoded}`;
      expect(await decode(part)).toBe(text.replace(/\r\n/g, '\n'));
    }
  });

  it('encodes ASCII lines on the string exactly as byte by byte', () => {
    // Characters biased towards the ones with rules: '=', blanks, controls, "From " and long runs.
    const char = fc.oneof(
      fc.constantFrom('=', ' ', '\t', 'F', 'From ', '\x7f', '\x00', '.'),
      fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }),
      fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 90 }),
    );
    fc.assert(
      fc.property(fc.array(char, { maxLength: 80 }), (parts) => {
        const line = parts.join('').replace(/[\r\n]/g, '');
        expect(encodeQpLine(line)).toBe(encodeQpBytes(line));
      }),
      { numRuns: 3000 },
    );
    // Every length around the soft-break columns, with what sits next to a break: '=', blanks, "From ".
    for (const head of ['', '=', 'ab=', '\t', 'From ', '==']) {
      for (const tail of ['', ' ', '=', '\t', 'x=', ' From ']) {
        for (let length = 0; length <= 240; length++) {
          const line = `${head}${'x'.repeat(length)}${tail}`;
          expect(encodeQpLine(line), JSON.stringify(line)).toBe(encodeQpBytes(line));
        }
      }
    }
  });

  it('leaves plain ASCII lines as they are', () => {
    expect(quotedPrintable('<p>Hello</p>\r\n<p>World</p>')).toBe('<p>Hello</p>\r\n<p>World</p>');
  });

  it('picks base64 for text mostly outside ASCII', async () => {
    const text = 'Добрый день, как дела? Всё хорошо.';
    const part = mimePart('text/plain', text);
    expect(part).toContain('Content-Transfer-Encoding: base64');
    expect(await decode(part)).toBe(text);
  });
});

describe('headers', () => {
  it('splits encoded-words within 75 characters without breaking a character', () => {
    const words = encodedWords('😀'.repeat(40));
    for (const word of words) {
      expect(word.length).toBeLessThanOrEqual(75);
      const payload = Buffer.from(word.slice(10, -2), 'base64').toString('utf8');
      expect(payload).not.toContain('\uFFFD');
    }
    expect(words.map((w) => Buffer.from(w.slice(10, -2), 'base64').toString('utf8')).join('')).toBe(
      '😀'.repeat(40),
    );
  });

  it('folds long lines at spaces', () => {
    const folded = foldAtSpaces(`Subject: ${'word '.repeat(40).trim()}`);
    for (const line of folded.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
    expect(folded.replace(/\r\n/g, '')).toBe(`Subject: ${'word '.repeat(40).trim()}`);
  });

  it('writes RFC 5322 dates in UTC', () => {
    expect(rfc5322Date(new Date('2031-12-07T23:59:09Z'))).toBe('Sun, 07 Dec 2031 23:59:09 +0000');
  });
});
