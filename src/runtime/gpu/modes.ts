// The gpu.js modes flowc can run on, what each needs, and one gpu.js GPU per
// mode per process. gpu.js is loaded only when a gpu backend is asked for.
//
// gpu.js 2.24.1 in Node (TOOLCHAIN.md): 'cpu' (generated JS, float64
// arithmetic, float32 storage) and 'webasm' (WebAssembly SIMD, float32) work
// everywhere; 'webgpu' works through Dawn (dawn.ts); 'headlessgl' needs the
// optional native module `gl`, which `npm ci` does not build (allowScripts
// gl: false), and an X server.

import { createRequire } from 'node:module';
import { installDawn, type DawnAdapter } from './dawn.js';

const require = createRequire(import.meta.url);

export const GPU_MODES = ['webgpu', 'headlessgl', 'webasm', 'cpu'] as const;
export type GpuMode = (typeof GPU_MODES)[number];

export const isGpuMode = (s: string): s is GpuMode => (GPU_MODES as readonly string[]).includes(s);

// ------------------------------------------------------------ the parts of gpu.js flowc uses

export interface GpuJsKernel {
  (...args: unknown[]): unknown;
  setOutput(output: number[]): void;
  destroy(): void;
  /** webasm: the cpu kernel it fell back to, with the reason */
  kernel?: { fallbackReason?: string };
}
export interface GpuJs {
  createKernel(source: string, settings: Record<string, unknown>): GpuJsKernel;
  destroy(): void;
}
export interface WebGpuContext {
  device: {
    limits?: { maxStorageBuffersPerShaderStage?: number };
    createBuffer(d: { size: number; usage: number }): { destroy(): void };
    queue: { writeBuffer(buffer: unknown, offset: number, data: Float32Array): void };
  };
}
interface GpuJsModule {
  GPU: { new (settings: { mode: string }): GpuJs; readonly isHeadlessGLSupported: boolean; readonly isWebAssemblySupported: boolean };
  WebGPUContext: { acquire(): Promise<WebGpuContext> };
  WebGPUBufferResult: new (s: { buffer: unknown; output: number[]; componentCount: number; context: WebGpuContext; kernel: null }) => {
    delete(): void;
  };
}

export const gpujs = (): GpuJsModule => require('gpu.js') as GpuJsModule;

/**
 * The gpu backend's packages are an extra install (package.json:
 * peerDependencies, optional): a default install of flowc leaves out gpu.js
 * and Dawn (npm 'webgpu', about 240 MB with gpu.js's own copy). How to add them.
 */
export const GPU_EXTRA = (what: string) =>
  `${what} is not installed: the gpu backend is an extra install; add it next to flowc with \`npm install gpu.js@2.24.1 webgpu@0.6.2\` (for a global flowc: \`npm install -g gpu.js@2.24.1 webgpu@0.6.2\`)`;

/** Whether a require failed because the module itself is absent (not one of its own files or native parts). */
export const moduleMissing = (e: unknown, name: string): boolean =>
  (e as { code?: string }).code === 'MODULE_NOT_FOUND' && (e as Error).message.includes(`'${name}'`);

// ------------------------------------------------------------ probing

export interface ModeProbe {
  mode: GpuMode;
  available: boolean;
  /** why not, or what it runs on */
  detail: string;
  /** the adapter or renderer, when there is one */
  renderer?: string;
  dawn?: DawnAdapter;
}

const probes = new Map<GpuMode, Promise<ModeProbe>>();

/** Whether a mode can run here, and why not (cached per process). */
export function probeMode(mode: GpuMode): Promise<ModeProbe> {
  let p = probes.get(mode);
  if (!p) probes.set(mode, (p = probe(mode)));
  return p;
}

async function probe(mode: GpuMode): Promise<ModeProbe> {
  let GPU: GpuJsModule['GPU'];
  try {
    ({ GPU } = gpujs());
  } catch (e) {
    if (moduleMissing(e, 'gpu.js')) return { mode, available: false, detail: GPU_EXTRA('gpu.js') };
    throw e;
  }
  switch (mode) {
    case 'cpu':
      return { mode, available: true, detail: 'gpu.js generated JavaScript (float64 arithmetic, float32 storage)', renderer: 'JavaScript' };
    case 'webasm':
      return GPU.isWebAssemblySupported
        ? { mode, available: true, detail: 'WebAssembly SIMD, float32', renderer: 'WebAssembly' }
        : { mode, available: false, detail: 'this Node has no WebAssembly SIMD' };
    case 'headlessgl': {
      try {
        require('gl');
      } catch {
        return {
          mode,
          available: false,
          detail:
            "the native module 'gl' is not built (flowc's package.json denies its install script: allowScripts gl: false); to use it, allow it, install libxi-dev libglew-dev libglu1-mesa-dev pkg-config, run `npm rebuild gl` (node-gyp, minutes) and run flowc under an X server (xvfb-run)",
        };
      }
      return GPU.isHeadlessGLSupported
        ? { mode, available: true, detail: 'headless-gl (WebGL 1)', renderer: 'headless-gl' }
        : { mode, available: false, detail: "the native module 'gl' cannot open a GL context: it needs an X server (run under xvfb-run)" };
    }
    case 'webgpu': {
      const r = await installDawn();
      if (!r.ok) return { mode, available: false, detail: r.reason };
      return { mode, available: true, detail: `Dawn ${r.adapter.backend === 'opengles' ? 'OpenGL ES (Mesa, EGL surfaceless)' : r.adapter.backend}`, renderer: r.adapter.name, dawn: r.adapter };
    }
  }
}

const instances = new Map<GpuMode, GpuJs>();

/** The process's gpu.js GPU for a mode (probe first: this assumes the mode is available). */
export function gpuFor(mode: GpuMode): GpuJs {
  let g = instances.get(mode);
  if (!g) instances.set(mode, (g = new (gpujs().GPU)({ mode })));
  return g;
}
