// The time loop: one step at a time (schemes.ts: Euler or JKO, in the
// flow's metric, with noise injection and diffusion), recording at step 0,
// every K steps, and after the last step. A NaN or an infinity stops the run
// with the step and the quantity named; what was recorded so far stays valid.
//
// Trace columns: step, t, the energy and the scalar record items (computed
// by the observe program), then the host-side items in source order
// (dissipation, w2, inner).

import { displacementRecorder } from './displacement.js';
import { EnergyWatch } from './energy-watch.js';
import type { Compiled } from '../compiler/compile.js';
import type { Backend } from './backend-cpu.js';
import type { MeasureData } from './inputs.js';
import { CheckpointState, type Checkpoint } from './checkpoint.js';
import { CG_MAX_ITERATIONS, CG_TOL, Stepper, type InnerReport } from './schemes.js';
import { StateStepper } from './state-flow.js';
import { exactW2, sinkhornW2, w2Method, type Cloud, type SinkhornPotentials } from './transport.js';
import { transportLosses } from './transport-loss.js';

/** Marginal error (L1, relative) at which a recorded Sinkhorn w2 stops: far below what a trace shows. */
export const SINKHORN_RECORD_TOL = 1e-6;

export interface Trace {
  /** 'step', 't', then the energy and each scalar record item */
  columns: string[];
  rows: number[][];
}

export interface Divergence {
  step: number;
  quantity: string;
  value: number;
  /** why a finite value stops the run (energy-watch.ts) */
  note?: string;
}

export interface RunResult {
  /** 'interrupted': options.stop asked the run to end early */
  status: 'ok' | 'diverged' | 'interrupted';
  divergence?: Divergence;
  /** steps completed */
  steps: number;
  /** with options.onRecord, only the first and the latest row (every row went to onRecord) */
  trace: Trace;
  /** records made (trace rows), counting those of a resumed run before its checkpoint */
  records: number;
  /**
   * recorded positions per `positions(...)` item (records × size × dim), weights per `weights(...)` item
   * (records × size, dim 1), and the coordinates of each recorded state or critic (records × dim, size 1)
   */
  snapshots: { column: string; measure: string; kind: 'positions' | 'weights' | 'state'; dim: number; size: number; records: Float64Array[] }[];
  positions: Float64Array;
  /** the final coordinates of each state and critic */
  states?: Record<string, Float64Array>;
  /** final weights when the metric moves them */
  weights?: Float64Array;
  /** inner iterations (jko, or dab's conjugate gradients), when the flow has them */
  inner?: InnerReport & { kind: 'jko' | 'cg'; tolerance: number; limit: number };
  /** how each w2 column was computed */
  transport?: Record<string, { method: 'exact' } | { method: 'sinkhorn'; eps: number }>;
  /** what the run noticed (schedules below zero, inner iterations exhausted) */
  warnings: string[];
  timings: { setup: number; steps: number; record: number };
}

export interface SimulateOptions {
  /** called after each step (for progress display), with the energy at the latest record */
  onStep?: (step: number, steps: number, energy: number) => void;
  /**
   * Streamed records (record-stream.ts): called at each record with its trace
   * row and the current values of each snapshot (not copies); the result then
   * keeps no snapshots and only the first and latest trace rows.
   */
  onRecord?: (row: number[], snapshots: Float64Array[], layout: { columns: string[]; snapshots: RunResult['snapshots'] }) => void;
  /** checked after each step; true ends the run there with status 'interrupted' (after a checkpoint) */
  stop?: () => boolean;
  /** save a checkpoint every K steps (0 or absent: only when stopped) through onCheckpoint */
  checkpointEvery?: number;
  onCheckpoint?: (cp: Checkpoint) => void;
  /** continue from this checkpoint instead of step 0 */
  resume?: Checkpoint;
}

