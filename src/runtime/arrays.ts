// The arrays every backend hands to stage functions: parameters P, measure
// points D and sizes S by slot, and stored buffers B. One place decides the
// layout; backends choose where the memory lives (plain, or shared with
// worker threads).
//
// The state the time loop (simulate.ts) rewrites between programs lives in
// D too: the particle positions; the query points where the velocity field
// is evaluated (the positions themselves, unless noise injection moves them);
// the particles' weights when the metric moves them; and dab's (x_j, p_j)
// rows for its conjugate-gradient products.

import type { Compiled } from '../compiler/compile.js';
import { WEIGHTS_MEASURE } from '../compiler/compile.js';
import { CG_MEASURE } from '../compiler/lower.js';
import { sizeParam } from '../compiler/distinct.js';
import { BASIS_MEASURE, BASIS_PAIRS_MEASURE } from '../compiler/parametric.js';
import { QUERY } from '../compiler/schedule.js';
import type { MeasureData } from './inputs.js';

export interface FlowState {
  /** N × d, row-major */
  positions: Float64Array;
  /** N × d: the points where `velocity` is evaluated (=== positions without noise injection) */
  query: Float64Array;
  /** N weights summing to 1, when the metric moves them (KL, WFR) */
  weights: Float64Array | null;
  /** N × 2d rows (x_j, p_j) for dab's products, when the metric is dab */
  cg: Float64Array | null;
  /**
   * Points the host recomputes in a flow of states: each model's points
   * (size of its base sample × its dimension), and W2natural's basis rows
   * (M × 2d) and pairs of rows (M² × 4d). By measure name.
   */
  extra: Map<string, { data: Float64Array; size: number; dim: number }>;
}

/** KWNG's number of basis rows: `basis`, at most every (point, coordinate) of the model (DESIGN.md, "KWNG basis"). */
export function basisSize(compiled: Compiled, measures: { name: string; size: number }[]): number {
  const m = compiled.ir.metric;
  if (m.name !== 'W2natural') return 0;
  const q = compiled.ir.models.find((x) => x.name === m.on)!;
  const n = measures.find((x) => x.name === q.base)!.size;
  return Math.min(m.basis, n * q.dim);
}

/** The state arrays of a compiled flow around given positions (allocated with `alloc`). */
export function flowState(
  compiled: Compiled,
  positions: Float64Array,
  measures: { name: string; size: number }[],
  alloc: (length: number) => Float64Array = (n) => new Float64Array(n),
): FlowState {
  const flow = compiled.ir;
  const extra: FlowState['extra'] = new Map();
  for (const q of flow.models) {
    const size = measures.find((m) => m.name === q.base)!.size;
    extra.set(q.name, { data: alloc(size * q.dim), size, dim: q.dim });
  }
  const M = basisSize(compiled, measures);
  if (M > 0) {
    const d = flow.models.find((x) => x.name === (flow.metric as { on: string }).on)!.dim;
    extra.set(BASIS_MEASURE, { data: alloc(M * 2 * d), size: M, dim: 2 * d });
    extra.set(BASIS_PAIRS_MEASURE, { data: alloc(M * M * 4 * d), size: M * M, dim: 4 * d });
  }
  if (!flow.particles) return { positions, query: positions, weights: null, cg: null, extra };
  const dim = flow.measures.find((m) => m.name === flow.particles)!.dim;
  const n = positions.length / dim;
  const weighted = compiled.layout.weights?.has(flow.particles);
  let weights: Float64Array | null = null;
  if (weighted) {
    weights = alloc(n);
    weights.fill(1 / n);
  }
  return {
    positions,
    query: flow.noise ? alloc(positions.length) : positions,
    weights,
    cg: flow.dabKernel ? alloc(2 * positions.length) : null,
    extra,
  };
}

export interface StageArrays {
  params: Float64Array;
  D: Float64Array[];
  S: Int32Array;
  B: Float64Array[];
  state: FlowState;
  /** number of points of a stage's domain (1 for a closed stage) */
  sizeOf(domain: string | null): number;
}

export function stageArrays(
  compiled: Compiled,
  measures: MeasureData[],
  positions: Float64Array,
  alloc: (length: number) => Float64Array = (n) => new Float64Array(n),
  place: (data: Float64Array) => Float64Array = (a) => a,
): StageArrays {
  const { layout, plan } = compiled;
  const params = alloc(layout.param.size);
  for (const p of compiled.ir.params) p.value.forEach((v, c) => (params[layout.param.get(`${p.name}:${c}`)!] = v));
  const slots = layout.slot.size;
  const D = new Array<Float64Array>(slots);
  const S = new Int32Array(slots);
  const particles = compiled.ir.particles;
  const state = flowState(compiled, positions, measures, alloc);
  for (const m of measures) {
    const k = layout.slot.get(m.name)!;
    D[k] = m.name === particles ? positions : state.extra.get(m.name)?.data ?? place(m.data);
    S[k] = m.size;
  }
  for (const [name, x] of state.extra) {
    const k = layout.slot.get(name);
    if (k === undefined) continue;
    D[k] = x.data;
    S[k] = x.size;
  }
  for (const m of measures) {
    const k = layout.param.get(`${sizeParam(m.name)}:0`);
    if (k !== undefined) params[k] = m.size;
  }
  const n = particles ? S[layout.slot.get(particles)!] : 0;
  const bind = (name: string, data: Float64Array | null) => {
    const k = layout.slot.get(name);
    if (k === undefined || !data) return;
    D[k] = data;
    S[k] = n;
  };
  bind(QUERY, state.query);
  bind(WEIGHTS_MEASURE, state.weights);
  bind(CG_MEASURE, state.cg);
  const sizeOf = (domain: string | null) => (domain === null ? 1 : S[layout.slot.get(domain)!]);
  const B = plan.buffers.map((b) => alloc(b.stored ? sizeOf(b.domain) : 0));
  return { params, D, S, B, state, sizeOf };
}
