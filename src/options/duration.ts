const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses `900`, `900s`, `15m`, `8h` or `1d` into whole seconds; NaN when it is not a duration. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+)\s*([smhd]?)\s*$/.exec(text);
  if (!match) return Number.NaN;
  return Number(match[1]) * UNITS[match[2] || 's'];
}
