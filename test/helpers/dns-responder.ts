import { createSocket } from 'node:dgram';

/**
 * A tiny authoritative DNS server on 127.0.0.1 (UDP, node:dgram only) for
 * tests that resolve through HERALD_DNS_SERVERS. It answers MX, A and AAAA
 * questions from a table: a name in the table without the asked type gets
 * NOERROR with no answers (ENODATA to Node), a name not in it NXDOMAIN
 * (ENOTFOUND). Names listed in `servfail` get SERVFAIL. Every question asked
 * is recorded in `asked`.
 */

export interface DnsZone {
  /** name -> MX exchanges (priority 10); "." is a null MX. */
  mx?: Record<string, string[]>;
  /** name -> IPv4 addresses. */
  a?: Record<string, string[]>;
  servfail?: string[];
}

export interface DnsResponder {
  /** "127.0.0.1:<port>", for HERALD_DNS_SERVERS. */
  server: string;
  asked: { name: string; type: number }[];
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_MX = 15;

export async function startDnsResponder(zone: DnsZone): Promise<DnsResponder> {
  const socket = createSocket('udp4');
  const asked: { name: string; type: number }[] = [];
  const known = new Set([...Object.keys(zone.mx ?? {}), ...Object.keys(zone.a ?? {})]);
  socket.on('message', (query, peer) => {
    const { name, type, end } = readQuestion(query);
    asked.push({ name, type });
    let rcode = 0;
    const answers: Buffer[] = [];
    if (zone.servfail?.includes(name)) rcode = 2;
    else if (!known.has(name)) rcode = 3;
    else if (type === TYPE_MX)
      for (const exchange of zone.mx?.[name] ?? [])
        answers.push(record(TYPE_MX, Buffer.concat([u16(10), encodeName(exchange)])));
    else if (type === TYPE_A)
      for (const ip of zone.a?.[name] ?? [])
        answers.push(record(TYPE_A, Buffer.from(ip.split('.').map(Number))));
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | rcode, 2); // QR, AA, RD copied
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    socket.send(Buffer.concat([header, query.subarray(12, end), ...answers]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    server: `127.0.0.1:${socket.address().port}`,
    asked,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

function readQuestion(query: Buffer): { name: string; type: number; end: number } {
  const labels: string[] = [];
  let offset = 12;
  for (let length = query[offset] ?? 0; length > 0; length = query[offset] ?? 0) {
    labels.push(query.subarray(offset + 1, offset + 1 + length).toString('latin1'));
    offset += length + 1;
  }
  offset += 1;
  return { name: labels.join('.').toLowerCase(), type: query.readUInt16BE(offset), end: offset + 4 };
}

/** An answer for the question's name (compression pointer to offset 12), class IN, TTL 60. */
function record(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(0xc00c), u16(type), u16(1), Buffer.from([0, 0, 0, 60]), u16(data.length), data]);
}

function encodeName(name: string): Buffer {
  const parts = name === '.' ? [] : name.split('.').filter((p) => p !== '');
  return Buffer.concat([
    ...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])),
    Buffer.from([0]),
  ]);
}

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}
