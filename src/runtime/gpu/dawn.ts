// gpu.js's 'webgpu' mode in Node, through Dawn (npm `webgpu`, prebuilt
// dawn.node; no native build). gpu.js reads `globalThis.navigator.gpu` and
// calls `requestAdapter()` without options, so this shim finds an adapter
// itself and hands that one back (TOOLCHAIN.md, "gpu.js 2.24.1 backends in
// Node"):
//   - Dawn's native backend (Vulkan on Linux) on a real GPU, feature level
//     'core'; tried only where a Vulkan loader exists, because Dawn prints
//     "Couldn't load Vulkan" on stderr otherwise;
//   - Dawn's OpenGL ES backend over Mesa, headless: EGL_PLATFORM=surfaceless
//     (set before dawn.node opens EGL) and feature level 'compatibility' (a
//     'core' request on GL resolves null without a word). dawn.node dlopens
//     the unversioned `libEGL.so`, which Debian ships in libegl-dev.
// One Dawn instance and adapter per process: gpu.js keeps one device for all
// its kernels.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

export interface DawnAdapter {
  /** Dawn's backend: 'vulkan' (or the platform's native one) or 'opengles' */
  backend: string;
  /** the adapter's description, e.g. 'llvmpipe (LLVM 15.0.6, 256 bits)' */
  name: string;
}

export type DawnResult = { ok: true; adapter: DawnAdapter } | { ok: false; reason: string };

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}
interface DawnModule {
  create(flags: string[]): { requestAdapter(o: { featureLevel: string }): Promise<GpuAdapterLike | null> };
}

let installed: Promise<DawnResult> | undefined;
/** The Dawn instance that gave the adapter: kept reachable, since its devices die when it is collected. */
let instance: unknown;

/** Make `navigator.gpu` a Dawn adapter, once per process; says why not when no adapter exists. */
export function installDawn(): Promise<DawnResult> {
  return (installed ??= install());
}

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib64', '/lib64', '/usr/lib', '/lib'];

/** Whether the dynamic loader can find a library by this exact name (LD_LIBRARY_PATH and the usual folders). */
export function findLibrary(name: string): boolean {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIB_DIRS];
  return dirs.some((d) => fs.existsSync(path.join(d, name)));
}

const describeAdapter = (a: GpuAdapterLike, backend: string): DawnAdapter => {
  const i = a.info ?? {};
  return { backend, name: [i.device, i.description, i.vendor, i.architecture].find((s) => s) ?? 'unknown adapter' };
};

async function install(): Promise<DawnResult> {
  let dawn: DawnModule;
  try {
    dawn = require('webgpu') as DawnModule;
  } catch (e) {
    if ((e as { code?: string }).code === 'MODULE_NOT_FOUND' && (e as Error).message.includes("'webgpu'"))
      return { ok: false, reason: "Dawn (the npm package 'webgpu') is not installed: the gpu backend is an extra install; add it next to flowc with `npm install gpu.js@2.24.1 webgpu@0.6.2` (for a global flowc: `npm install -g gpu.js@2.24.1 webgpu@0.6.2`)" };
    return { ok: false, reason: `cannot load Dawn (the npm package 'webgpu'): ${(e as Error).message.split('\n')[0]}` };
  }
  const why: string[] = [];
  let found: { adapter: GpuAdapterLike; backend: string; gpu: unknown } | undefined;

  if (process.platform !== 'linux' || findLibrary('libvulkan.so.1')) {
    const gpu = dawn.create([]);
    const adapter = await gpu.requestAdapter({ featureLevel: 'core' });
    if (adapter) found = { adapter, gpu, backend: process.platform === 'linux' ? 'vulkan' : 'native' };
    else why.push('Vulkan: no adapter (no GPU, or no Vulkan driver for it)');
  } else why.push('Vulkan: no Vulkan loader (libvulkan.so.1; Debian: libvulkan1 and a driver)');

  if (!found && process.platform === 'linux') {
    if (!findLibrary('libEGL.so')) why.push("OpenGL ES: no libEGL.so, which Dawn loads by that name (Debian: apt-get install libegl-dev libgl1-mesa-dri)");
    else {
      // Mesa's EGL must not look for an X11 or Wayland display
      process.env.EGL_PLATFORM ??= 'surfaceless';
      const gpu = dawn.create(['backend=opengles']);
      const adapter = await gpu.requestAdapter({ featureLevel: 'compatibility' });
      if (adapter) found = { adapter, gpu, backend: 'opengles' };
      else
        why.push(
          `OpenGL ES: no adapter (Mesa's EGL and GL drivers missing? Debian: apt-get install libegl-dev libgl1-mesa-dri; EGL_PLATFORM is '${process.env.EGL_PLATFORM}', headless needs 'surfaceless')`,
        );
    }
  }
  if (!found) return { ok: false, reason: `Dawn found no WebGPU adapter: ${why.join('; ')}` };

  instance = found.gpu;
  const adapter = found.adapter;
  // gpu.js asks for the adapter's buffer sizes but keeps the default 8 storage
  // buffers per shader stage; a resident Euler update reads one per reduction
  // kernel (d = 16: 11), so ask for what the adapter offers
  const limited = new Proxy(adapter as object, {
    get(target: Record<string | symbol, unknown>, key) {
      const value = target[key];
      if (key === 'requestDevice')
        return (d: { requiredLimits?: Record<string, number> } = {}) =>
          (value as (d: object) => Promise<unknown>).call(target, {
            ...d,
            requiredLimits: { ...d.requiredLimits, maxStorageBuffersPerShaderStage: (target.limits as Record<string, number>).maxStorageBuffersPerShaderStage },
          });
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const gpu = { requestAdapter: async () => limited, getPreferredCanvasFormat: () => 'rgba8unorm' };
  // Node 21+ has a global navigator (read-only): add gpu to it; Node 20 has none
  const g = globalThis as { navigator?: object };
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { configurable: true, value: gpu });
  else Object.defineProperty(globalThis, 'navigator', { configurable: true, writable: true, value: { gpu } });
  return { ok: true, adapter: describeAdapter(adapter, found.backend) };
}
