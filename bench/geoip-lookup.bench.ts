/**
 * Rough cost of one session location lookup over the embedded country database.
 * Run: npx ts-node bench/geoip-lookup.bench.ts
 * Prints the start-up cost (read + open), the mean time per lookup for public IPv4, public IPv6
 * and private addresses, and how many distinct location objects a million lookups produce.
 */
import { performance } from 'node:perf_hooks';
import { createGeoLocator } from '../src/geoip/geo-locator.factory';
import { publicAddress } from '../src/geoip/ip-address';

const SAMPLES = 200_000;

/** Deterministic pseudo-random numbers (mulberry32), so every run looks the same addresses up. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function addresses(count: number, draw: () => string): string[] {
  const list: string[] = [];
  for (let tries = 0; list.length < count && tries < count * 20; tries++) {
    const ip = draw();
    if (publicAddress(ip) !== null) list.push(ip);
  }
  return list;
}

const next = random(42);
const octet = () => Math.floor(next() * 256);
const hextet = () => Math.floor(next() * 65536).toString(16);
const ipv4 = addresses(SAMPLES, () => `${octet()}.${octet()}.${octet()}.${octet()}`);
// Allocated IPv6 space is mostly under 2001::/16, 2400::/12, 2600::/12 and 2a00::/12.
const prefixes = ['2001', '2400', '2404', '2600', '2604', '2a00', '2a02', '2a01'];
const ipv6 = addresses(
  SAMPLES,
  () => `${prefixes[Math.floor(next() * prefixes.length)]}:${hextet()}:${hextet()}::${hextet()}`,
);
const privateOnes = Array.from({ length: SAMPLES }, () => `10.${octet()}.${octet()}.${octet()}`);

let started = performance.now();
const geo = createGeoLocator({ geoip: true, geoipDbPath: undefined });
const openMs = performance.now() - started;

function measure(name: string, list: string[]): void {
  for (const ip of list.slice(0, 10_000)) geo.locate(ip); // warm up
  let located = 0;
  started = performance.now();
  for (const ip of list) if (geo.locate(ip) !== null) located++;
  const perLookupUs = ((performance.now() - started) * 1000) / list.length;
  console.log(
    `${name.padEnd(13)} ${perLookupUs.toFixed(2)} µs/lookup over ${list.length} addresses (${located} located)`,
  );
}

console.log(`open (read the ~8 MB file, check its metadata): ${openMs.toFixed(0)} ms`);
measure('public IPv4', ipv4);
measure('public IPv6', ipv6);
measure('private IPv4', privateOnes);

const held = Array.from({ length: 1_000_000 }, (_, i) => geo.locate(ipv4[i % ipv4.length]));
console.log(
  `1,000,000 lookups held: ${new Set(held.filter(Boolean)).size} distinct location objects`,
);
