// The --backend option: parsed when the command line is read, so it lives
// apart from doctor.ts (which loads the gpu backend).

import { InvalidArgumentError } from 'commander';
import { GPU_MODES, isGpuMode } from '../runtime/gpu/modes.js';
import type { GpuRequest } from '../runtime/gpu/select.js';

/** `--backend cpu | cpu:js | gpu | gpu:MODE`, as given; gpuRequest() reads it. */
export function parseBackend(text: string): string {
  const [kind, mode, ...rest] = text.split(':');
  if (kind === 'cpu' && (mode === undefined || (mode === 'js' && !rest.length))) return text;
  if (kind === 'gpu' && !rest.length && (mode === undefined || mode === 'auto' || isGpuMode(mode))) return text;
  throw new InvalidArgumentError(`expected cpu, cpu:js, gpu or gpu:MODE with MODE one of auto, ${GPU_MODES.join(', ')}; got '${text}'`);
}

/** The gpu mode a parsed `--backend` asks for, or undefined for the cpu backends. */
export function gpuRequest(backend: string): GpuRequest | undefined {
  if (backend === 'cpu' || backend === 'cpu:js') return undefined;
  return (backend.split(':')[1] ?? 'auto') as GpuRequest;
}
