import { isIP } from 'node:net';

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

/** A dotted-quad IPv4 address (already validated by `isIP`) as an unsigned 32-bit number. */
function ipv4Number(address: string): number {
  let value = 0;
  for (const part of address.split('.')) value = value * 256 + Number(part);
  return value;
}

// Bit arithmetic rather than net.BlockList: its check() costs microseconds per call.
const NOT_PUBLIC_V4_MASKED = NOT_PUBLIC_V4.map(([network, prefix]) => ({
  shift: 32 - prefix,
  network: ipv4Number(network) >>> (32 - prefix),
}));
const NOT_PUBLIC_V6_MASKED = NOT_PUBLIC_V6.map(([network, prefix]) => ({
  // Every prefix in the list is 32 bits or shorter: the first two 16-bit groups decide.
  shift: 32 - prefix,
  network: firstTwoGroups(network) >>> (32 - prefix),
}));

/** The first 32 bits of a canonical IPv6 address (an empty group is `::`, that is zeros). */
function firstTwoGroups(canonical: string): number {
  const [first, second] = canonical.split(':', 2);
  return (parseInt(first || '0', 16) * 65536 + parseInt(second || '0', 16)) >>> 0;
}

const inAny = (value: number, ranges: ReadonlyArray<{ shift: number; network: number }>) =>
  ranges.some(({ shift, network }) => value >>> shift === network);

/** IPv4-mapped (`::ffff:a.b.c.d`) and NAT64 well-known prefix (`64:ff9b::a.b.c.d`), canonical form. */
const EMBEDDED_V4 = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

const publicV4 = (address: string): string | null =>
  inAny(ipv4Number(address), NOT_PUBLIC_V4_MASKED) ? null : address;

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
  const top = firstTwoGroups(canonical);
  const globalUnicast = top >>> 29 === 0b001; // 2000::/3
  return globalUnicast && !inAny(top, NOT_PUBLIC_V6_MASKED) ? canonical : null;
}
