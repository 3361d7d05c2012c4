// node:module in the browser build: createRequire gives a require for the
// two packages the gpu backend loads at run time (src/runtime/gpu/): gpu.js
// (its browser build, bundled) and Dawn's npm 'webgpu', whose part flowc
// uses (create() → requestAdapter) is here the browser's own WebGPU
// (navigator.gpu), where it has one. Anything else is missing, as Node says
// of a module that is not installed.

import * as gpujs from 'gpu.js';

const webgpu = {
  create: () => {
    const gpu = (globalThis.navigator as { gpu?: { requestAdapter(o?: object): Promise<unknown> } } | undefined)?.gpu;
    return { requestAdapter: async (o?: object) => (gpu ? gpu.requestAdapter(o) : null) };
  },
};

const MODULES: Record<string, unknown> = { 'gpu.js': gpujs, webgpu };

export function createRequire(): (name: string) => unknown {
  return (name: string) => {
    if (name in MODULES) return MODULES[name];
    const e = new Error(`Cannot find module '${name}' (not in the playground's bundle)`) as Error & { code: string };
    e.code = 'MODULE_NOT_FOUND';
    throw e;
  };
}

export default { createRequire };
