import { isIPv4, isIPv6 } from 'node:net';
import type { IpAnonymization } from '../../db/index.js';

/**
 * What is stored of a hit's IP address, per the workspace's setting: all of
 * it (`none`), the network only (`truncate`: IPv4 /24, IPv6 /48, the rest
 * zeroed), or nothing (`drop`). IPv4-mapped IPv6 addresses count as IPv4.
 */
export function anonymizeIp(ip: string | undefined | null, mode: IpAnonymization): string | null {
  if (!ip || mode === 'drop') return null;
  let address = ip.trim();
  if (address.toLowerCase().startsWith('::ffff:') && isIPv4(address.slice(7))) address = address.slice(7);
  if (mode === 'none') return isIPv4(address) || isIPv6(address) ? address : null;
  if (isIPv4(address)) {
    const parts = address.split('.');
    return `${parts[0]}.${parts[1]}.${parts[2]}.0`;
  }
  if (isIPv6(address)) {
    const groups = expandIpv6(address);
    if (!groups) return null;
    return `${groups
      .slice(0, 3)
      .map((g) => Number.parseInt(g, 16).toString(16))
      .join(':')}::`;
  }
  return null;
}

/** The eight 16-bit groups of an IPv6 address (zone and embedded IPv4 handled). */
function expandIpv6(address: string): string[] | undefined {
  let text = address.split('%')[0] ?? '';
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const [a, b, c, d] = v4[1].split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = 8 - left.length - right.length;
  if (tail === undefined && left.length !== 8) return undefined;
  if (missing < 0) return undefined;
  return [...left, ...Array(tail === undefined ? 0 : missing).fill('0'), ...right];
}
