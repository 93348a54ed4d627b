import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as ts from 'typescript';

const ROOT = join(__dirname, '..', '..');
/** Where the children's JavaScript goes (git-ignored). Inside the repository, so `require`
 *  finds node_modules as it does for the sources. */
export const BUILD_DIR = join(ROOT, 'bench', '.build');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name.startsWith('.') ? [] : sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/**
 * Transpiles src/ and bench/ to JavaScript once per run, exactly as ts-node's transpile-only mode
 * would (same compiler options), so every child process starts on plain `node` in well under a
 * second instead of compiling the whole app again, and carries no TypeScript compiler in its heap
 * (which would dominate a heap snapshot). Only files newer than their output are redone.
 */
export function compileForChildren(): string {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (path) =>
    readFileSync(path, 'utf8'),
  );
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const compilerOptions: ts.CompilerOptions = {
    ...options,
    sourceMap: false,
    inlineSourceMap: false,
    incremental: false,
    declaration: false,
  };
  for (const file of [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'bench'))]) {
    const out = join(BUILD_DIR, relative(ROOT, file)).replace(/\.ts$/, '.js');
    try {
      if (statSync(out).mtimeMs >= statSync(file).mtimeMs) continue;
    } catch {
      // not built yet
    }
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions,
      fileName: file,
    });
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  return BUILD_DIR;
}
