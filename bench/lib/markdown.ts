import { readFileSync, writeFileSync, existsSync } from 'node:fs';

export const BEGIN_MARKER = '<!-- bench:generated:begin -->';
export const END_MARKER = '<!-- bench:generated:end -->';

export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.map(String).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

const quote = (label: string) => `"${label.replace(/"/g, "'")}"`;

/** A Mermaid `xychart-beta` bar chart (optionally with a line, e.g. a target). */
export function barChart(options: {
  title: string;
  labels: string[];
  yLabel: string;
  values: number[];
  line?: number[];
}): string {
  const finite = [...options.values, ...(options.line ?? [])].filter(Number.isFinite);
  const top = finite.length ? Math.max(...finite) : 1;
  const fmt = (values: number[]) =>
    `[${values.map((value) => (Number.isFinite(value) ? Number(value.toPrecision(4)) : 0)).join(', ')}]`;
  return [
    '```mermaid',
    'xychart-beta',
    `    title ${quote(options.title)}`,
    `    x-axis [${options.labels.map(quote).join(', ')}]`,
    `    y-axis ${quote(options.yLabel)} 0 --> ${Number((top * 1.1).toPrecision(2))}`,
    `    bar ${fmt(options.values)}`,
    ...(options.line ? [`    line ${fmt(options.line)}`] : []),
    '```',
  ].join('\n');
}

export const verdict = (met: boolean | null): string =>
  met === null ? 'not measured' : met ? '**met**' : '**missed**';

/**
 * Replaces the generated part of `path` (between the markers) and keeps everything else, so
 * hand-written analysis around it survives a re-run. A file without markers gets them appended.
 * `markers` names another block (the soak's record, written by its own command).
 */
export function writeGenerated(
  path: string,
  generated: string,
  skeleton: string,
  markers: { begin: string; end: string } = { begin: BEGIN_MARKER, end: END_MARKER },
): void {
  const current = existsSync(path) ? readFileSync(path, 'utf8') : skeleton;
  const begin = current.indexOf(markers.begin);
  const end = current.indexOf(markers.end);
  const block = `${markers.begin}\n${generated.trim()}\n${markers.end}`;
  const next =
    begin !== -1 && end > begin
      ? current.slice(0, begin) + block + current.slice(end + markers.end.length)
      : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}
