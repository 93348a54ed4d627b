/** `import(specifier)` from a TypeScript suite (see import-esm.js); `T` is what the module exports. */
export declare function importEsm<T>(specifier: string): Promise<T>;