export async function simulate(
  compiled: Compiled,
  measures: MeasureData[],
  positions: Float64Array,
  device: Backend,
  options: SimulateOptions = {},
): Promise<RunResult> {
  const flow = compiled.ir;
  // w2(a, b)^2 terms of the energy: the host adds their gradients (transport-loss.ts)
  const losses = transportLosses(compiled, measures, device);
  const backend = losses?.backend ?? device;
  const { step: gamma, steps } = flow.scheme;
  const every = flow.record.every;
  const particles = measures.find((m) => m.name === flow.particles);
  const nIndex = compiled.layout.param.get('n:0')!;
  const tIndex = compiled.layout.param.get('t:0')!;
  if (backend.state.positions !== positions) throw new Error('internal: the backend does not read these positions');
  const weights = backend.state.weights;
  // particles move in the particle metrics (schemes.ts); states and critics in state-flow.ts
  const stepper = particles ? new Stepper(compiled, backend) : undefined;
  const vectors = flow.states.length ? new StateStepper(compiled, backend) : undefined;
  const stepOnce = async (n: number): Promise<boolean> => {
    if (!stepper) return vectors!.step(n);
    const onHost = await stepper.step(n);
    await vectors?.ascend();
    return onHost;
  };
  const innerReport = (): InnerReport => (stepper ?? vectors)!.inner;
  // what a checkpoint saves (checkpoint.ts): one line per array or value carried from step to step
  const saved = new CheckpointState();
  if (particles) saved.array('positions', positions);
  if (weights) saved.array('weights', weights);
  stepper?.register(saved);
  vectors?.register(saved);
  losses?.register(saved);

  const observed = new Float64Array(compiled.observed.length);
  const snapshots = flow.record.items.flatMap((it): RunResult['snapshots'] => {
    if (it.kind === 'state') {
      const v = flow.states.find((x) => x.name === it.state)!;
      return [{ column: it.column, measure: v.name, kind: it.kind, dim: v.dim, size: 1, records: [] as Float64Array[] }];
    }
    if (it.kind !== 'positions' && it.kind !== 'weights') return [];
    const m = measures.find((x) => x.name === it.measure)!;
    return [{ column: it.column, measure: m.name, kind: it.kind, dim: it.kind === 'weights' ? 1 : m.dim, size: m.size, records: [] as Float64Array[] }];
  });

  // host-side record items; how each w2 is computed goes to run.json (transport), not into its column
  /** the current points of a measure: the particles, a model's (recomputed from the states), or a sample's */
  const pointsOf = (name: string): Float64Array =>
    name === flow.particles ? positions : (backend.state.extra.get(name)?.data ?? measures.find((x) => x.name === name)!.data);
  const cloud = (name: string): Cloud => {
    const m = measures.find((x) => x.name === name)!;
    return { points: pointsOf(name), n: m.size, d: m.dim, ...(name === flow.particles && weights ? { weights } : {}) };
  };
  const transport: NonNullable<RunResult['transport']> = {};
  const hostItems = flow.record.items.flatMap((it) => {
    if (it.kind === 'dissipation' || it.kind === 'inner')
      return [{ column: it.column, value: it.kind === 'inner' ? async () => innerReport().last : (n: number) => (stepper ?? vectors)!.dissipation(n) }];
    if (it.kind === 'state') {
      // one column per coordinate: theta[0], theta[1], ...
      const v = vectors!.vectors.find((x) => x.ir.name === it.state)!;
      return Array.from(v.data, (_, c) => ({ column: `${it.column}[${c}]`, value: async () => v.data[c] }));
    }
    if (it.kind === 'displacement') {
      const value = displacementRecorder(positions, particles!.dim, weights);
      return [{ column: it.column, value: async () => value() }];
    }
    if (it.kind !== 'w2') return [];
    // the method and epsilon chosen at step 0 hold for the whole run; each
    // Sinkhorn starts from the previous record's potentials (warm start)
    const how = w2Method(cloud(it.a), cloud(it.b));
    const column = it.column;
    transport[column] = how;
    const eps = how.method === 'sinkhorn' ? how.eps : undefined;
    let init: SinkhornPotentials | undefined;
    saved.value(
      `w2.potentials:${column}`,
      () => (init ? { f: Array.from(init.f), g: Array.from(init.g) } : null),
      (v) => {
        const p = v as { f: number[]; g: number[] } | null;
        init = p ? { f: Float64Array.from(p.f), g: Float64Array.from(p.g) } : undefined;
      },
    );
    const value = async () => {
      if (eps === undefined) return exactW2(cloud(it.a), cloud(it.b));
      // clouds so far apart or so large that the mean squared distance overflows: W2 is not representable
      if (!(eps > 0 && Number.isFinite(eps))) return Infinity;
      const r = sinkhornW2(cloud(it.a), cloud(it.b), eps, { tol: SINKHORN_RECORD_TOL, init });
      init = r.potentials;
      return r.value;
    };
    return [{ column, value }];
  });
  const trace: Trace = { columns: ['step', 't', ...compiled.observed.map((o) => o.column), ...hostItems.map((h) => h.column)], rows: [] };
  const timings = { setup: 0, steps: 0, record: 0 };

  const resume = options.resume;
  if (resume) saved.restore(resume, flow.file);
  let records = resume ? resume.records : 0;
  if (resume) trace.rows.push(resume.values.firstRow as number[]);

  let t0 = performance.now();
  await backend.setup();
  await vectors?.refresh();
  timings.setup = performance.now() - t0;

  const record = async (n: number): Promise<Divergence | undefined> => {
    const r0 = performance.now();
    await backend.sync?.();
    backend.params[nIndex] = n;
    backend.params[tIndex] = n * gamma;
    await backend.observe(observed);
    const host: number[] = [];
    for (const h of hostItems) host.push(await h.value(n));
    const row = [n, n * gamma, ...observed, ...host];
    const current = (s: RunResult['snapshots'][number]) =>
      s.kind === 'weights' ? weights! : s.kind === 'state' ? vectors!.vectors.find((v) => v.ir.name === s.measure)!.data : pointsOf(s.measure);
    records++;
    if (options.onRecord) {
      options.onRecord(row, snapshots.map(current), { columns: trace.columns, snapshots });
      trace.rows[Math.min(trace.rows.length, 1)] = row;
    } else {
      trace.rows.push(row);
      for (const s of snapshots) s.records.push(current(s).slice());
    }
    timings.record += performance.now() - r0;
    const bad = row.findIndex((v) => !Number.isFinite(v));
    return bad < 0 ? watch.check(n, observed[0]) : { step: n, quantity: trace.columns[bad], value: row[bad] };
  };

  // only deterministic descents must dissipate: not with noise or diffusion, not with a
  // critic (it ascends F), not under W2natural (KWNG draws a random basis each step)
  const dissipative = !flow.noise && !flow.diffusion && !flow.states.some((v) => v.role === 'critic') && flow.metric.name !== 'W2natural';
  const watch = new EnergyWatch(flow.energy.name, dissipative, backend.precision);
  let divergence = resume ? undefined : await record(0);
  let done = resume ? resume.step : 0;
  let interrupted = false;
  const checkpointEvery = options.checkpointEvery ?? 0;
  let lastTurn = performance.now();
  t0 = performance.now();
  const recordBefore = timings.record;
  for (let n = done; n < steps && !divergence; n++) {
    const onHost = await stepOnce(n);
    done = n + 1;
    const recording = (every > 0 && done % every === 0) || done === steps;
    // positions kept on the device are checked when they come back, at records
    if (!onHost && recording) await backend.sync?.();
    if (particles && (onHost || recording)) divergence = checkFinite(positions, particles, done) ?? (weights ? checkWeights(weights, particles, done) : undefined);
    divergence ??= vectors?.check(done);
    if (!divergence && recording) divergence = await record(done);
    options.onStep?.(done, steps, trace.rows[trace.rows.length - 1][2]);
    // signals (SIGINT, SIGTERM) reach options.stop through the event loop: let it turn now and then
    if (options.stop && performance.now() - lastTurn > 50) {
      await new Promise((resolve) => setImmediate(resolve));
      lastTurn = performance.now();
    }
    const stopping = done < steps && !!options.stop?.();
    if (!divergence && options.onCheckpoint && done < steps && (stopping || (checkpointEvery > 0 && done % checkpointEvery === 0))) {
      if (!onHost) await backend.sync?.();
      options.onCheckpoint(saved.capture(done, records, { firstRow: trace.rows[0] }));
    }
    if (stopping) {
      interrupted = true;
      break;
    }
  }
  timings.steps = performance.now() - t0 - (timings.record - recordBefore);

  if (losses) Object.assign(transport, losses.methods());
  const warnings: string[] = [];
  const rise = watch.warning();
  if (rise) warnings.push(rise);
  const neg = (stepper ?? vectors)!.negativeSchedule;
  if (neg) warnings.push(`the ${neg.what} level is ${neg.value} at step ${neg.step}; negative (or NaN) levels are taken as 0`);
  const innerKind = flow.scheme.name === 'jko' ? 'jko' : flow.metric.name === 'dab' && flow.particles ? 'cg' : undefined;
  let inner: RunResult['inner'];
  if (innerKind) {
    const r = innerReport();
    const tolerance = innerKind === 'jko' ? flow.scheme.tol! : CG_TOL[backend.precision];
    const limit = innerKind === 'jko' ? flow.scheme.inner! : CG_MAX_ITERATIONS;
    inner = { kind: innerKind, tolerance, limit, ...r };
    if (r.unconverged && r.firstUnconverged)
      warnings.push(
        innerKind === 'jko'
          ? `jko: the ${limit} inner iterations ran out before the largest change fell below tol = ${tolerance} in ${r.unconverged} of ${done} steps (first at step ${r.firstUnconverged.step}, largest change ${r.firstUnconverged.left.toExponential(2)}); raise 'inner' or lower the step`
          : `dab: conjugate gradients stopped before the relative residual fell below ${tolerance} in ${r.unconverged} of ${done} steps (first at step ${r.firstUnconverged.step}, residual ${r.firstUnconverged.left.toExponential(2)})`,
      );
  }

  return {
    status: divergence ? 'diverged' : interrupted ? 'interrupted' : 'ok',
    divergence,
    steps: done,
    trace,
    records,
    snapshots,
    positions,
    ...(weights ? { weights } : {}),
    ...(vectors ? { states: Object.fromEntries(vectors.vectors.map((v) => [v.ir.name, v.data.slice()])) } : {}),
    ...(inner ? { inner } : {}),
    ...(Object.keys(transport).length ? { transport } : {}),
    warnings,
    timings,
  };
}

function checkWeights(w: Float64Array, m: MeasureData, step: number): Divergence | undefined {
  for (let i = 0; i < w.length; i++)
    if (!Number.isFinite(w[i])) return { step, quantity: `the weight of particle ${i} of ${m.name}`, value: w[i] };
  return undefined;
}

function checkFinite(x: Float64Array, m: MeasureData, step: number): Divergence | undefined {
  for (let k = 0; k < x.length; k++)
    if (!Number.isFinite(x[k])) {
      const i = Math.floor(k / m.dim);
      return { step, quantity: `the position of particle ${i} of ${m.name} (coordinate ${k % m.dim})`, value: x[k] };
    }
  return undefined;
}
