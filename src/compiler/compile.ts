// The flowc compiler, one stage per line (each stage is a pure function):
//
//   1. parse     .flow text      → AST                 grammar/parser.ts (chevrotain CST → AST)
//   2. desugar   AST             → AST                 desugar.ts  (mmd2, interaction, potential → E[...])
//   3. lower     AST             → checked IR          lower.ts    (names, types, shapes; fn inlined; scalarised)
//   4. derive    IR              → velocity IR         derive.ts   (first variation, gradient: IR rewrites)
//   5. schedule  IR              → plan                schedule.ts (fused reduction stages, hoisting)
//   6. generate  plan            → JS source per stage codegen-js.ts
//
// Every stage is timed; `flowc compile --timings` prints where time went.

import { parse } from '../../grammar/parser.js';
import type { Program } from './ast.js';
import { generateStage, type Layout } from './codegen-js.js';
import { desugar } from './desugar.js';
import { derivative, w2Velocity } from './derive.js';
import type { Diagnostic } from './diagnostics.js';
import * as ir from './ir.js';
import type { Node, VarInfo } from './ir.js';
import { CG_MEASURE, lower, type FlowIR, type LowerOptions } from './lower.js';
import { QUERY, schedule, type Plan, type ProgramInput, type Stage } from './schedule.js';

export interface CompileOptions extends LowerOptions {
  /** file name used in diagnostics and to resolve data files */
  file: string;
}

export interface Compiled {
  ast: Program;
  ir: FlowIR;
  /** the free point X of the first variation (the query point) */
  queryVar: VarInfo;
  firstVariation: Node;
  velocity: Node[];
  plan: Plan;
  layout: Layout;
  /** generated source of each stage, in plan order */
  kernels: { setup: string[]; programs: Record<string, string[]> };
  /** roots of the observe program: the energy, then each scalar record item */
  observed: { column: string; node: Node }[];
  timings: Record<string, number>;
}

export interface CompileResult {
  compiled?: Compiled;
  /** the AST even when later stages failed (for --emit ast) */
  ast?: Program;
  diagnostics: Diagnostic[];
  timings: Record<string, number>;
}

export function compile(source: string, options: CompileOptions): CompileResult {
  const timings: Record<string, number> = {};
  const timed = <T>(name: string, f: () => T): T => {
    const t0 = performance.now();
    const out = f();
    timings[name] = performance.now() - t0;
    return out;
  };

  const parsed = timed('parse', () => parse(source, options.file));
  if (!parsed.program || parsed.diagnostics.some((d) => d.severity === 'error'))
    return { ast: parsed.program, diagnostics: parsed.diagnostics, timings };
  const ast = parsed.program;
  const sugarFree = timed('desugar', () => desugar(ast));
  const lowered = timed('lower', () => lower(sugarFree, options));
  const diagnostics = [...parsed.diagnostics, ...lowered.diagnostics];
  if (!lowered.ir) return { ast, diagnostics, timings };
  // schedules are shown as written (run.json, the summary), not as the IR prints them
  const flow = { ...lowered.ir };
  for (const kind of ['noise', 'diffusion'] as const) {
    const sch = flow[kind];
    if (sch) flow[kind] = { ...sch, text: source.slice(sch.span.start, sch.span.end).replace(/\s+/g, ' ') };
  }

  const particles = flow.measures.find((m) => m.name === flow.particles)!;
  const queryVar = ir.newVar(QUERY, particles.dim, 'X');
  const { firstVariation, velocity } = timed('derive', () => w2Velocity(flow.energy.node, flow.particles, queryVar));

  // programs the time loop runs (simulate.ts), by metric and scheme
  const programs: Record<string, ProgramInput> = {};
  if (flow.metric.name !== 'KL') programs.velocity = { domain: QUERY, roots: velocity, queryVar };
  if (flow.metric.name === 'KL' || flow.metric.name === 'WFR') programs.firstVariation = { domain: QUERY, roots: [firstVariation], queryVar };
  if (flow.scheme.name === 'jko') programs.energy = { domain: null, roots: [flow.energy.node] };
  if (flow.metric.name === 'dab') programs.dabProduct = { domain: QUERY, roots: dabProduct(flow, queryVar), queryVar };

  const observed = [
    { column: flow.energy.name, node: flow.energy.node },
    ...flow.record.items.flatMap((it) => (it.kind === 'scalar' && it.column !== flow.energy.name ? [{ column: it.column, node: it.node }] : [])),
  ];
  programs.observe = { domain: null, roots: observed.map((o) => o.node) };
  const dims = new Map(flow.measures.map((m) => [m.name, m.dim] as [string, number]));
  dims.set(QUERY, particles.dim);
  if (flow.dabKernel) dims.set(CG_MEASURE, 2 * particles.dim);
  const plan = timed('schedule', () => schedule(programs, [flow.particles, CG_MEASURE], dims));

  const layout = makeLayout(flow, plan, dims);
  const kernels = timed('generate', () => ({
    setup: plan.setup.map((s: Stage) => generateStage(s, layout)),
    programs: Object.fromEntries(Object.entries(plan.programs).map(([k, p]) => [k, p.stages.map((s) => generateStage(s, layout))])),
  }));

  return {
    compiled: { ast, ir: flow, queryVar, firstVariation, velocity, plan, layout, kernels, observed, timings },
    ast,
    diagnostics,
    timings,
  };
}

