// Which gpu.js mode runs a spec. An explicit mode that cannot run here is a
// FlowError naming what is missing. `auto` probes every mode, times the
// spec's own first velocity stage on each available one (on at most
// CALIBRATION_POINTS points per measure, so it stays short), picks the
// fastest, and caches the choice per machine, flowc version, set of
// available modes and problem size, in $XDG_CACHE_HOME/flowc (or
// ~/.cache/flowc).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Compiled } from '../../compiler/compile.js';
import { error, FlowError } from '../../compiler/diagnostics.js';
import { GpuBackend } from '../backend-gpu.js';
import type { MeasureData } from '../inputs.js';
import { GPU_MODES, probeMode, type GpuMode, type ModeProbe } from './modes.js';
import { userCacheDir, writeAtomically } from '../../user-cache.js';

export type GpuRequest = 'auto' | GpuMode;

/** Points per measure in a calibration (the timing grows with the product of two sizes). */
export const CALIBRATION_POINTS = 4096;

const VERSION: string = (() => {
  try {
    const pkg = fileURLToPath(new URL('../../../../package.json', import.meta.url));
    return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

export function cacheFile(): string {
  return path.join(userCacheDir(), 'gpu-modes.json');
}

interface Choice {
  mode: GpuMode;
  /** ms per call of the calibrated stage, per mode */
  timings: Partial<Record<GpuMode, number>>;
  stage: string;
  at: string;
}

function readCache(file: string): Record<string, Choice> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Choice>;
  } catch {
    return {};
  }
}

/** Add the choice to the cache file (by a rename); a read-only home only costs a calibration next time. */
function writeCache(file: string, key: string, choice: Choice): void {
  writeAtomically(path.dirname(file), path.basename(file), JSON.stringify({ ...readCache(file), [key]: choice }, null, 1) + '\n');
}

/** The measures cut to their first `cap` points (calibration only). */
function truncated(measures: MeasureData[], cap: number): MeasureData[] {
  return measures.map((m) => (m.size <= cap ? m : { ...m, size: cap, data: m.data.slice(0, cap * m.dim) }));
}

export async function openGpuBackend(compiled: Compiled, measures: MeasureData[], positions: Float64Array, request: GpuRequest): Promise<GpuBackend> {
  const file = compiled.ir.file;
  if (request !== 'auto') {
    const p = await probeMode(request);
    if (!p.available) throw new FlowError(error(file, undefined, `--backend gpu:${request} cannot run on this machine: ${p.detail}`, ['`flowc doctor` lists what each mode needs; --backend gpu picks one that works']));
    return GpuBackend.open(compiled, measures, positions, request, { requested: request, why: 'requested explicitly', ...where(p) });
  }

  const probes = await Promise.all(GPU_MODES.map(probeMode));
  const available = probes.filter((p) => p.available);
  const unavailable = Object.fromEntries(probes.filter((p) => !p.available).map((p) => [p.mode, p.detail]));
  // without gpu.js no mode runs: say what to install
  if (!available.length)
    throw new FlowError(error(file, undefined, `--backend gpu cannot run on this machine: ${[...new Set(probes.map((p) => p.detail))].join('; ')}`, ['`flowc doctor` lists what each mode needs']));
  const cut = truncated(measures, CALIBRATION_POINTS);
  const sizes = cut.map((m) => m.size);
  const key = [os.hostname(), os.cpus()[0]?.model ?? 'cpu', `flowc ${VERSION}`, available.map((p) => p.mode).join('+'), `points ${Math.round(Math.log2(Math.max(...sizes)))}`].join(' | ');
  const cfile = cacheFile();
  let choice = readCache(cfile)[key];
  let how = `cached in ${cfile}`;
  if (!choice || !available.some((p) => p.mode === choice.mode)) {
    const timings: Partial<Record<GpuMode, number>> = {};
    const particles = cut.find((m) => m.name === compiled.ir.particles)!;
    for (const p of available) {
      const trial = await GpuBackend.open(compiled, cut, particles.data.slice(), p.mode, {});
      try {
        const ms = await trial.timeFirstStage();
        if (ms !== null) timings[p.mode] = Math.round(ms * 100) / 100;
      } catch (e) {
        // a kernel this mode cannot compile: the mode is not a candidate
        unavailable[p.mode] = `failed in calibration: ${(e as Error).message.split('\n')[0]}`;
      } finally {
        trial.dispose();
      }
    }
    const ranked = (Object.entries(timings) as [GpuMode, number][]).sort((a, b) => a[1] - b[1]);
    choice = { mode: ranked[0]?.[0] ?? 'cpu', timings, stage: `velocity, ${sizes.join(' and ')} points`, at: new Date().toISOString() };
    writeCache(cfile, key, choice);
    how = `calibrated now, cached in ${cfile}`;
  }
  const timed = Object.entries(choice.timings).map(([m, t]) => `${m} ${t} ms`);
  const why = timed.length
    ? `auto: fastest of ${timed.join(', ')} per call of the first velocity stage (${choice.stage}); ${how}`
    : 'auto: no velocity stage runs as kernels, every mode runs the same host code';
  const picked = probes.find((p) => p.mode === choice.mode)!;
  return GpuBackend.open(compiled, measures, positions, choice.mode, { requested: 'auto', why, calibration: choice.timings, unavailable, ...where(picked) });
}

const where = (p: ModeProbe) => ({ runs_on: p.detail, ...(p.renderer ? { renderer: p.renderer } : {}) });
