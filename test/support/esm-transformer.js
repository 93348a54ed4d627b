// Jest runs the suites as CommonJS, and Jest cannot `require()` an ES module on Node 20 (Node
// itself can, since 20.19). NestJS 12 and a few of Fastify's dependencies ship only ES modules, so
// this transformer compiles exactly those files (packages with "type": "module", and .mjs files)
// to CommonJS with Babel, and rewrites `import()` in CommonJS files (Jest's modules cannot import
// dynamically without --experimental-vm-modules); every other file passes through untouched.
// Results are cached by Jest.
const { dirname, join } = require('node:path');
const { existsSync, readFileSync } = require('node:fs');
const babelJest = require('babel-jest').default;

/**
 * `import.meta.url`, `.filename`, `.dirname` and `.resolve` in CommonJS terms. Through `module.require`, not
 * `require`: ES modules such as @nestjs/terminus declare their own `const require =
 * createRequire(import.meta.url)`, which would shadow a plain `require` here.
 */
function importMetaToCommonJs({ types: t, template }) {
  const url = template.expression.ast`module.require('node:url').pathToFileURL(__filename).href`;
  const resolve = template.expression
    .ast`module.require('node:module').createRequire(__filename).resolve`;
  return {
    visitor: {
      MetaProperty(path) {
        const member = path.parentPath;
        if (!member.isMemberExpression() || path.node.meta.name !== 'import') return;
        const name = member.node.computed ? member.node.property.value : member.node.property.name;
        if (name === 'url') member.replaceWith(t.cloneNode(url));
        else if (name === 'filename') member.replaceWith(t.identifier('__filename'));
        else if (name === 'dirname') member.replaceWith(t.identifier('__dirname'));
        else if (name === 'resolve') member.replaceWith(t.cloneNode(resolve));
      },
    },
  };
}

const babel = babelJest.createTransformer({
  babelrc: false,
  configFile: false,
  compact: false,
  sourceType: 'module',
  plugins: [
    importMetaToCommonJs,
    // `await import('pkg')` becomes a require: Jest's CommonJS modules cannot import dynamically.
    require.resolve('@babel/plugin-transform-dynamic-import'),
    require.resolve('@babel/plugin-transform-modules-commonjs'),
  ],
});

/** The `type` of the package a directory belongs to (nearest package.json that says one). */
const types = new Map();
function packageType(dir) {
  let type = types.get(dir);
  if (type !== undefined) return type;
  const file = join(dir, 'package.json');
  if (existsSync(file)) {
    try {
      type = JSON.parse(readFileSync(file, 'utf8')).type;
    } catch {
      type = undefined;
    }
  }
  if (type === undefined) {
    const parent = dirname(dir);
    type = parent === dir ? 'commonjs' : packageType(parent);
  }
  types.set(dir, type);
  return type;
}

/** CommonJS files that load an ES module with `import()` only need that call rewritten. */
const dynamicImports = babelJest.createTransformer({
  babelrc: false,
  configFile: false,
  compact: false,
  sourceType: 'script',
  plugins: [
    require.resolve('@babel/plugin-transform-dynamic-import'),
    require.resolve('@babel/plugin-transform-modules-commonjs'),
  ],
});
const DYNAMIC_IMPORT = /\bimport\s*\(/;

const isEsm = (filename) =>
  filename.endsWith('.mjs') ||
  (!filename.endsWith('.cjs') && packageType(dirname(filename)) === 'module');

module.exports = {
  canInstrument: false,
  getCacheKey(source, filename, options) {
    return `${isEsm(filename) ? 'esm' : 'cjs'}:${babel.getCacheKey(source, filename, options)}`;
  },
  process(source, filename, options) {
    if (isEsm(filename)) return babel.process(source, filename, options);
    if (DYNAMIC_IMPORT.test(source)) return dynamicImports.process(source, filename, options);
    return { code: source };
  },
};
