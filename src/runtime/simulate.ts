// The time loop: W2 explicit Euler on the particles (DESIGN.md,
// "W2, explicit Euler: x_i <- x_i + γ v(x_i)"), recording at step 0, every
// K steps, and after the last step. A NaN or an infinity stops the run with
// the step and the quantity named; what was recorded so far stays valid.

import type { Compiled } from '../compiler/compile.js';
import type { Backend } from './backend-cpu.js';
import type { MeasureData } from './inputs.js';

export interface Trace {
  /** 'step', 't', then the energy and each scalar record item */
  columns: string[];
  rows: number[][];
}

export interface Divergence {
  step: number;
  quantity: string;
  value: number;
}

export interface RunResult {
  status: 'ok' | 'diverged';
  divergence?: Divergence;
  /** steps completed */
  steps: number;
  trace: Trace;
  /** recorded positions per `positions(...)` item: one copy per record */
  snapshots: { column: string; measure: string; dim: number; size: number; records: Float64Array[] }[];
  positions: Float64Array;
  timings: { setup: number; steps: number; record: number };
}

export interface SimulateOptions {
  /** called after each step (for progress display), with the energy at the latest record */
  onStep?: (step: number, steps: number, energy: number) => void;
}

export async function simulate(
  compiled: Compiled,
  measures: MeasureData[],
  positions: Float64Array,
  backend: Backend,
  options: SimulateOptions = {},
): Promise<RunResult> {
  const flow = compiled.ir;
  const { step: gamma, steps } = flow.scheme;
  const every = flow.record.every;
  const particles = measures.find((m) => m.name === flow.particles)!;
  const nIndex = compiled.layout.param.get('n:0')!;
  const tIndex = compiled.layout.param.get('t:0')!;

  const observed = new Float64Array(compiled.observed.length);
  const velocity = new Float64Array(positions.length);
  const trace: Trace = { columns: ['step', 't', ...compiled.observed.map((o) => o.column)], rows: [] };
  const snapshots = flow.record.items.flatMap((it) => {
    if (it.kind !== 'positions') return [];
    const m = measures.find((x) => x.name === it.measure)!;
    return [{ column: it.column, measure: m.name, dim: m.dim, size: m.size, records: [] as Float64Array[] }];
  });
  const timings = { setup: 0, steps: 0, record: 0 };

  let t0 = performance.now();
  await backend.setup();
  timings.setup = performance.now() - t0;

  const record = async (n: number): Promise<Divergence | undefined> => {
    const r0 = performance.now();
    backend.params[nIndex] = n;
    backend.params[tIndex] = n * gamma;
    await backend.observe(observed);
    trace.rows.push([n, n * gamma, ...observed]);
    for (const s of snapshots) s.records.push((s.measure === flow.particles ? positions : measures.find((m) => m.name === s.measure)!.data).slice());
    timings.record += performance.now() - r0;
    const bad = observed.findIndex((v) => !Number.isFinite(v));
    return bad < 0 ? undefined : { step: n, quantity: compiled.observed[bad].column, value: observed[bad] };
  };

  let divergence = await record(0);
  let done = 0;
  t0 = performance.now();
  const recordBefore = timings.record;
  for (let n = 0; n < steps && !divergence; n++) {
    backend.params[nIndex] = n;
    backend.params[tIndex] = n * gamma;
    await backend.velocity(velocity);
    for (let k = 0; k < positions.length; k++) positions[k] += gamma * velocity[k];
    done = n + 1;
    divergence = checkFinite(positions, particles, done);
    if (!divergence && ((every > 0 && done % every === 0) || done === steps)) divergence = await record(done);
    options.onStep?.(done, steps, trace.rows[trace.rows.length - 1][2]);
  }
  timings.steps = performance.now() - t0 - (timings.record - recordBefore);

  return { status: divergence ? 'diverged' : 'ok', divergence, steps: done, trace, snapshots, positions, timings };
}

function checkFinite(x: Float64Array, m: MeasureData, step: number): Divergence | undefined {
  for (let k = 0; k < x.length; k++)
    if (!Number.isFinite(x[k])) {
      const i = Math.floor(k / m.dim);
      return { step, quantity: `the position of particle ${i} of ${m.name} (coordinate ${k % m.dim})`, value: x[k] };
    }
  return undefined;
}
