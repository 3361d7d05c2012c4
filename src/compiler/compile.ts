// The flowc compiler, one stage per line (each stage is a pure function):
//
//   1. parse     .flow text      → AST                 grammar/parser.ts (chevrotain CST → AST)
//   2. desugar   AST             → AST                 desugar.ts  (mmd2, interaction, potential → E[...])
//   3. lower     AST             → checked IR          lower.ts    (names, types, shapes; fn inlined; scalarised)
//   4. derive    IR              → velocity IR         derive.ts   (first variation, gradient: IR rewrites)
//   4b. rewrite  IR              → IR                  rewrite-powers.ts (static powers → products, sqrt),
//                                                      rewrite-fubini.ts (nested sums reordered: O(N·D), not O(N²·D))
//   5. schedule  IR              → plan                schedule.ts (fused reduction stages, hoisting)
//   6. generate  plan            → JS source per stage codegen-js.ts
//
// Every stage is timed; `flowc compile --timings` prints where time went.

import { parse } from '../../grammar/parser.js';
import type { Program } from './ast.js';
import { generateStage, type Layout } from './codegen-js.js';
import { desugar } from './desugar.js';
import { w2Velocity } from './derive.js';
import type { Diagnostic } from './diagnostics.js';
import * as ir from './ir.js';
import type { Node, VarInfo } from './ir.js';
import { CG_MEASURE, lower, type FlowIR, type LowerOptions } from './lower.js';
import { sizeParam } from './distinct.js';
import { PARTICLE_METRICS, SCHEMES, STATE_METRICS } from './metrics.js';
import { BASIS_MEASURE, BASIS_PAIRS_MEASURE, jacobianProgram, jacobianProgramName, vectorPrograms } from './parametric.js';
import { paramDerivative } from './derive.js';
import { reorderExpectations } from './rewrite-fubini.js';
import { rewritePowers } from './rewrite-powers.js';
import { isResourceLimit, tooLarge } from './limits.js';
import { QUERY, schedule, type Plan, type ProgramInput, type Stage } from './schedule.js';

export interface CompileOptions extends LowerOptions {
  /** file name used in diagnostics and to resolve data files */
  file: string;
}

export interface Compiled {
  ast: Program;
  ir: FlowIR;
  /** the free point X of the first variation (the query point); absent in a flow of states */
  queryVar?: VarInfo;
  firstVariation?: Node;
  velocity: Node[];
  /** ∇_theta F over the states' coordinates (a flow of states), before scheduling */
  gradient?: Node[];
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
  let stage = 'parse';
  let tree: Program | undefined;
  try {
    return compileStages(source, options, timings, (name, ast) => {
      stage = name;
      tree = ast ?? tree;
    });
  } catch (e) {
    // a spec nested or chained deeper than the recursive passes can take (limits.ts)
    if (isResourceLimit(e)) return { ast: tree, diagnostics: [tooLarge(options.file, tree, stage, e)], timings };
    throw e;
  }
}

