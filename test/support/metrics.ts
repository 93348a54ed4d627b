/**
 * The value of one sample in Prometheus text, labels matching exactly (order-insensitive);
 * undefined when the scrape has no such sample.
 */
export function findSample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) {
      found[pair[1]] = pair[2];
    }
    const wanted = Object.entries(labels);
    if (
      wanted.length === Object.keys(found).length &&
      wanted.every(([key, value]) => found[key] === value)
    ) {
      return Number(match[3]);
    }
  }
  return undefined;
}

/** `findSample`, with 0 for a sample not there yet (a counter no event has touched). */
export const sample = (text: string, name: string, labels: Record<string, string> = {}): number =>
  findSample(text, name, labels) ?? 0;
