import { Resolver } from 'node:dns/promises';

/**
 * The DNS lookups the sending-domain check needs. A name without records of
 * the type (NXDOMAIN or NODATA) is an empty list, not an error: "not
 * published" is an answer. Anything else (timeout, SERVFAIL, refused) throws
 * a DnsLookupError, which the check reports as inconclusive.
 */
export interface DnsLookup {
  /** Each TXT record with its strings joined, as SPF, DKIM and DMARC read them. */
  txt(name: string): Promise<string[]>;
  mx(name: string): Promise<{ priority: number; exchange: string }[]>;
  ptr(ip: string): Promise<string[]>;
  addresses(name: string): Promise<string[]>;
}

export class DnsLookupError extends Error {
  constructor(
    readonly name_: string,
    readonly type: string,
    readonly code: string,
  ) {
    super(`looking up ${type} ${name_} failed (${code})`);
    this.name = 'DnsLookupError';
  }
}

const ABSENT = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN', 'ENONAME']);

/**
 * node:dns's c-ares resolver on the given servers (`ip`, `ip:port`,
 * `[ipv6]:port`), or the system's when none are given. Short timeouts: the
 * check runs inside an HTTP request.
 */
export function createDnsLookup(servers: string[] | undefined): DnsLookup {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  if (servers && servers.length > 0) resolver.setServers(servers);

  async function ask<T>(type: string, name: string, run: () => Promise<T[]>): Promise<T[]> {
    try {
      return await run();
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'EUNKNOWN';
      if (ABSENT.has(code)) return [];
      throw new DnsLookupError(name, type, code);
    }
  }

  return {
    txt: (name) =>
      ask('TXT', name, async () => (await resolver.resolveTxt(name)).map((strings) => strings.join(''))),
    mx: (name) => ask('MX', name, () => resolver.resolveMx(name)),
    ptr: (ip) => ask('PTR', ip, () => resolver.reverse(ip)),
    addresses: async (name) => [
      ...(await ask('A', name, () => resolver.resolve4(name))),
      ...(await ask('AAAA', name, () => resolver.resolve6(name))),
    ],
  };
}
