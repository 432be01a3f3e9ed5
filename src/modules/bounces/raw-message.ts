/**
 * Just enough MIME to read bounce and complaint reports: header fields
 * (unfolded, RFC 2047 words left as they are), multipart bodies split on
 * their boundary, base64 and quoted-printable decoded, and embedded messages
 * (message/rfc822, text/rfc822-headers) opened. Bounces come from every MTA
 * ever written, so nothing here throws on malformed input: a part it cannot
 * read is kept as text.
 */

export interface HeaderField {
  /** Lower case. */
  name: string;
  value: string;
}

export interface MessagePart {
  /** Lower case, without parameters; text/plain when absent. */
  contentType: string;
  params: Record<string, string>;
  headers: HeaderField[];
  /** The decoded body as text (UTF-8 when it decodes as such, else Latin-1). */
  body: string;
  /** The parts of a multipart, or the message inside a message/rfc822 part. */
  children: MessagePart[];
}

const MAX_DEPTH = 8;

export function parseMessage(raw: Buffer | string): MessagePart {
  const text = typeof raw === 'string' ? raw : decodeText(raw);
  return parseEntity(text.replace(/\r\n?/g, '\n'), 0);
}

/** The first value of a header field, or undefined. */
export function header(part: Pick<MessagePart, 'headers'>, name: string): string | undefined {
  return part.headers.find((h) => h.name === name)?.value;
}

/** Every part of the tree, depth first, the root included. */
export function allParts(root: MessagePart): MessagePart[] {
  const out: MessagePart[] = [];
  const visit = (part: MessagePart) => {
    out.push(part);
    for (const child of part.children) visit(child);
  };
  visit(root);
  return out;
}

/** Header fields of a block of `Name: value` lines, continuation lines unfolded. */
export function parseHeaderBlock(block: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of block.split('\n')) {
    if (/^[ \t]/.test(line) && fields.length > 0) {
      const last = fields[fields.length - 1] as HeaderField;
      last.value = `${last.value} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) continue;
    fields.push({ name, value: line.slice(colon + 1).trim() });
  }
  return fields;
}

function parseEntity(text: string, depth: number): MessagePart {
  const split = text.search(/\n\n/);
  // A block that starts with a blank line has no headers; one without a blank line is all headers.
  const head = text.startsWith('\n') ? '' : split === -1 ? text : text.slice(0, split);
  const rest = text.startsWith('\n') ? text.slice(1) : split === -1 ? '' : text.slice(split + 2);
  const headers = parseHeaderBlock(head);
  const { type, params } = contentTypeOf(header({ headers }, 'content-type'));
  const encoding = (header({ headers }, 'content-transfer-encoding') ?? '').trim().toLowerCase();
  const part: MessagePart = { contentType: type, params, headers, body: '', children: [] };

  if (type.startsWith('multipart/') && params.boundary && depth < MAX_DEPTH) {
    const sections = splitMultipart(rest, params.boundary);
    part.body = sections.preamble;
    part.children = sections.parts.map((section) => parseEntity(section, depth + 1));
    return part;
  }
  part.body = decodeBody(rest, encoding);
  if ((type === 'message/rfc822' || type === 'message/global') && depth < MAX_DEPTH) {
    part.children = [parseEntity(part.body, depth + 1)];
  } else if (type === 'text/rfc822-headers' || type === 'text/rfc822-header') {
    part.children = [{ ...emptyPart(), headers: parseHeaderBlock(part.body.trim()) }];
  }
  return part;
}

function emptyPart(): MessagePart {
  return { contentType: 'text/plain', params: {}, headers: [], body: '', children: [] };
}

function contentTypeOf(value: string | undefined): { type: string; params: Record<string, string> } {
  if (!value) return { type: 'text/plain', params: {} };
  const [first, ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const m of rest.join(';').matchAll(/([\w.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/g)) {
    params[(m[1] as string).toLowerCase()] = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { type: (first ?? '').trim().toLowerCase() || 'text/plain', params };
}

function splitMultipart(body: string, boundary: string): { preamble: string; parts: string[] } {
  const delimiter = `--${boundary}`;
  const preamble: string[] = [];
  const parts: string[] = [];
  let current: string[] | undefined;
  for (const line of body.split('\n')) {
    const trimmed = line.trimEnd();
    if (trimmed === delimiter || trimmed === `${delimiter}--`) {
      if (current) parts.push(current.join('\n'));
      if (trimmed !== delimiter) return { preamble: preamble.join('\n'), parts };
      current = [];
    } else if (current) current.push(line);
    else preamble.push(line);
  }
  // A truncated report (no closing delimiter) still yields the parts read so far.
  if (current && current.length > 0) parts.push(current.join('\n'));
  return { preamble: preamble.join('\n'), parts };
}

function decodeBody(body: string, encoding: string): string {
  if (encoding === 'base64') {
    const bytes = Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    return decodeText(bytes).replace(/\r\n?/g, '\n');
  }
  if (encoding === 'quoted-printable') {
    const bytes = Buffer.from(
      body
        .replace(/=\n/g, '')
        .replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
      'latin1',
    );
    return decodeText(bytes);
  }
  return body;
}

function decodeText(bytes: Buffer): string {
  const utf8 = bytes.toString('utf8');
  return utf8.includes('\uFFFD') ? bytes.toString('latin1') : utf8;
}
