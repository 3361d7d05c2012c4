// node:module in the browser build: createRequire gives a require that finds
// nothing (gpu.js and Dawn are not part of the playground's bundle), failing
// as Node's does for a missing module so that flowc says what is missing.

export function createRequire(): (name: string) => never {
  return (name: string) => {
    const e = new Error(`Cannot find module '${name}' (not in the playground's bundle)`) as Error & { code: string };
    e.code = 'MODULE_NOT_FOUND';
    throw e;
  };
}

export default { createRequire };
