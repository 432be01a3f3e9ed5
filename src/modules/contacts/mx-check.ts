import { Resolver } from 'node:dns/promises';

/**
 * Whether a domain takes mail, by DNS: its MX records, or (RFC 5321 5.1,
 * the implicit MX) an A or AAAA record when it has none. A null MX (RFC
 * 7505, a single "." exchange) or a domain that does not exist takes no mail.
 * Only definite answers count: a resolver that times out or fails says
 * `unknown`, and callers store the address rather than refuse someone because
 * DNS had a bad moment. Answers are cached per domain for `cacheMs`.
 */

export type MxVerdict = 'accepts_mail' | 'no_mail' | 'unknown';

export interface MxCheckOptions {
  /** "host:port" entries (HERALD_DNS_SERVERS); empty or undefined: the system's resolvers. */
  servers?: string[] | undefined;
  timeoutMs?: number;
  cacheMs?: number;
  /** Domains remembered at most; the oldest are forgotten first. */
  cacheSize?: number;
  now?: () => number;
}

export type MxCheck = (domain: string) => Promise<MxVerdict>;

const NO_SUCH_DOMAIN = new Set(['ENOTFOUND']);
const NO_RECORDS = new Set(['ENODATA']);

export function createMxCheck(options: MxCheckOptions = {}): MxCheck {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 3000, tries: 2 });
  if (options.servers && options.servers.length > 0) resolver.setServers(options.servers);
  const cacheMs = options.cacheMs ?? 10 * 60_000;
  const cacheSize = options.cacheSize ?? 10_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { verdict: MxVerdict; until: number }>();

  async function lookup(domain: string): Promise<MxVerdict> {
    try {
      const records = await resolver.resolveMx(domain);
      if (records.length === 0) return hasAddress(domain);
      const isNullMx = records.every((r) => r.exchange === '' || r.exchange === '.');
      return isNullMx ? 'no_mail' : 'accepts_mail';
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (NO_SUCH_DOMAIN.has(code)) return 'no_mail';
      if (NO_RECORDS.has(code)) return hasAddress(domain);
      return 'unknown';
    }
  }

  async function hasAddress(domain: string): Promise<MxVerdict> {
    const answers = await Promise.allSettled([resolver.resolve4(domain), resolver.resolve6(domain)]);
    if (answers.some((a) => a.status === 'fulfilled' && a.value.length > 0)) return 'accepts_mail';
    const definite = answers.every(
      (a) =>
        a.status === 'rejected' &&
        [...NO_SUCH_DOMAIN, ...NO_RECORDS].includes((a.reason as NodeJS.ErrnoException).code ?? ''),
    );
    return definite ? 'no_mail' : 'unknown';
  }

  return async (domain) => {
    const key = domain.toLowerCase();
    const cached = cache.get(key);
    if (cached && cached.until > now()) return cached.verdict;
    const verdict = await lookup(key);
    // A failed lookup is not remembered: the next address at that domain asks again.
    if (verdict !== 'unknown') {
      cache.delete(key);
      cache.set(key, { verdict, until: now() + cacheMs });
      if (cache.size > cacheSize) cache.delete(cache.keys().next().value as string);
    }
    return verdict;
  };
}
