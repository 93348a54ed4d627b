import { publicAddress } from './ip-address';

describe('publicAddress', () => {
  it.each([
    ['8.8.8.8', '8.8.8.8'],
    ['193.0.6.139', '193.0.6.139'],
    ['2001:4860:4860::8888', '2001:4860:4860::8888'],
    // Written out in full or in upper case, IPv6 comes back canonical.
    ['2001:4860:4860:0:0:0:0:8888', '2001:4860:4860::8888'],
    ['2A00:1450:4001::1', '2a00:1450:4001::1'],
    // IPv4 carried in IPv6 is looked up as that IPv4 address.
    ['::ffff:8.8.8.8', '8.8.8.8'],
    ['::FFFF:0808:0808', '8.8.8.8'],
    ['0:0:0:0:0:ffff:c100:68b', '193.0.6.139'],
    ['::8.8.8.8', '8.8.8.8'],
    // Just outside the blocks that are not public.
    ['9.255.255.255', '9.255.255.255'],
    ['11.0.0.0', '11.0.0.0'],
    ['100.63.255.255', '100.63.255.255'],
    ['100.128.0.0', '100.128.0.0'],
    ['172.15.255.255', '172.15.255.255'],
    ['172.32.0.0', '172.32.0.0'],
    ['223.255.255.255', '223.255.255.255'],
    ['2001:200::1', '2001:200::1'],
    ['2001:db9::1', '2001:db9::1'],
    ['3fff:1000::1', '3fff:1000::1'],
    ['2000::1', '2000::1'],
  ])('looks %s up as %s', (input, expected) => {
    expect(publicAddress(input)).toBe(expected);
  });

  it.each([
    ['private 10/8', '10.0.0.1'],
    ['private 172.16/12', '172.31.255.254'],
    ['private 192.168/16', '192.168.1.1'],
    ['shared CGNAT', '100.64.0.1'],
    ['loopback', '127.0.0.1'],
    ['loopback, far end', '127.255.255.254'],
    ['link-local', '169.254.169.254'],
    ['unspecified', '0.0.0.0'],
    ['this network', '0.1.2.3'],
    ['IETF protocol assignments', '192.0.0.8'],
    ['documentation TEST-NET-1', '192.0.2.1'],
    ['documentation TEST-NET-2', '198.51.100.7'],
    ['documentation TEST-NET-3', '203.0.113.9'],
    ['benchmarking', '198.18.0.1'],
    ['6to4 relay anycast', '192.88.99.1'],
    ['multicast', '224.0.0.1'],
    ['reserved', '240.0.0.1'],
    ['broadcast', '255.255.255.255'],
  ])('gives null for IPv4 %s (%s)', (_, ip) => {
    expect(publicAddress(ip)).toBeNull();
  });

  it.each([
    ['unspecified', '::'],
    ['loopback', '::1'],
    ['link-local', 'fe80::1'],
    ['link-local with a zone id', 'fe80::1%eth0'],
    ['unique local', 'fd12:3456:789a::1'],
    ['site-local (deprecated)', 'fec0::1'],
    ['multicast', 'ff02::1'],
    ['discard-only', '100::1'],
    ['documentation', '2001:db8::1'],
    ['documentation (RFC 9637)', '3fff::1'],
    ['Teredo', '2001:0:4136:e378::1'],
    ['6to4', '2002:808:808::1'],
    ['outside global unicast', '4000::1'],
    ['just below global unicast', '1fff:ffff::1'],
    ['mapped private IPv4', '::ffff:10.0.0.1'],
    ['mapped loopback', '::ffff:127.0.0.1'],
    ['mapped, hex form of 192.168.0.1', '::ffff:c0a8:1'],
    ['NAT64 of a private IPv4', '64:ff9b::192.168.0.1'],
    // A client never connects from a NAT64 address: that prefix is a translator's destination.
    ['NAT64 of a public IPv4', '64:ff9b::8.8.8.8'],
  ])('gives null for IPv6 %s (%s)', (_, ip) => {
    expect(publicAddress(ip)).toBeNull();
  });

  it.each([
    '',
    'localhost',
    'not an ip',
    '8.8.8',
    '8.8.8.8.8',
    '256.1.1.1',
    '010.0.0.1',
    ' 8.8.8.8',
    '8.8.8.8:443',
    '[2001:4860:4860::8888]',
    '2001:4860:4860::8888::1',
    '::ffff:999.1.1.1',
    'x'.repeat(10_000),
  ])('gives null for the malformed %p', (ip) => {
    expect(publicAddress(ip)).toBeNull();
  });
});