/**
 * dab's matrix-free product on free particles (DESIGN.md, dab "On free
 * particles"): component a at the query point X of
 *   (alpha/N) sum_n' H(X, x_n') p_n',   H(x, x')_ab = d^2 k / dx_a dx'_b,
 * as an expectation over the pseudo-measure CG_MEASURE whose points are
 * (x_n', p_n'), so that each product is one reduction stage. The beta p term
 * is added on the host (simulate.ts).
 */
function dabProduct(flow: FlowIR, queryVar: VarInfo): Node[] {
  const { x, y, node } = flow.dabKernel!;
  const d = x.dim;
  const alpha = flow.metric.name === 'dab' ? flow.metric.alpha : 0;
  return Array.from({ length: d }, (_, a) => {
    const dxa = derivative(node, x.id, a);
    const body = ir.sum(Array.from({ length: d }, (_, b) => ir.mul(derivative(dxa, y.id, b), ir.pvar(y.id, d + b))));
    const e = ir.expect(CG_MEASURE, y.id, ir.renameVars(body, new Map([[x.id, queryVar.id]])));
    return ir.mul(ir.num(alpha), e);
  });
}

/** The pseudo-measure of the weights of a weighted particle measure (one number per point). */
export const WEIGHTS_MEASURE = '%weights';

/** Slots of measures in the runtime's arrays, and of parameters in P. */
function makeLayout(flow: FlowIR, plan: Plan, dim: Map<string, number>): Layout {
  const slot = new Map<string, number>();
  flow.measures.forEach((m, k) => slot.set(m.name, k));
  slot.set(QUERY, flow.measures.length);
  // metrics that move weights make every expectation over the particles weighted
  let weights: Map<string, string> | undefined;
  if (flow.metric.name === 'KL' || flow.metric.name === 'WFR') {
    slot.set(WEIGHTS_MEASURE, slot.size);
    dim.set(WEIGHTS_MEASURE, 1);
    weights = new Map([[flow.particles, WEIGHTS_MEASURE]]);
  }
  if (flow.dabKernel) slot.set(CG_MEASURE, slot.size);
  const param = new Map<string, number>();
  for (const p of flow.params) p.value.forEach((_, c) => param.set(`${p.name}:${c}`, param.size));
  param.set('n:0', param.size);
  param.set('t:0', param.size);
  return { slot, dim, param, buffers: plan.buffers, ...(weights ? { weights } : {}) };
}
