// The arrays every backend hands to stage functions: parameters P, measure
// points D and sizes S by slot (the query slot aliases the particle
// positions), and stored buffers B. One place decides the layout; backends
// choose where the memory lives (plain, or shared with worker threads).

import type { Compiled } from '../compiler/compile.js';
import { QUERY } from '../compiler/schedule.js';
import type { MeasureData } from './inputs.js';

export interface StageArrays {
  params: Float64Array;
  D: Float64Array[];
  S: Int32Array;
  B: Float64Array[];
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
  for (const m of measures) {
    const k = layout.slot.get(m.name)!;
    D[k] = m.name === particles ? positions : place(m.data);
    S[k] = m.size;
  }
  // the query points are the particle positions (noise injection will move them)
  const q = layout.slot.get(QUERY)!;
  D[q] = positions;
  S[q] = S[layout.slot.get(particles)!];
  const sizeOf = (domain: string | null) => (domain === null ? 1 : S[layout.slot.get(domain)!]);
  const B = plan.buffers.map((b) => alloc(b.stored ? sizeOf(b.domain) : 0));
  return { params, D, S, B, sizeOf };
}
