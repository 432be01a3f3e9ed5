import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';

/**
 * A small authoritative DNS server for tests (RFC 1035 wire format), on
 * 127.0.0.1 over UDP and TCP on the same port: it answers A, CNAME, MX, TXT
 * and PTR queries from a map the test can change between lookups. Names
 * without any record get NXDOMAIN; names with records of other types get an
 * empty NOERROR answer (NODATA), as a real server does. A CNAME is answered
 * together with its target's records, so resolvers need not chase it.
 */
export interface DnsRecords {
  A?: string[];
  CNAME?: string;
  MX?: { priority: number; exchange: string }[];
  /** One entry per TXT record; a record given as several strings keeps them apart. */
  TXT?: (string | string[])[];
  PTR?: string[];
  /** Answer SERVFAIL for this name: a broken or unreachable authoritative server. */
  SERVFAIL?: boolean;
}

export interface TestDnsServer {
  /** `127.0.0.1:<port>`, for HERALD_DNS_SERVERS. */
  address: string;
  records: Map<string, DnsRecords>;
  /** Names asked for, in order (lowercase, type). */
  queries: string[];
  close(): Promise<void>;
}

const TYPES = { A: 1, CNAME: 5, PTR: 12, MX: 15, TXT: 16 } as const;
type TypeName = keyof typeof TYPES;
const TYPE_NAMES = new Map<number, TypeName>(Object.entries(TYPES).map(([k, v]) => [v, k as TypeName]));

export async function startDnsServer(initial: Record<string, DnsRecords> = {}): Promise<TestDnsServer> {
  const records = new Map(Object.entries(initial).map(([name, r]) => [name.toLowerCase(), r]));
  const queries: string[] = [];
  const handleUdp = (udp: Socket) =>
    udp.on('message', (packet, peer) => {
      const reply = answer(packet, records, queries, 512);
      if (reply) udp.send(reply, peer.port, peer.address);
    });

  // TCP (RFC 1035 4.2.2: two-byte length prefix) for answers that do not fit 512 bytes.
  const tcp: Server = createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const reply = answer(buffered.subarray(2, 2 + length), records, queries, 65535);
        buffered = buffered.subarray(2 + length);
        if (reply) {
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([prefix, reply]));
        }
      }
    });
    socket.on('error', () => {});
  });

  // The system picks a free UDP port; the same TCP port may belong to another process
  // (other test files run meanwhile), so a taken one means trying another UDP port.
  let udp: Socket | undefined;
  let port = 0;
  for (let attempt = 1; udp === undefined; attempt++) {
    const candidate = handleUdp(createSocket('udp4'));
    await new Promise<void>((resolve) => candidate.bind(0, '127.0.0.1', resolve));
    port = candidate.address().port;
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, '127.0.0.1', () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      udp = candidate;
    } catch (error) {
      await new Promise<void>((resolve) => candidate.close(() => resolve()));
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw error;
    }
  }
  const bound = udp;

  return {
    address: `127.0.0.1:${port}`,
    records,
    queries,
    close: async () => {
      await new Promise<void>((resolve) => bound.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

function answer(
  packet: Buffer,
  records: Map<string, DnsRecords>,
  queries: string[],
  limit: number,
): Buffer | undefined {
  if (packet.length < 12) return undefined;
  const id = packet.readUInt16BE(0);
  const flags = packet.readUInt16BE(2);
  if (flags & 0x8000 || packet.readUInt16BE(4) !== 1) return undefined; // a response, or not one question
  const { name, end } = readName(packet, 12);
  const qtype = packet.readUInt16BE(end);
  const question = packet.subarray(12, end + 4);
  const type = TYPE_NAMES.get(qtype);
  queries.push(`${name} ${type ?? qtype}`);

  const answers: Buffer[] = [];
  let owner = name;
  let found = records.get(owner);
  const exists = found !== undefined;
  // Follow CNAMEs (at most 8) for any other type, with the CNAME records first.
  for (let hops = 0; found?.CNAME && type !== 'CNAME' && hops < 8; hops++) {
    answers.push(resourceRecord(owner, 'CNAME', encodeName(found.CNAME)));
    owner = found.CNAME.toLowerCase();
    found = records.get(owner);
  }
  if (found && type && !found.SERVFAIL)
    answers.push(...rdataOf(found, type).map((data) => resourceRecord(owner, type, data)));

  // SERVFAIL when asked to, NXDOMAIN when the name has no records at all.
  const rcode = records.get(name)?.SERVFAIL ? 2 : exists ? 0 : 3;
  const build = (list: Buffer[], truncated: boolean) => {
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    // QR, AA, the query's RD, RA; TC when cut short.
    header.writeUInt16BE(0x8400 | (flags & 0x0100) | 0x0080 | (truncated ? 0x0200 : 0) | rcode, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(list.length, 6);
    return Buffer.concat([header, question, ...list]);
  };
  const full = build(answers, false);
  return full.length <= limit ? full : build([], true);
}

function rdataOf(records: DnsRecords, type: TypeName): Buffer[] {
  switch (type) {
    case 'A':
      return (records.A ?? []).map((ip) => Buffer.from(ip.split('.').map(Number)));
    case 'CNAME':
      return records.CNAME ? [encodeName(records.CNAME)] : [];
    case 'PTR':
      return (records.PTR ?? []).map(encodeName);
    case 'MX':
      return (records.MX ?? []).map((mx) => {
        const priority = Buffer.alloc(2);
        priority.writeUInt16BE(mx.priority);
        return Buffer.concat([priority, encodeName(mx.exchange)]);
      });
    case 'TXT':
      return (records.TXT ?? []).map((record) => {
        // A character-string holds at most 255 bytes: longer text is split, as DNS providers do.
        const strings = typeof record === 'string' ? (record.match(/[\s\S]{1,255}/g) ?? ['']) : record;
        return Buffer.concat(
          strings.map((s) => {
            const bytes = Buffer.from(s, 'utf8');
            return Buffer.concat([Buffer.from([bytes.length]), bytes]);
          }),
        );
      });
  }
}

function resourceRecord(name: string, type: TypeName, data: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPES[type], 0);
  fixed.writeUInt16BE(1, 2); // class IN
  fixed.writeUInt32BE(60, 4); // TTL
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([encodeName(name), fixed, data]);
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([
    ...labels.map((label) => {
      const bytes = Buffer.from(label, 'ascii');
      return Buffer.concat([Buffer.from([bytes.length]), bytes]);
    }),
    Buffer.from([0]),
  ]);
}

/** Reads a name at `offset`, following compression pointers. */
function readName(packet: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let position = offset;
  let end = -1;
  for (let jumps = 0; jumps < 32; jumps++) {
    const length = packet[position] ?? 0;
    if ((length & 0xc0) === 0xc0) {
      if (end < 0) end = position + 2;
      position = ((length & 0x3f) << 8) | (packet[position + 1] ?? 0);
      continue;
    }
    if (length === 0) {
      if (end < 0) end = position + 1;
      break;
    }
    labels.push(packet.toString('ascii', position + 1, position + 1 + length));
    position += 1 + length;
  }
  return { name: labels.join('.').toLowerCase(), end };
}
