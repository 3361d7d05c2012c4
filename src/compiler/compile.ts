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
import { w2Velocity } from './derive.js';
import type { Diagnostic } from './diagnostics.js';
import * as ir from './ir.js';
import type { Node, VarInfo } from './ir.js';
import { lower, type FlowIR, type LowerOptions } from './lower.js';
import { QUERY, schedule, type Plan, type Stage } from './schedule.js';

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
  const flow = lowered.ir;

  const particles = flow.measures.find((m) => m.name === flow.particles)!;
  const queryVar = ir.newVar(QUERY, particles.dim, 'X');
  const { firstVariation, velocity } = timed('derive', () => w2Velocity(flow.energy.node, flow.particles, queryVar));

  const observed = [
    { column: flow.energy.name, node: flow.energy.node },
    ...flow.record.items.flatMap((it) => (it.kind === 'scalar' && it.column !== flow.energy.name ? [{ column: it.column, node: it.node }] : [])),
  ];
  const dims = new Map(flow.measures.map((m) => [m.name, m.dim] as [string, number]));
  dims.set(QUERY, particles.dim);
  const plan = timed('schedule', () =>
    schedule(
      {
        velocity: { domain: QUERY, roots: velocity, queryVar },
        observe: { domain: null, roots: observed.map((o) => o.node) },
      },
      flow.particles,
      dims,
    ),
  );

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

/** Slots of measures in the runtime's arrays, and of parameters in P. */
function makeLayout(flow: FlowIR, plan: Plan, dim: Map<string, number>): Layout {
  const slot = new Map<string, number>();
  flow.measures.forEach((m, k) => slot.set(m.name, k));
  slot.set(QUERY, flow.measures.length);
  const param = new Map<string, number>();
  for (const p of flow.params) p.value.forEach((_, c) => param.set(`${p.name}:${c}`, param.size));
  param.set('n:0', param.size);
  param.set('t:0', param.size);
  return { slot, dim, param, buffers: plan.buffers };
}