function compileStages(source: string, options: CompileOptions, timings: Record<string, number>, at: (stage: string, ast?: Program) => void): CompileResult {
  const timed = <T>(name: string, f: () => T): T => {
    at(name);
    const t0 = performance.now();
    const out = f();
    timings[name] = (timings[name] ?? 0) + performance.now() - t0; // a stage may run in parts (derive)
    return out;
  };

  const parsed = timed('parse', () => parse(source, options.file));
  if (!parsed.program || parsed.diagnostics.some((d) => d.severity === 'error'))
    return { ast: parsed.program, diagnostics: parsed.diagnostics, timings };
  const ast = parsed.program;
  at('desugar', ast);
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

  // a critic's ascent step defaults to the scheme's step (LANGUAGE.md, "Critics")
  flow.states = flow.states.map((v) => (v.ascent && v.ascent.step < 0 ? { ...v, ascent: { ...v.ascent, step: flow.scheme.step } } : v));

  const dims = new Map(flow.measures.map((m) => [m.name, m.dim] as [string, number]));
  const programs: Record<string, ProgramInput> = {};
  let queryVar: VarInfo | undefined;
  let firstVariation: Node | undefined;
  let velocity: Node[] = [];
  const evolving: string[] = [];
  if (flow.particles) {
    // particles: the programs of the metric's entry, over the query points
    const particles = flow.measures.find((m) => m.name === flow.particles)!;
    const X = ir.newVar(QUERY, particles.dim, 'X');
    const derived = timed('derive', () => w2Velocity(flow.energy.node, flow.particles!, X));
    [queryVar, firstVariation, velocity] = [X, derived.firstVariation, derived.velocity];
    Object.assign(programs, PARTICLE_METRICS[flow.metric.name]!({ flow, queryVar: X, firstVariation, velocity }));
    dims.set(QUERY, particles.dim);
    if (flow.dabKernel) dims.set(CG_MEASURE, 2 * particles.dim);
    evolving.push(flow.particles, CG_MEASURE);
  } else {
    // states: the push of each model, the gradients, and the metric's entry
    Object.assign(programs, timed('derive', () => ({ ...STATE_METRICS[flow.metric.name]!(flow) })));
    evolving.push(...flow.models.map((m) => m.name));
    const on = flow.metric.name === 'W2natural' ? flow.models.find((m) => m.name === (flow.metric as { on: string }).on) : undefined;
    if (on) {
      dims.set(BASIS_MEASURE, 2 * on.dim);
      dims.set(BASIS_PAIRS_MEASURE, 4 * on.dim);
      evolving.push(BASIS_MEASURE, BASIS_PAIRS_MEASURE);
    }
  }
  Object.assign(programs, timed('derive', () => vectorPrograms(flow)), SCHEMES[flow.scheme.name](flow));
  const gradient = programs.gradient?.roots;

  const observed = [
    { column: flow.energy.name, node: flow.energy.node },
    ...flow.record.items.flatMap((it) => (it.kind === 'scalar' && it.column !== flow.energy.name ? [{ column: it.column, node: it.node }] : [])),
  ];
  programs.observe = { domain: null, roots: observed.map((o) => o.node) };
  // W2² as a loss (runtime/transport-loss.ts): ∂F/∂W2² of each term, and the Jacobian of each model it moves
  const losses = flow.transportLosses ?? [];
  if (losses.length) {
    programs[TRANSPORT_COEFFICIENTS] = { domain: null, roots: losses.map((l) => paramDerivative(flow.energy.node, l.param, 0)) };
    const states = flow.states.filter((v) => v.role === 'state');
    for (const q of flow.models)
      if (losses.some((l) => l.a === q.name || l.b === q.name)) programs[jacobianProgramName(q.name)] = jacobianProgram(q, states);
  }
  const movingParams = new Set([...flow.states.map((v) => v.name), ...losses.map((l) => l.param)]);
  timed('rewrite', () => Object.values(programs).forEach((p) => (p.roots = reorderExpectations(rewritePowers(p.roots, flow.params)))));
  const plan = timed('schedule', () => schedule(programs, evolving, dims, movingParams));

  const layout = makeLayout(flow, plan, dims);
  const kernels = timed('generate', () => ({
    setup: plan.setup.map((s: Stage) => generateStage(s, layout)),
    programs: Object.fromEntries(Object.entries(plan.programs).map(([k, p]) => [k, p.stages.map((s) => generateStage(s, layout))])),
  }));

  return {
    compiled: { ast, ir: flow, queryVar, firstVariation, velocity, ...(gradient ? { gradient } : {}), plan, layout, kernels, observed, timings },
    ast,
    diagnostics,
    timings,
  };
}

/** The program of ∂F/∂W2² for each w2(a, b)^2 term of the energy (FlowIR.transportLosses), in order. */
export const TRANSPORT_COEFFICIENTS = 'w2coef';

/** The pseudo-measure of the weights of a weighted particle measure (one number per point). */
export const WEIGHTS_MEASURE = '%weights';

/** Slots of measures in the runtime's arrays, and of parameters in P. */
function makeLayout(flow: FlowIR, plan: Plan, dim: Map<string, number>): Layout {
  const slot = new Map<string, number>();
  flow.measures.forEach((m, k) => slot.set(m.name, k));
  slot.set(QUERY, flow.measures.length);
  // metrics that move weights make every expectation over the particles weighted
  let weights: Map<string, string> | undefined;
  if (flow.particles && (flow.metric.name === 'KL' || flow.metric.name === 'WFR')) {
    slot.set(WEIGHTS_MEASURE, slot.size);
    dim.set(WEIGHTS_MEASURE, 1);
    weights = new Map([[flow.particles, WEIGHTS_MEASURE]]);
  }
  if (flow.dabKernel) slot.set(CG_MEASURE, slot.size);
  for (const pseudo of [BASIS_MEASURE, BASIS_PAIRS_MEASURE]) if (dim.has(pseudo)) slot.set(pseudo, slot.size);
  const param = new Map<string, number>();
  for (const p of flow.params) p.value.forEach((_, c) => param.set(`${p.name}:${c}`, param.size));
  // states and critics: the host writes their coordinates before each program
  for (const v of flow.states) v.init.forEach((_, c) => param.set(`${v.name}:${c}`, param.size));
  param.set('n:0', param.size);
  param.set('t:0', param.size);
  // W2² of each w2(a, b)^2 term: the runtime writes it before the programs that read the energy
  for (const l of flow.transportLosses ?? []) param.set(`${l.param}:0`, param.size);
  // size(m): the number of points of each measure, filled in when the data are loaded (arrays.ts)
  for (const m of flow.measures) param.set(`${sizeParam(m.name)}:0`, param.size);
  return { slot, dim, param, buffers: plan.buffers, ...(weights ? { weights } : {}) };
}
