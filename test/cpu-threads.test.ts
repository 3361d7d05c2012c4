// The cpu backend on several threads (ParallelCpuBackend): the same trace and
// the same positions as the one-thread CpuBackend, bit for bit, whatever the
// split of the points; worker failures surface as FlowErrors; runs end.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileOrThrow, prepareInputs, runCompiled, type FlowRun } from '../src/api.js';
import type { Compiled } from '../src/compiler/compile.js';
import { FlowError } from '../src/compiler/diagnostics.js';
import { defaultThreads, PARALLEL_MIN_PARTICLES, ParallelCpuBackend, sharedCopy } from '../src/runtime/backend-cpu-parallel.js';
import { BIN, ROOT, tempDir } from './helpers.js';

const SPECS = path.join(ROOT, 'specs');

/** A ½MMD² flow with N particles and M targets, sampled (no data files). */
function mmdSpec(N: number, M: number, steps: number): string {
  return [
    `flow threads_${N}_${M}`,
    'let sigma = 0.7',
    `particles mu in R^2: ${N} ~ normal(0, 1)`,
    `sample nu in R^2: ${M} ~ normal(1.5, 1)`,
    'kernel k(x, y) = exp(-|x - y|^2 / (2 * sigma^2))',
    'energy F = 1/2 * mmd2(mu, nu; k)',
    'metric W2',
    `scheme euler(step = 0.5, steps = ${steps})`,
    'record every 1: F, positions(mu)',
    '',
  ].join('\n');
}

/** Where two float64 arrays first differ in their bits, or null when they are identical. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): string | null {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  for (let k = 0; k < a.length; k++) if (!Object.is(a[k], b[k])) return `index ${k}: ${a[k]} and ${b[k]}`;
  return null;
}

function expectSameRun(one: FlowRun, many: FlowRun): void {
  expect(many.result.status).toBe(one.result.status);
  expect(many.result.trace.columns).toEqual(one.result.trace.columns);
  expect(firstDifference(many.result.trace.rows.flat(), one.result.trace.rows.flat())).toBeNull();
  expect(firstDifference(many.result.positions, one.result.positions)).toBeNull();
  one.result.snapshots.forEach((s, k) =>
    s.records.forEach((r, j) => expect(firstDifference(many.result.snapshots[k].records[j], r)).toBeNull()),
  );
}

async function compareThreads(file: string, threads: number[], steps?: number): Promise<void> {
  const { compiled } = compileOrThrow(file, { steps });
  const one = await runCompiled(compiled, { threads: 1 });
  expect(one.backend.threads).toBe(1);
  for (const t of threads) {
    const many = await runCompiled(compiled, { threads: t });
    expect(many.backend.threads).toBe(t);
    expectSameRun(one, many);
  }
}

describe('bit-identical to the one-thread run', () => {
  const specs = fs.readdirSync(SPECS).filter((f) => f.endsWith('.flow'));

  it('finds the specs', () => expect(specs.length).toBeGreaterThan(0));

  for (const spec of specs) it(`${spec} on 2 and 3 threads`, () => compareThreads(path.join(SPECS, spec), [2, 3], 5));

  it('N = 1001 (not divisible by the thread count), M = 999', async () => {
    const dir = tempDir({ 'odd.flow': mmdSpec(1001, 999, 3) });
    await compareThreads(path.join(dir, 'odd.flow'), [2, 3, 4]);
  });

  it('fewer points than threads', async () => {
    const dir = tempDir({ 'tiny.flow': mmdSpec(3, 2, 4), 'one.flow': mmdSpec(1, 1, 2) });
    await compareThreads(path.join(dir, 'tiny.flow'), [2, 4, 5]);
    await compareThreads(path.join(dir, 'one.flow'), [2]);
  });
});

describe('thread count', () => {
  it('every core from PARALLEL_MIN_PARTICLES particles on, else one', () => {
    expect(defaultThreads(PARALLEL_MIN_PARTICLES - 1)).toBe(1);
    expect(defaultThreads(PARALLEL_MIN_PARTICLES)).toBe(os.availableParallelism());
  });

  it('runs with the default on a large N and says how many threads ran', async () => {
    const dir = tempDir({ 'big.flow': mmdSpec(PARALLEL_MIN_PARTICLES, 64, 1) });
    const { compiled } = compileOrThrow(path.join(dir, 'big.flow'));
    const run = await runCompiled(compiled);
    expect(run.backend.threads).toBe(os.availableParallelism());
  });
});

describe('worker failures', () => {
  // set in this (the main) thread only: a stage tells where it runs by it
  (globalThis as { flowcTestMainThread?: boolean }).flowcTestMainThread = true;

  /**
   * The spec's velocity stage, which runs `inWorker` first on a worker; on
   * the main thread it first waits 5 ms, so that the worker claims chunks.
   */
  function withVelocityPrefix(compiled: Compiled, inWorker: string): Compiled {
    const prefix = `if (globalThis.flowcTestMainThread) { const t = Date.now() + 5; while (Date.now() < t); } else { ${inWorker} }`;
    const [first, ...rest] = compiled.kernels.programs.velocity;
    return { ...compiled, kernels: { ...compiled.kernels, programs: { ...compiled.kernels.programs, velocity: [`${prefix}\n${first}`, ...rest] } } };
  }

  async function velocityOnTwoThreads(compiled: Compiled): Promise<ParallelCpuBackend> {
    const { measures } = prepareInputs(compiled);
    const positions = sharedCopy(measures.find((m) => m.name === compiled.ir.particles)!.data);
    const backend = new ParallelCpuBackend(compiled, measures, positions, 2);
    await backend.setup();
    await backend.velocity(new Float64Array(positions.length)).finally(() => backend.dispose());
    return backend;
  }

  const spec = path.join(SPECS, 'mmd-three-modes.flow');

  it('an exception in a worker is a FlowError naming the thread and the error', async () => {
    const compiled = withVelocityPrefix(compileOrThrow(spec).compiled, 'throw new Error("boom in the stage");');
    const failed = velocityOnTwoThreads(compiled);
    await expect(failed).rejects.toThrow(FlowError);
    await expect(failed).rejects.toThrow(/cpu worker thread 1 failed: boom in the stage/);
  });

  it('a worker that dies ends the wait with a FlowError', async () => {
    const compiled = withVelocityPrefix(compileOrThrow(spec).compiled, 'process.exit(3);');
    await expect(velocityOnTwoThreads(compiled)).rejects.toThrow(/cpu worker thread 1 exited unexpectedly \(exit code 3\)/);
  });
});

describe('flowc run --threads', () => {
  it('runs on 2 threads, says so, and the process ends', () => {
    const out = tempDir();
    const r = spawnSync(process.execPath, [BIN, 'run', path.join(SPECS, 'mmd-three-modes.flow'), '--threads', '2', '--steps', '20', '--out', out, '--force'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/backend +cpu \(float64, 2 threads, wasm simd128 f64x2\)/);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'));
    expect(json.backend.threads).toBe(2);
  });

  it('rejects a thread count below 1', () => {
    const r = spawnSync(process.execPath, [BIN, 'run', path.join(SPECS, 'mmd-three-modes.flow'), '--threads', '0'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--threads <n>' argument '0' is invalid/);
  });
});
