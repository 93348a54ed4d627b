import { BlockList, isIP } from 'node:net';

/**
 * IPv4 ranges that never name a place on the Internet (IANA special-purpose registry): this
 * network, private, shared (CGNAT), loopback, link-local, protocol assignments, documentation,
 * 6to4 relay, benchmarking, multicast, reserved and broadcast.
 */
const NOT_PUBLIC_V4: ReadonlyArray<[string, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

/**
 * Inside global unicast (2000::/3, the only IPv6 space handed out to networks), the blocks that
 * are still not a client's location: IETF protocol assignments (Teredo among them), documentation
 * (RFC 3849's and RFC 9637's) and 6to4 (deprecated by RFC 7526).
 */
const NOT_PUBLIC_V6: ReadonlyArray<[string, number]> = [
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['3fff::', 20],
];

const notPublicV4 = new BlockList();
for (const [network, prefix] of NOT_PUBLIC_V4) notPublicV4.addSubnet(network, prefix, 'ipv4');

const globalUnicastV6 = new BlockList();
globalUnicastV6.addSubnet('2000::', 3, 'ipv6');
const notPublicV6 = new BlockList();
for (const [network, prefix] of NOT_PUBLIC_V6) notPublicV6.addSubnet(network, prefix, 'ipv6');

/** IPv4-mapped (`::ffff:a.b.c.d`) and NAT64 well-known prefix (`64:ff9b::a.b.c.d`), canonical form. */
const EMBEDDED_V4 = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

const publicV4 = (address: string): string | null =>
  notPublicV4.check(address, 'ipv4') ? null : address;

/**
 * The address worth looking up for a client IP, or null when it cannot name a place: malformed,
 * private, loopback, link-local, unspecified, multicast, documentation or otherwise reserved.
 * IPv4 comes back as given; an IPv6 address that carries an IPv4 one (mapped, NAT64) as that
 * IPv4 address, so it is judged and looked up like it; any other IPv6 address in canonical form.
 */
export function publicAddress(ip: string): string | null {
  const family = isIP(ip);
  if (family === 4) return publicV4(ip);
  if (family !== 6) return null;

  let canonical: string;
  try {
    // The URL parser writes IPv6 canonically (RFC 5952): lower case, longest zero run as `::`,
    // embedded dotted IPv4 as hex. It refuses zone ids (`fe80::1%eth0`): link-local anyway.
    canonical = new URL(`http://[${ip}]`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const embedded = EMBEDDED_V4.exec(canonical);
  if (embedded) {
    const high = parseInt(embedded[1], 16);
    const low = parseInt(embedded[2], 16);
    return publicV4(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`);
  }
  return globalUnicastV6.check(canonical, 'ipv6') && !notPublicV6.check(canonical, 'ipv6')
    ? canonical
    : null;
}
