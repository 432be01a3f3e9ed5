import { domainToASCII } from 'node:url';

/**
 * The MIME encodings Herald's messages need (RFC 2045, 2047, 5322), written
 * for the sending hot path: no streams, no random numbers, one pass over each
 * part. Messages are always UTF-8 with CRLF line ends.
 */

const MAX_LINE = 76;

/** Quoted-printable bytes: printable ASCII stands for itself, except `=`; anything else is `=XX`. */
const QP_BYTE: string[] = Array.from({ length: 256 }, (_, byte) =>
  (byte >= 33 && byte <= 126 && byte !== 61) || byte === 32 || byte === 9
    ? String.fromCharCode(byte)
    : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`,
);
/** A line that quoted-printable leaves as it is: printable ASCII without `=`, no trailing blank, no leading "From ". */
const QP_PLAIN_LINE = /^(?:[\x21-\x3c\x3e-\x7e](?:[\x20-\x3c\x3e-\x7e]*[\x21-\x3c\x3e-\x7e])?)?$/;

/** Quoted-printable (RFC 2045 6.7) of text whose lines end in CRLF; soft breaks keep lines within 76 characters. */
export function quotedPrintable(text: string): string {
  const lines = text.split('\r\n');
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    if (i > 0) out += '\r\n';
    const line = lines[i] as string;
    if (line.length <= MAX_LINE && QP_PLAIN_LINE.test(line) && !line.startsWith('From ')) {
      out += line;
      continue;
    }
    out += encodeQpLine(line);
  }
  return out;
}

/** Characters that need a closer look in an ASCII line: all but space and printable ASCII other than `=`. */
const QP_SPECIAL = /[^\x20-\x3c\x3e-\x7e]/g;

/**
 * One line, quoted-printable. ASCII lines (nearly every line of HTML) are
 * encoded on the string itself: the regular expression finds the next
 * character that needs encoding and the run before it is copied in slices
 * of up to a line's width. Other lines go byte by byte through their UTF-8
 * (`encodeQpBytes`, which this must match exactly: mime.test.ts).
 */
export function encodeQpLine(line: string): string {
  for (let i = 0; i < line.length; i++) if (line.charCodeAt(i) > 127) return encodeQpBytes(line);
  const last = line.length - 1;
  let out = '';
  let width = 0;
  let i = 0;
  while (i <= last) {
    QP_SPECIAL.lastIndex = i;
    let runEnd = QP_SPECIAL.exec(line)?.index ?? line.length;
    // A blank at the very end of the line is encoded (it would be stripped in transit).
    if (runEnd === line.length && line.charCodeAt(last) === 32) runEnd = last;
    while (i < runEnd) {
      // "From " at the start of a line gets mangled by some MTAs: its F is encoded.
      if (width === 0 && line.startsWith('From ', i)) {
        out += '=46';
        width = 3;
        i++;
        continue;
      }
      // Up to column 75, leaving room for a soft break's "="; the line's last character may take column 76.
      let room = MAX_LINE - 1 - width;
      const remaining = runEnd - i;
      if (runEnd - 1 === last && remaining === room + 1) room++;
      if (remaining <= room) {
        out += line.slice(i, runEnd);
        width += remaining;
        i = runEnd;
      } else {
        out += `${line.slice(i, i + room)}=\r\n`;
        i += room;
        width = 0;
      }
    }
    if (i > last) break;
    const code = line.charCodeAt(i);
    const token = code === 9 && i !== last ? '\t' : code === 9 ? '=09' : (QP_BYTE[code] as string);
    const final = code === 32 ? '=20' : token;
    if (width + final.length > (i === last ? MAX_LINE : MAX_LINE - 1)) {
      out += '=\r\n';
      width = 0;
    }
    out += final;
    width += final.length;
    i++;
  }
  return out;
}

/** One line, quoted-printable, byte by byte through its UTF-8. */
export function encodeQpBytes(line: string): string {
  const bytes = Buffer.from(line, 'utf8');
  const last = bytes.length - 1;
  let out = '';
  let width = 0;
  for (let i = 0; i <= last; i++) {
    const byte = bytes[i] as number;
    let token = QP_BYTE[byte] as string;
    // A blank at the end of a line would be stripped in transit; "From " at a line start gets mangled by some MTAs.
    if ((byte === 32 || byte === 9) && i === last) token = byte === 32 ? '=20' : '=09';
    // Room for the token plus a soft break's `=`, unless this is the line's last token.
    const limit = i === last ? MAX_LINE : MAX_LINE - 1;
    if (width + token.length > limit) {
      out += '=\r\n';
      width = 0;
    }
    if (width === 0 && byte === 70 && startsFrom(bytes, i)) token = '=46';
    out += token;
    width += token.length;
  }
  return out;
}

/** "From " at these bytes: at a line start, some MTAs would prefix it with ">". */
function startsFrom(bytes: Buffer, i: number): boolean {
  return bytes[i + 1] === 114 && bytes[i + 2] === 111 && bytes[i + 3] === 109 && bytes[i + 4] === 32;
}

/** Base64 in lines of 76 characters. */
export function base64Lines(data: Buffer): string {
  const encoded = data.toString('base64');
  let out = '';
  for (let i = 0; i < encoded.length; i += MAX_LINE) {
    out += `${i === 0 ? '' : '\r\n'}${encoded.slice(i, i + MAX_LINE)}`;
  }
  return out;
}

/** Mostly ASCII text reads better (and scores better with spam filters) as quoted-printable; other scripts are smaller as base64. */
export function bodyEncoding(text: string): 'quoted-printable' | 'base64' {
  let nonAscii = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 126) nonAscii++;
  return nonAscii * 3 > text.length ? 'base64' : 'quoted-printable';
}

/** A header value with nothing that could end the header: CR, LF and other controls become spaces. */
export function headerSafe(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: controls are exactly what is removed.
  return value.replace(/[\x00-\x08\x0a-\x1f\x7f]+/g, ' ');
}

const ASCII_PRINTABLE = /^[\x20-\x7e]*$/;

/**
 * An unstructured header value (Subject): as it is when printable ASCII, else
 * RFC 2047 B encoded-words of at most 75 characters, never splitting a UTF-8
 * sequence. Long values are folded so lines stay near 78 characters.
 */
export function unstructuredHeader(name: string, value: string): string {
  const safe = headerSafe(value);
  if (ASCII_PRINTABLE.test(safe)) return foldAtSpaces(`${name}: ${safe}`);
  return `${name}: ${encodedWords(safe).join('\r\n ')}`;
}

/** RFC 2047 encoded-words (B encoding) for text, each within the 75-character limit. */
export function encodedWords(text: string): string[] {
  const words: string[] = [];
  // 45 bytes make 60 base64 characters, plus the 12 of =?UTF-8?B??= is 72.
  let chunk = '';
  let chunkBytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (chunkBytes + size > 45) {
      words.push(`=?UTF-8?B?${Buffer.from(chunk, 'utf8').toString('base64')}?=`);
      chunk = '';
      chunkBytes = 0;
    }
    chunk += char;
    chunkBytes += size;
  }
  if (chunk || words.length === 0) words.push(`=?UTF-8?B?${Buffer.from(chunk, 'utf8').toString('base64')}?=`);
  return words;
}

/** Folds a header line at spaces so its lines stay within 78 characters where a space allows. */
export function foldAtSpaces(line: string): string {
  if (line.length <= 78) return line;
  let out = '';
  let rest = line;
  while (rest.length > 78) {
    let cut = rest.lastIndexOf(' ', 78);
    if (cut <= 0) cut = rest.indexOf(' ', 78);
    if (cut <= 0) break;
    out += `${rest.slice(0, cut)}\r\n`;
    rest = rest.slice(cut);
  }
  return out + rest;
}

/** `name <address>` for From, To and Reply-To: the name quoted or encoded as needed, an IDN domain in punycode. */
export function formatAddress(address: { name?: string | undefined; email: string }): string {
  const email = asciiDomain(headerSafe(address.email).trim());
  const name = address.name ? headerSafe(address.name).trim() : '';
  if (!name) return email;
  if (!ASCII_PRINTABLE.test(name)) return `${encodedWords(name).join(' ')} <${email}>`;
  // An atom phrase when it has no specials; otherwise a quoted string.
  const phrase = /^[\w!#$%&'*+\-/=?^`{|}~ ]+$/.test(name) ? name : `"${name.replace(/[\\"]/g, '\\$&')}"`;
  return `${phrase} <${email}>`;
}

function asciiDomain(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 0 || ASCII_PRINTABLE.test(email)) return email;
  const ascii = domainToASCII(email.slice(at + 1));
  return ascii ? `${email.slice(0, at)}@${ascii}` : email;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 date-time in UTC, e.g. `Wed, 02 Jan 2030 03:04:05 +0000`. */
export function rfc5322Date(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[date.getUTCDay()]}, ${two(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}

/** One body part's headers and encoded content. */
export function mimePart(contentType: string, text: string): string {
  const encoding = bodyEncoding(text);
  const body = encoding === 'base64' ? base64Lines(Buffer.from(text, 'utf8')) : quotedPrintable(text);
  return `Content-Type: ${contentType}; charset=utf-8\r\nContent-Transfer-Encoding: ${encoding}\r\n\r\n${body}`;
}
