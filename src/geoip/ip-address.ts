import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Global unicast (2000::/3): the only IPv6 space handed out to networks. */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/**
 * The address worth looking up for a client IP, or null when it cannot name a place: malformed,
 * private, shared (CGNAT), loopback, link-local, unspecified, multicast, documentation or
 * otherwise reserved (ipaddr.js's special-range tables: anything but `unicast`). An IPv4-mapped
 * IPv6 address (`::ffff:a.b.c.d`) is judged and looked up as its IPv4 address; other IPv6
 * addresses come back in canonical form (RFC 5952).
 */
export function publicAddress(ip: string): string | null {
  // node:net is strict where ipaddr.js is lenient (it reads `010.0.0.1` as octal).
  if (isIP(ip) === 0) return null;
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.process(ip);
  } catch {
    return null;
  }
  if (address.range() !== 'unicast') return null;
  if (address.kind() === 'ipv6' && !address.match(GLOBAL_UNICAST_V6)) return null;
  return address.toString();
}
