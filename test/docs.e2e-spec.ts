import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ServiceConfig } from '../src/config';
import { envName, FingerprintAuthSettings, settingNames } from '../src/options/settings';

/*
 * The documentation is the contract beside the OpenAPI document: every setting is documented,
 * the list of server-only settings is the code's, every link inside the repository lands on a
 * file and heading that exist, and nothing points outside the repository.
 */
const ROOT = join(__dirname, '..');
const DOCS = [
  'README.md',
  'SECURITY.md',
  'BENCHMARKS.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** A heading's anchor as Markdown renderers make it: lower case, punctuation dropped, spaces to -. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

function anchorsOf(path: string): Set<string> {
  const text = read(path).replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((match) => slug(match[1])));
}

describe('documentation (e2e)', () => {
  it('documents every environment variable in docs/configuration.md', () => {
    const configuration = read('docs/configuration.md');
    const missing = settingNames(ServiceConfig)
      .map(envName)
      .filter((name) => !configuration.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('lists as server-only exactly the settings a host app does not pass as options', () => {
    const library = new Set(settingNames(FingerprintAuthSettings));
    const serverOnly = settingNames(ServiceConfig)
      .filter((name) => !library.has(name))
      .map(envName)
      .sort();
    const paragraph = /In your own app, the same settings[\s\S]*?\n\n/.exec(
      read('docs/configuration.md'),
    )?.[0];
    expect(paragraph).toBeDefined();
    const listed = [...paragraph!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)]
      .map((match) => match[1])
      .filter((name) => name !== 'ACCESS_TOKEN_TTL')
      .sort();
    expect(listed).toEqual(serverOnly);
  });

  it.each(DOCS)('%s links only to files and headings that exist', (path) => {
    const text = read(path).replace(/```[\s\S]*?```/g, '');
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue; // checked by the next test
      const [file, anchor] = target.split('#');
      const resolved = file === '' ? join(ROOT, path) : resolve(dirname(join(ROOT, path)), file);
      const inRepo = relative(ROOT, resolved);
      if (inRepo.startsWith('..') || !existsSync(resolved)) {
        broken.push(`${target} (no such file)`);
      } else if (anchor !== undefined && inRepo.endsWith('.md') && !anchorsOf(inRepo).has(anchor)) {
        broken.push(`${target} (no such heading in ${inRepo})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('no file of the repository cites anything outside it', () => {
    // Hosts reserved for examples and tests (RFC 2606) and loopback are not citations.
    const local =
      /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\]|([a-z0-9-]+\.)*(example|test)|([a-z0-9-]+\.)*example\.(com|net|org))(?![\w.-])/;
    const files = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      // Lock files record where each package was downloaded from; they are npm's, not prose.
      .filter((file) => file !== '' && !/(^|\/)package-lock\.json$/.test(file));
    const outside: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [url] of text.matchAll(/\bhttps?:\/\/[^\s)`'"<>]+/g)) {
        if (!local.test(url) && !url.includes('${')) outside.push(`${file}: ${url}`);
      }
    }
    expect(outside).toEqual([]);
  });
});
