// `import()` for the TypeScript suites. ts-jest leaves `import()` as it is, and Jest cannot run it
// without --experimental-vm-modules; in a .js file, test/support/esm-transformer.js rewrites it into
// a require that Jest follows, compiling the ES module it reaches (a "type": "module" package, such
// as dist/client) with Babel. Pass an absolute path or a package name.
module.exports = { importEsm: (specifier) => import(specifier) };
