// Pass: checked lowering of the AST into the scalar IR.
//
// Input: the desugared AST. Output: a FlowIR (plain data + IR nodes) or
// diagnostics. This stage resolves names and declarations, types every
// expression (scalar, R^d, record; shapes checked, arity checked), inlines
// `fn`/`kernel` calls, and scalarises vectors and records into component
// expressions. Errors are collected, not thrown: a failed subexpression
// lowers to `null` and stays silent upward, so one run reports every
// independent mistake.

import type { Decl, DeclOf, Expr, ExprOf, Program, Space } from './ast.js';
import { error, type Diagnostic, type Span } from './diagnostics.js';
import * as ir from './ir.js';
import type { Node } from './ir.js';
import { itemColumn } from './columns.js';
import { distinctPairs, sizeParam } from './distinct.js';
import { CALLABLE_OPS } from './ops.js';
import { SCALAR, sameType, showType, sizeOf, typeOfSpace, vec, type Type } from './types.js';
import type { Dist } from './dist.js';

// ------------------------------------------------------------ output

export interface MeasureIR {
  name: string;
  /** a model is the push-forward of a sample; its points are recomputed from the states at every step */
  role: 'particles' | 'sample' | 'model';
  type: Type;
  dim: number;
  source: { kind: 'dist'; count: number; dist: Dist } | { kind: 'file'; path: string; span: Span } | { kind: 'model'; base: string };
  span: Span;
}

/** A parameter vector that evolves: a `state` (descends F) or a `critic` (ascends F). Its coordinates are the parameters NAME[c]. */
export interface StateIR {
  name: string;
  role: 'state' | 'critic';
  type: Type;
  dim: number;
  init: number[];
  /** critics: Euclidean ascent steps psi <- psi + step * grad_psi F, `inner` times after every step of the flow */
  ascent?: { step: number; inner: number };
  span: Span;
}

/** `model q = push(z, s => G(theta, s))`: the points G(theta, z_n), one per point of the sample `base`. */
export interface ModelIR {
  name: string;
  base: string;
  type: Type;
  dim: number;
  /** the bound point of the map (a point of `base`) */
  z: ir.VarInfo;
  /** the components of G(theta, z) */
  points: Node[];
  /** `logdensity(x) = ...`: log q_theta(x), x a point of the model */
  logdensity?: { x: ir.VarInfo; node: Node };
  span: Span;
}

export type RecordItemIR =
  | { kind: 'scalar'; column: string; node: Node }
  | { kind: 'positions'; column: string; measure: string }
  | { kind: 'weights'; column: string; measure: string }
  /** -dF/dt along the flow's metric, at the recorded state (docs/language.md) */
  | { kind: 'dissipation'; column: string }
  | { kind: 'w2'; column: string; a: string; b: string }
  /** (1/N) sum_i |x_i(t) - x_i(0)|^2 (weighted when the metric moves the weights) */
  | { kind: 'displacement'; column: string; measure: string }
  /** inner iterations of the latest step (jko, or dab's conjugate gradients) */
  | { kind: 'inner'; column: string }
  /** a state or critic vector: columns NAME[0], NAME[1], ... and NAME.npy (records × p) */
  | { kind: 'state'; column: string; state: string };

/** The geometry of the descent, with its constants (DESIGN.md, "Exact finite-sample formulas"). */
export type MetricIR =
  | { name: 'W2' }
  /** on particles: Fisher–Rao on the weights; on states (with eps): the Fisher natural gradient through the model `on` */
  | { name: 'KL'; eps?: number; on?: string }
  | { name: 'WFR'; a: number; b: number }
  /** on states, `on` names the model whose points carry the kernel's geometry */
  | { name: 'dab'; alpha: number; beta: number; kernel: string; on?: string }
  | { name: 'euclid' }
  | { name: 'W2natural'; eps: number; lambda: number; basis: number; kernel: string; on: string };

export interface SchemeIR {
  name: 'euler' | 'jko';
  step: number;
  steps: number;
  /** jko: most inner iterations per step, and the tolerance on the largest change */
  inner?: number;
  tol?: number;
}

/** A schedule such as noise or diffusion: a scalar in the parameters n and t. */
export interface ScheduleIR {
  /** as written in the spec (compile.ts fills it from the source), else as the IR prints */
  text: string;
  node: Node;
  span: Span;
}

export interface FlowIR {
  file: string;
  flow: { name: string; title?: string };
  seed: number;
  /** `let` constants after `--set` overrides, in declaration order */
  params: { name: string; value: number[] }[];
  measures: MeasureIR[];
  /** the evolving measure (absent in a parametric flow, which evolves states) */
  particles?: string;
  /** states, then critics, in declaration order */
  states: StateIR[];
  /** push-forward models (also listed in measures, role 'model') */
  models: ModelIR[];
  energy: { name: string; node: Node };
  metric: MetricIR;
  scheme: SchemeIR;
  /** noise injection level beta_n (absent: 0) */
  noise?: ScheduleIR;
  /** Langevin temperature tau_n (absent: 0) */
  diffusion?: ScheduleIR;
  /** dab's kernel k(x, y) with x, y two fresh point variables (y: the first `dim` components of its point) */
  dabKernel?: { x: ir.VarInfo; y: ir.VarInfo; node: Node };
  /** the kernel of a metric on states (dab, W2natural) in two fresh point variables of the model's dimension */
  metricKernel?: { x: ir.VarInfo; y: ir.VarInfo; node: Node };
  record: { every: number; items: RecordItemIR[] };
  /** `checkpoint every K` (absent: none unless --checkpoint-every) */
  checkpoint?: { every: number };
  /**
   * `w2(a, b)^2` terms of the energy (W2² as a loss): each is the parameter
   * `param` in the energy's IR, which the runtime sets to W2² before every
   * program that reads the energy, and whose gradient in the points, 2 (x - T x),
   * the runtime adds to the velocity or the states' gradient (runtime/transport-loss.ts).
   */
  transportLosses?: TransportLossIR[];
}

export interface TransportLossIR {
  /** the IR parameter that stands for W2²(a, b) */
  param: string;
  a: string;
  b: string;
  /** as written: w2(a, b)^2 */
  text: string;
  span: Span;
}

/** The pseudo-measure whose points are (x_j, p_j): dab's conjugate-gradient products read it. */
export const CG_MEASURE = '%cg';
/** The pseudo-measure holding the first dab kernel argument before it is renamed to the query point. */
const KX_MEASURE = '%kx';

export interface LowerOptions {
  /** `--set NAME=VALUE` */
  overrides?: Record<string, number[]>;
  /** `--steps N` */
  steps?: number;
  /** `--seed N`: replaces the spec's seed */
  seed?: number;
}

// ------------------------------------------------------------ values

/** A typed value: its type and its scalar components (flat, row order). */
interface Value {
  type: Type;
  comps: Node[];
}
type V = Value | null;

const scalar = (n: Node): Value => ({ type: SCALAR, comps: [n] });

interface Env {
  locals: Map<string, Value>;
  /** lets become numbers (constant contexts) or parameters (the flow) */
  mode: 'const' | 'ir';
  /** `n` and `t` are bound (schedules) */
  time: boolean;
  /** call-site notes for errors inside inlined functions */
  notes: string[];
  /** the energy's name stands for its value (record items) */
  energy?: boolean;
  /** the energy's own expression: `w2(a, b)^2` may appear (W2² as a loss) */
  w2Loss?: boolean;
  /** inside the body of an expectation */
  inExpect?: boolean;
}

/** Largest dimension of a space (code is unrolled per coordinate). */
const MAX_DIM = 4096;
/**
 * The coordinates all expectations of a spec may bind, together (each E[x ~ mu]
 * over R^d makes d point-variable nodes, and the later passes visit them): 2^20,
 * i.e. 256 expectations over R^4096 (lowered in ~5 s here) or 500,000 over R^2.
 * Real specs bind thousands; a fuzzed chain of 1600 expectations over R^4096
 * lowered for 45 s and 1.9 GB before any message.
 */
const MAX_BOUND_COORDINATES = 1 << 20;
/** Most numbers in one measure: 2^27 float64 = 1 GiB. */
const MAX_VALUES = 2 ** 27;

const RESERVED_FUNCTIONS = new Set([...Object.keys(CALLABLE_OPS), 'sum', 'dot', 'norm', 'size', 'mmd2', 'mmd2u', 'interaction', 'potential']);
const DISTRIBUTIONS = new Set(['normal', 'uniform', 'sphere', 'mixture']);
const RECORD_ONLY = new Set(['positions', 'weights', 'w2', 'dissipation', 'displacement']);

type Named = Exclude<Decl, { kind: 'seed' | 'metric' | 'scheme' | 'noise' | 'diffusion' | 'record' | 'checkpoint' | 'flow' }>;

export function lower(program: Program, options: LowerOptions = {}): { ir?: FlowIR; diagnostics: Diagnostic[] } {
  return new Lowering(program, options).run();
}

class Lowering {
  private readonly diags: Diagnostic[] = [];
  private readonly file: string;
  private readonly named = new Map<string, Named>();
  private readonly singles = new Map<string, Decl>();
  private readonly lets = new Map<string, Value | null>();
  private readonly letsInProgress = new Set<string>();
  private readonly callStack: string[] = [];
  private readonly usedOverrides = new Set<string>();
  /** the w2(a, b)^2 terms met in the energy, by parameter name */
  private readonly w2Terms = new Map<string, TransportLossIR>();
  private binders?: Set<string>;
  /** a space over the dimension limit was seen: lowering stops there (each coordinate would cost time and memory before the message) */
  private oversize = false;
  /** coordinates bound by the expectations lowered so far (MAX_BOUND_COORDINATES) */
  private boundCoordinates = 0;

  constructor(
    private readonly program: Program,
    private readonly options: LowerOptions,
  ) {
    this.file = program.file;
  }

  private err(span: Span | undefined, message: string, notes?: string[]): null {
    this.diags.push(error(this.file, span, message, notes && notes.length ? [...notes] : undefined));
    return null;
  }

  run(): { ir?: FlowIR; diagnostics: Diagnostic[] } {
    ir.beginGraph();
    this.collect();
    const ir_ = this.build();
    for (const name of Object.keys(this.options.overrides ?? {}))
      if (!this.usedOverrides.has(name)) {
        const decl = this.named.get(name);
        const lets = [...this.named.values()].filter((x) => x.kind === 'let').map((x) => x.name);
        this.err(undefined, decl ? `--set ${name}: '${name}' is not a let constant` : `--set ${name}: no let constant named '${name}' in this spec${this.suggest(name, lets)}`);
      }
    const errors = this.diags.filter((d) => d.severity === 'error');
    return { ir: errors.length ? undefined : ir_, diagnostics: this.sorted() };
  }

  /** Diagnostics in source order, each reported once (a function body is checked at every call). */
  private sorted(): Diagnostic[] {
    const seen = new Set<string>();
    return [...this.diags]
      .sort((a, b) => (a.span?.start ?? -1) - (b.span?.start ?? -1))
      .filter((d) => {
        const key = `${d.span?.start}:${d.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
  }

  // ---------------------------------------------------------- declarations

  private collect(): void {
    const first = this.program.decls[0];
    if (first && first.kind !== 'flow') this.err(first.span, "a .flow file must start with 'flow NAME'");
    for (const d of this.program.decls) {
      switch (d.kind) {
        case 'flow':
        case 'seed':
        case 'metric':
        case 'scheme':
        case 'noise':
        case 'diffusion':
        case 'checkpoint':
        case 'record': {
          const prev = this.singles.get(d.kind);
          if (prev) this.err(d.span, `'${d.kind}' is declared twice (first at line ${prev.span.line})`);
          else this.singles.set(d.kind, d);
          break;
        }
        case 'energy': {
          const prev = this.singles.get('energy');
          if (prev) this.err(d.span, `only one energy is allowed (the first is at line ${prev.span.line})`);
          else this.singles.set('energy', d);
          this.declare(d);
          break;
        }
        default:
          this.declare(d);
      }
    }
  }

  private declare(d: Named): void {
    if (d.kind === 'fn' && d.role === 'kernel' && d.params.length !== 2)
      this.err(d.nameSpan, `a kernel takes two points, k(x, y); '${d.name}' takes ${d.params.length} (declare it with fn)`);
    const prev = this.named.get(d.name);
    if (prev) {
      this.err(d.nameSpan, `'${d.name}' is declared twice (first at line ${prev.nameSpan.line})`);
      return;
    }
    if (RESERVED_FUNCTIONS.has(d.name)) {
      this.err(d.nameSpan, `'${d.name}' is a built-in function and cannot be redeclared`);
      return;
    }
    if (d.kind === 'fn')
      d.params.forEach((p, i) => {
        if (d.params.findIndex((q) => q.name === p.name) < i) this.err(p.span, `the parameter '${p.name}' of '${d.name}' appears twice`);
      });
    if (['pi', 'n', 't'].includes(d.name)) {
      this.err(d.nameSpan, `'${d.name}' is a built-in name and cannot be redeclared`);
      return;
    }
    this.named.set(d.name, d);
  }

  private build(): FlowIR | undefined {
    const flow = this.singles.get('flow') as DeclOf<'flow'> | undefined;
    if (!flow) this.err(undefined, "missing 'flow NAME' declaration");

    // lets, in declaration order (each evaluated on demand, so order is free)
    const params: FlowIR['params'] = [];
    for (const d of this.named.values())
      if (d.kind === 'let') {
        const v = this.letValue(d);
        if (v) params.push({ name: d.name, value: v.comps.map((c) => (c as ir.NodeOf<'num'>).value) });
      }

    const seedDecl = this.singles.get('seed') as DeclOf<'seed'> | undefined;
    let seed = 0;
    if (this.options.seed !== undefined) {
      if (!Number.isInteger(this.options.seed) || this.options.seed < 0 || this.options.seed > 0xffffffff)
        this.err(undefined, `--seed: the seed must be an integer between 0 and 4294967295, not ${this.options.seed}`);
      else seed = this.options.seed;
    } else if (seedDecl) {
      if (!Number.isInteger(seedDecl.value) || seedDecl.value < 0 || seedDecl.value > 0xffffffff)
        this.err(seedDecl.valueSpan, `the seed must be an integer between 0 and 4294967295, not ${seedDecl.value}`);
      else seed = seedDecl.value;
    }

    // the evolving object: exactly one `particles`, or `state` vectors (critics may join either)
    const particles = [...this.named.values()].filter((d): d is DeclOf<'measure'> => d.kind === 'measure' && d.role === 'particles');
    const states = [...this.named.values()].filter((d): d is DeclOf<'state'> => d.kind === 'state');
    const critics = [...this.named.values()].filter((d): d is DeclOf<'critic'> => d.kind === 'critic');
    if (particles.length > 1)
      this.err(particles[1].nameSpan, `only one evolving measure is allowed: '${particles[0].name}' is already declared as particles`);
    if (particles.length && states.length)
      this.err(states[0].nameSpan, `a flow evolves either particles or states, not both ('${particles[0].name}' is particles)`);
    if (!particles.length && !states.length)
      this.err(flow?.span, "nothing evolves: declare 'particles NAME in SPACE ...' (or a 'state')");
    const stateFlow = !particles.length && states.length > 0;

    const measures: MeasureIR[] = [];
    for (const d of this.named.values()) if (d.kind === 'measure') {
      const m = this.measure(d);
      if (m) measures.push(m);
    }
    if (this.oversize) return undefined;
    const stateIRs: StateIR[] = [];
    for (const d of [...states, ...critics]) {
      const st = this.stateVector(d);
      if (st) stateIRs.push(st);
    }
    // a model's push map reads the states: one over R^4096 must stop here, not make a parameter per coordinate
    if (this.oversize) return undefined;
    const models: ModelIR[] = [];
    for (const d of this.named.values()) {
      if (d.kind === 'model') {
        const m = this.model(d);
        if (m) {
          models.push(m);
          measures.push({ name: m.name, role: 'model', type: m.type, dim: m.dim, source: { kind: 'model', base: m.base }, span: m.span });
        }
      }
      if (d.kind === 'fn') this.checkNames(d.body, new Set(d.params.map((p) => p.name)));
    }
    if (this.oversize) return undefined;

    const energyDecl = this.singles.get('energy') as DeclOf<'energy'> | undefined;
    let energy: FlowIR['energy'] | undefined;
    if (!energyDecl) this.err(flow?.span, "missing 'energy NAME = EXPR': the functional to minimise");
    else {
      const v = this.expr(energyDecl.body, { ...this.irEnv(), w2Loss: true });
      if (v && v.type.t !== 'scalar') this.err(energyDecl.body.span, `the energy must be a scalar, but '${energyDecl.name}' is ${showType(v.type)}`);
      else if (v) energy = { name: energyDecl.name, node: v.comps[0] };
    }
    // a critic ascends the energy: one that the energy does not read would never move
    if (energy)
      for (const d of critics) {
        const reads = ir.topoOrder([energy.node, ...models.flatMap((m) => m.points)]).some((n) => n.kind === 'param' && n.name === d.name);
        if (!reads) this.err(d.nameSpan, `the critic '${d.name}' is not read by the energy '${energy.name}': it would never move (use it in the energy, e.g. in its kernel)`);
      }

    const scheme = this.scheme();
    const metric = this.metric(particles[0], stateFlow, models);
    const record = this.record(energy, metric, scheme);
    const checkpointDecl = this.singles.get('checkpoint') as DeclOf<'checkpoint'> | undefined;
    const checkpointEvery = checkpointDecl ? this.constInt(checkpointDecl.every, "'checkpoint every'", 1) : undefined;
    const schedules: Partial<Record<'noise' | 'diffusion', ScheduleIR>> = {};
    for (const kind of ['noise', 'diffusion'] as const) {
      const d = this.singles.get(kind) as DeclOf<'noise' | 'diffusion'> | undefined;
      if (!d) continue;
      const v = this.expr(d.value, { ...this.constEnv(), time: true });
      if (v && v.type.t !== 'scalar') this.err(d.value.span, `the ${kind} level must be a scalar, not ${showType(v.type)}`);
      else if (v && !(v.comps[0].kind === 'num' && v.comps[0].value === 0)) {
        if (stateFlow && kind === 'noise')
          this.err(d.span, 'noise injection evaluates the velocity field of particles at shifted points; a flow of states has no such field (use diffusion for Langevin noise in parameter space)');
        else if (stateFlow && metric && metric.name !== 'euclid')
          this.err(d.span, `diffusion on states is Langevin dynamics in the Euclidean geometry of the parameters: it needs metric euclid, not ${metric.name}`);
        else if (metric?.name === 'KL') this.err(d.span, `${kind} moves positions, but metric KL keeps them fixed (use WFR(a, b) to move both)`);
        else if (kind === 'noise' && scheme?.name === 'jko') this.unsupported(d.span, 'noise injection with scheme jko');
        else if (v.comps[0].kind === 'num' && v.comps[0].value < 0) this.err(d.value.span, `the ${kind} level must be ≥ 0, not ${v.comps[0].value}`);
        else schedules[kind] = { text: ir.printNode(v.comps[0]), node: v.comps[0], span: d.value.span };
      }
    }
    this.checkW2Terms(metric, !!schedules.noise, critics.map((d) => d.name), models);
    if (scheme?.name === 'jko' && metric && metric.name !== 'W2' && metric.name !== 'euclid')
      this.unsupported(this.singles.get('scheme')!.span, `scheme jko with metric ${metric.name}`);

    if (!flow || !energy || !scheme || !metric || !record || checkpointEvery === null || particles.length > 1 || (particles.length && states.length) || (!particles.length && !states.length))
      return undefined;
    const particleMeasure = particles.length ? measures.find((m) => m.name === particles[0].name) : undefined;
    const dabKernel = metric.name === 'dab' && particleMeasure ? this.kernelNode(metric.kernel, particleMeasure) : undefined;
    if (metric.name === 'dab' && particleMeasure && !dabKernel) return undefined;
    let metricKernel: FlowIR['metricKernel'];
    if (stateFlow && (metric.name === 'dab' || metric.name === 'W2natural')) {
      const on = models.find((m) => m.name === metric.on);
      metricKernel = on ? this.stateKernel(metric.kernel, on) : undefined;
      if (!metricKernel) return undefined;
    }
    return {
      file: this.file,
      flow: { name: flow.name, title: flow.title },
      seed,
      params,
      measures,
      ...(particleMeasure ? { particles: particleMeasure.name } : {}),
      states: stateIRs,
      models,
      energy,
      metric,
      scheme,
      ...schedules,
      ...(dabKernel ? { dabKernel } : {}),
      ...(metricKernel ? { metricKernel } : {}),
      record,
      ...(checkpointEvery ? { checkpoint: { every: checkpointEvery } } : {}),
      ...(this.w2Terms.size ? { transportLosses: [...this.w2Terms.values()] } : {}),
    };
  }

  /** A state or critic declaration: its space, initial value and (critics) ascent settings. */
  private stateVector(d: DeclOf<'state'> | DeclOf<'critic'>): StateIR | null {
    if (!this.checkSpace(d.space)) return null;
    const type = typeOfSpace(d.space);
    if (type.t === 'record') return this.err(d.space.span, `a ${d.kind} is a vector: declare it in R^p, not a record space`);
    const init = this.constant(d.init);
    if (!init) return null;
    if (init.length !== sizeOf(type)) return this.err(d.init.span, `the initial value of '${d.name}' has ${init.length} component(s), but its space is ${showType(type)}`);
    if (init.some((x) => !Number.isFinite(x))) return this.err(d.init.span, `the initial value of '${d.name}' must be finite`);
    const out: StateIR = { name: d.name, role: d.kind, type, dim: init.length, init, span: d.span };
    if (d.kind === 'critic') {
      // LANGUAGE.md: inner defaults to 1, the step to the scheme's step
      let step: number | null = null;
      let inner: number | null = 1;
      const vals = d.ascent ? this.namedArgs(d.ascent, ['step', 'inner'], 'ascent', {}) : new Map<string, Expr>();
      if (!vals) return null;
      if (vals.has('step')) {
        const v = this.constant(vals.get('step')!);
        if (!v) return null;
        if (v.length !== 1 || !(v[0] >= 0)) return this.err(vals.get('step')!.span, `the ascent step must be a scalar ≥ 0, not ${v.join(', ')}`);
        step = v[0];
      }
      if (vals.has('inner')) inner = this.constInt(vals.get('inner')!, 'inner', 0);
      if (inner === null) return null;
      // the scheme's step is filled in by compile when `step` is not given (-1 here)
      out.ascent = { step: step ?? -1, inner };
    }
    return out;
  }

  private readonly modelCache = new Map<string, ModelIR | null>();

  /** A model: its push map lowered in a fresh point variable of the sample it pushes forward. */
  private model(d: DeclOf<'model'>): ModelIR | null {
    if (this.modelCache.has(d.name)) return this.modelCache.get(d.name)!;
    this.modelCache.set(d.name, null);
    const m = this.named.get(d.measure);
    if (!m || m.kind !== 'measure') {
      if (m?.kind === 'model') return this.err(d.measureSpan, `a model pushes a sample forward, but '${d.measure}' is a model`);
      return this.err(d.measureSpan, m ? `'${d.measure}' is not a measure` : `unknown measure '${d.measure}'${this.suggest(d.measure, [...this.named.values()].filter((x) => x.kind === 'measure').map((x) => x.name))}`);
    }
    if (m.role === 'particles') return this.err(d.measureSpan, `a model pushes a fixed sample forward, but '${d.measure}' is particles`);
    const baseType = typeOfSpace(m.space);
    const z = ir.newVar(m.name, sizeOf(baseType), d.map.params[0]?.name ?? 'z');
    const env = this.irEnv();
    const point: Value = { type: baseType, comps: ir.components(z) };
    if (d.map.destructured) {
      if (baseType.t !== 'record' || baseType.blocks.length !== d.map.params.length)
        return this.err(d.map.span, `cannot destructure a point of '${d.measure}' (in ${showType(baseType)}) into ${d.map.params.length} names`);
      d.map.params.forEach((p, i) => {
        const blk = baseType.blocks[i];
        env.locals.set(p.name, { type: blk.type, comps: point.comps.slice(blk.offset, blk.offset + blk.size) });
      });
    } else env.locals.set(d.map.params[0].name, point);
    env.notes = [`in the push map of the model '${d.name}'`];
    const out = this.pushBody(d.map.body, env);
    if (!out) return null;
    const model: ModelIR = { name: d.name, base: m.name, type: out.type, dim: out.comps.length, z, points: out.comps, span: d.span };
    if (ir.topoOrder(out.comps).some((n) => n.kind === 'expect'))
      return this.err(d.map.body.span, `the push map of '${d.name}' must not contain expectations: it maps one point at a time`);
    if (d.logdensity) {
      const x = ir.newVar(d.name, out.comps.length, d.logdensity.param);
      const env2 = this.irEnv();
      env2.locals.set(d.logdensity.param, { type: out.type, comps: ir.components(x) });
      const v = this.expr(d.logdensity.body, env2);
      if (!v) return null;
      if (v.type.t !== 'scalar') return this.err(d.logdensity.body.span, `logdensity must be a scalar, not ${showType(v.type)}`);
      model.logdensity = { x, node: v.comps[0] };
    }
    this.modelCache.set(d.name, model);
    return model;
  }

  /** The value of a push map: an expression, or a record literal `(x: ..., y: ...)` of them. */
  private pushBody(e: Expr, env: Env): V {
    if (e.kind !== 'record') return this.expr(e, env);
    let offset = 0;
    const blocks: { name: string; type: Type; offset: number; size: number }[] = [];
    const comps: Node[] = [];
    for (const [i, f] of e.fields.entries()) {
      if (e.fields.findIndex((g) => g.name === f.name) < i) return this.err(f.nameSpan, `the block '${f.name}' appears twice in this record`, env.notes);
      const v = this.pushBody(f.value, env);
      if (!v) return null;
      blocks.push({ name: f.name, type: v.type, offset, size: v.comps.length });
      offset += v.comps.length;
      comps.push(...v.comps);
    }
    return { type: { t: 'record', blocks, size: offset }, comps };
  }

  /** The kernel of a metric on states, k(x, y) with x, y two fresh points of the model `m`. */
  private stateKernel(name: string, m: ModelIR): FlowIR['metricKernel'] {
    const decl = this.named.get(name);
    if (!decl || decl.kind !== 'fn') return undefined;
    const x = ir.newVar('%kx', m.dim, 'x');
    const y = ir.newVar('%ky', m.dim, 'y');
    const locals = new Map<string, Value>([
      [decl.params[0].name, { type: m.type, comps: ir.components(x) }],
      [decl.params[1].name, { type: m.type, comps: ir.components(y) }],
    ]);
    const v = this.expr(decl.body, { locals, mode: 'ir', time: false, notes: [`in the kernel '${name}' of the metric`] });
    if (!v) return undefined;
    if (v.type.t !== 'scalar') return this.err(decl.body.span, `the kernel '${name}' must return a scalar, not ${showType(v.type)}`) ?? undefined;
    if (ir.topoOrder([v.comps[0]]).some((n) => n.kind === 'expect'))
      return this.err(decl.body.span, `the kernel '${name}' of the metric must not contain expectations`) ?? undefined;
    return { x, y, node: v.comps[0] };
  }

  /** The kernel k(x, y) of a metric as an IR node in two fresh point variables of the particles' type. */
  private kernelNode(name: string, m: MeasureIR | undefined): FlowIR['dabKernel'] {
    const decl = this.named.get(name);
    if (!m || !decl || decl.kind !== 'fn') return undefined;
    const x = ir.newVar(KX_MEASURE, m.dim, 'x');
    const y = ir.newVar(CG_MEASURE, 2 * m.dim, 'y');
    const yc = ir.components(y).slice(0, m.dim);
    const locals = new Map<string, Value>([
      [decl.params[0].name, { type: m.type, comps: ir.components(x) }],
      [decl.params[1].name, { type: m.type, comps: yc }],
    ]);
    const v = this.expr(decl.body, { locals, mode: 'ir', time: false, notes: [`in the kernel '${name}' of the metric`] });
    if (!v) return undefined;
    if (v.type.t !== 'scalar') return this.err(decl.body.span, `the kernel '${name}' must return a scalar, not ${showType(v.type)}`) ?? undefined;
    if (ir.topoOrder([v.comps[0]]).some((n) => n.kind === 'expect'))
      return this.err(decl.body.span, `the kernel '${name}' of the metric must not contain expectations`) ?? undefined;
    return { x, y, node: v.comps[0] };
  }

  private unsupported(span: Span, what: string): void {
    this.err(span, `not supported yet: ${what}`);
  }

  private constEnv(): Env {
    return { locals: new Map(), mode: 'const', time: false, notes: [] };
  }

  private irEnv(): Env {
    return { locals: new Map(), mode: 'ir', time: false, notes: [] };
  }

  /** Value of a `let` (numbers), with `--set` overrides applied. */
  private letValue(d: DeclOf<'let'>): Value | null {
    if (this.lets.has(d.name)) return this.lets.get(d.name)!;
    if (this.letsInProgress.has(d.name)) return this.err(d.nameSpan, `the constant '${d.name}' is defined in terms of itself`);
    this.letsInProgress.add(d.name);
    let v = this.expr(d.value, this.constEnv());
    if (v && v.type.t === 'record') v = this.err(d.value.span, `a let constant must be a scalar or a vector, not a record`);
    const bad = v?.comps.find((c) => c.kind === 'num' && !Number.isFinite(c.value)) as ir.NodeOf<'num'> | undefined;
    if (bad) v = this.err(d.value.span, `the constant '${d.name}' is ${bad.value}, not a finite number`);
    const overrides = this.options.overrides ?? {};
    const override = Object.hasOwn(overrides, d.name) ? overrides[d.name] : undefined;
    if (override && v) {
      this.usedOverrides.add(d.name);
      if (override.length !== v.comps.length)
        v = this.err(d.nameSpan, `--set ${d.name}: expected ${v.type.t === 'scalar' ? 'a number' : `a vector of ${v.comps.length} numbers`}, got ${override.length} value(s)`);
      else v = { type: v.type, comps: override.map((x) => ir.num(x)) };
    } else if (override) this.usedOverrides.add(d.name);
    this.letsInProgress.delete(d.name);
    this.lets.set(d.name, v);
    return v;
  }

  /** A constant expression evaluated to numbers. */
  private constant(e: Expr, env: Env = this.constEnv()): number[] | null {
    const v = this.expr(e, env);
    if (!v) return null;
    if (!v.comps.every((c) => c.kind === 'num')) return this.err(e.span, 'this must be a constant (lets and numbers only)');
    const values = v.comps.map((c) => (c as ir.NodeOf<'num'>).value);
    const bad = values.find((x) => !Number.isFinite(x));
    if (bad !== undefined) return this.err(e.span, `this is ${bad}, not a finite number`);
    return values;
  }

  private constInt(e: Expr, what: string, min: number): number | null {
    const v = this.constant(e);
    if (!v) return null;
    if (v.length !== 1 || !Number.isInteger(v[0]) || v[0] < min)
      return this.err(e.span, `${what} must be an integer ≥ ${min}, not ${v.length === 1 ? v[0] : 'a vector'}`);
    return v[0];
  }

  /** Block names of a record space are distinct (at every depth). */
  private checkSpace(space: Space): boolean {
    if (space.kind === 'vec' && space.dim > MAX_DIM) {
      this.oversize = true;
      return !!this.err(space.span, `R^${space.dim} is too large: flowc writes one loop body per coordinate, up to R^${MAX_DIM}`);
    }
    if (space.kind !== 'record') return true;
    let ok = true;
    space.blocks.forEach((b, i) => {
      const first = space.blocks.findIndex((c) => c.name === b.name);
      if (first < i) ok = !!this.err(b.nameSpan, `the block '${b.name}' appears twice in this space`);
      if (!this.checkSpace(b.space)) ok = false;
    });
    return ok;
  }

  private measure(d: DeclOf<'measure'>): MeasureIR | null {
    if (!this.checkSpace(d.space)) return null;
    const type = typeOfSpace(d.space);
    const dim = sizeOf(type);
    if (d.source.kind === 'file') {
      return { name: d.name, role: d.role, type, dim, source: { kind: 'file', path: d.source.path, span: d.source.span }, span: d.span };
    }
    const count = this.constInt(d.source.count, 'the number of points', 1);
    if (count !== null && count * dim > MAX_VALUES)
      return this.err(d.source.count.span, `${count} points in dimension ${dim} is more than flowc holds in memory (at most ${MAX_VALUES} numbers per measure)`);
    const dist = this.dist(d.source.dist, type);
    if (count === null || !dist) return null;
    return { name: d.name, role: d.role, type, dim, source: { kind: 'dist', count, dist }, span: d.span };
  }

  /** Resolve a distribution expression for a space of type `t`. */
  private dist(e: Expr, t: Type): Dist | null {
    const dim = sizeOf(t);
    if (e.kind === 'record') {
      if (t.t !== 'record') return this.err(e.span, `a record of distributions needs a record space, but the space is ${showType(t)}`);
      const names = e.fields.map((f) => f.name).join(', ');
      if (e.fields.length !== t.blocks.length || e.fields.some((f, i) => f.name !== t.blocks[i].name))
        return this.err(e.span, `the distribution's blocks (${names}) must match the space's blocks (${t.blocks.map((b) => b.name).join(', ')}) in order`);
      const blocks = t.blocks.map((b, i) => {
        const dist = this.dist(e.fields[i].value, b.type);
        return dist && { offset: b.offset, dim: b.size, dist };
      });
      return blocks.every((b) => b) ? { kind: 'blocks', blocks: blocks as { offset: number; dim: number; dist: Dist }[] } : null;
    }
    if (e.kind !== 'call' || !DISTRIBUTIONS.has(e.callee))
      return this.err(e.span, 'expected a distribution: normal(mean, std), uniform(low, high), sphere(radius) or mixture([weights], D1, ...)');
    // named arguments (`normal(mean = 0, std = 1)`) are put in their positions
    const PARAMS: Record<string, string[]> = { normal: ['mean', 'std'], uniform: ['low', 'high'], sphere: ['radius'], mixture: ['weights'] };
    const params = PARAMS[e.callee];
    const args = [...e.args];
    if (e.args.some((a) => a.name !== undefined)) {
      const placed: (typeof args)[number][] = [];
      for (const [i, a] of e.args.entries()) {
        const k = a.name === undefined ? i : params.indexOf(a.name);
        if (k < 0) return this.err(a.nameSpan ?? a.span, `${e.callee} has no argument '${a.name}' (it takes ${params.join(', ')})`);
        if (placed[k]) return this.err(a.nameSpan ?? a.span, `${e.callee}: '${params[k] ?? `argument ${k + 1}`}' is given twice`);
        placed[k] = a;
      }
      if (placed.length !== args.length || placed.some((a) => !a))
        return this.err(e.span, `${e.callee}(${params.join(', ')}): an argument is missing`);
      args.splice(0, args.length, ...placed);
    }
    const arity = (n: number) => {
      if (args.length !== n || e.extra.length) {
        this.err(e.span, `${e.callee} takes ${n} argument${n > 1 ? 's' : ''}, got ${args.length}`);
        return false;
      }
      return true;
    };
    /** a scalar (broadcast) or a vector of length dim */
    const perCoord = (a: Expr, what: string): number[] | null => {
      const v = this.constant(a);
      if (!v) return null;
      if (v.length === 1) return Array(dim).fill(v[0]);
      if (v.length !== dim) return this.err(a.span, `the ${what} has ${v.length} components, but the space has dimension ${dim}`);
      return v;
    };
    switch (e.callee) {
      case 'normal': {
        if (!arity(2)) return null;
        const mean = perCoord(args[0].value, 'mean');
        const std = perCoord(args[1].value, 'standard deviation');
        if (!mean || !std) return null;
        if (std.some((s) => s < 0)) return this.err(args[1].span, 'the standard deviation must be ≥ 0');
        return { kind: 'normal', mean, std };
      }
      case 'uniform': {
        if (!arity(2)) return null;
        const low = perCoord(args[0].value, 'lower bound');
        const high = perCoord(args[1].value, 'upper bound');
        if (!low || !high) return null;
        if (low.some((l, i) => l > high[i])) return this.err(e.span, 'uniform(low, high) needs low ≤ high in every coordinate');
        return { kind: 'uniform', low, high };
      }
      case 'sphere': {
        if (!arity(1)) return null;
        const r = this.constant(args[0].value);
        if (!r) return null;
        if (r.length !== 1 || r[0] < 0) return this.err(args[0].span, 'the radius must be a number ≥ 0');
        return { kind: 'sphere', radius: r[0], dim };
      }
      case 'mixture': {
        if (args.length < 2) return this.err(e.span, 'mixture takes a list of weights, then one distribution per weight');
        const w = this.constant(args[0].value);
        if (!w) return null;
        if (w.length !== args.length - 1)
          return this.err(args[0].span, `mixture has ${w.length} weight(s) but ${args.length - 1} distribution(s)`);
        if (w.some((x) => x < 0) || !w.some((x) => x > 0)) return this.err(args[0].span, 'mixture weights must be ≥ 0 and not all zero');
        const components = args.slice(1).map((a) => this.dist(a.value, t));
        return components.every((c) => c) ? { kind: 'mixture', weights: w, components: components as Dist[] } : null;
      }
    }
    return null;
  }

  /**
   * Name resolution of a function body on its own. Bodies are type-checked at
   * each call (functions are polymorphic in their argument shapes); this
   * catches unknown names in functions that are never called.
   */
  private checkNames(e: Expr, scope: Set<string>): void {
    const known = (name: string) => scope.has(name) || this.named.has(name) || ['pi', 'n', 't'].includes(name);
    const walk = (x: Expr, bound: Set<string>): void => {
      switch (x.kind) {
        case 'ident':
          if (!bound.has(x.name) && !known(x.name)) this.unknownName(x, [...bound, ...this.named.keys()], []);
          return;
        case 'call':
          if (!this.named.has(x.callee) && !Object.hasOwn(CALLABLE_OPS, x.callee) && !RESERVED_FUNCTIONS.has(x.callee) && !DISTRIBUTIONS.has(x.callee) && !RECORD_ONLY.has(x.callee))
            this.err(x.calleeSpan, `unknown function '${x.callee}'${this.suggest(x.callee, this.functionNames())}`);
          for (const a of [...x.args, ...x.extra]) walk(a.value, bound);
          return;
        case 'expect': {
          const inner = new Set(bound);
          for (const b of x.binders) {
            if (!this.named.has(b.measure)) this.err(b.measureSpan, `unknown measure '${b.measure}'${this.suggest(b.measure)}`);
            for (const n of b.names) inner.add(n.name);
          }
          walk(x.body, inner);
          return;
        }
        case 'binary':
          walk(x.left, bound);
          walk(x.right, bound);
          return;
        case 'neg':
        case 'norm':
          walk(x.operand, bound);
          return;
        case 'index':
          walk(x.base, bound);
          walk(x.index, bound);
          return;
        case 'field':
          walk(x.base, bound);
          return;
        case 'vector':
          x.items.forEach((i) => walk(i, bound));
          return;
        case 'record':
          x.fields.forEach((f) => walk(f.value, bound));
          return;
        case 'lambda':
          walk(x.body, new Set([...bound, ...x.params.map((p) => p.name)]));
          return;
        case 'num':
          return;
      }
    };
    walk(e, scope);
  }

  private scheme(): FlowIR['scheme'] | undefined {
    const d = this.singles.get('scheme') as DeclOf<'scheme'> | undefined;
    if (!d) {
      this.err(undefined, "missing 'scheme euler(step = ..., steps = ...)'");
      return undefined;
    }
    const known: Record<string, string[]> = { euler: ['step', 'steps'], jko: ['step', 'steps', 'inner', 'tol'] };
    const names = Object.hasOwn(known, d.name) ? known[d.name] : undefined;
    if (!names) {
      this.err(d.nameSpan, `unknown scheme '${d.name}' (expected euler or jko)`);
      return undefined;
    }
    const vals = this.namedArgs(d.args, names, `scheme ${d.name}`, { time: true });
    if (!vals) return undefined;
    for (const req of ['step', 'steps'])
      if (!vals.has(req)) {
        this.err(d.span, `scheme ${d.name} needs '${req}'`);
        return undefined;
      }
    const step = this.constant(vals.get('step')!, { ...this.constEnv(), time: true });
    const steps = this.constInt(vals.get('steps')!, 'steps', 0);
    // jko: LANGUAGE.md's defaults inner = 50, tol = 1e-8
    const inner = vals.has('inner') ? this.constInt(vals.get('inner')!, 'inner', 1) : 50;
    const tol = vals.has('tol') ? this.constant(vals.get('tol')!) : [1e-8];
    if (!step || steps === null || inner === null || !tol) return undefined;
    if (step.length !== 1) {
      this.err(vals.get('step')!.span, 'the step must be a scalar');
      return undefined;
    }
    if (tol.length !== 1 || !(tol[0] > 0)) {
      this.err(vals.get('tol')!.span, `tol must be a scalar > 0, not ${tol.join(', ')}`);
      return undefined;
    }
    if (!(step[0] > 0)) {
      this.err(vals.get('step')!.span, `the step must be > 0, not ${step[0]}`);
      return undefined;
    }
    const base = { step: step[0], steps: this.options.steps ?? steps };
    return d.name === 'jko' ? { name: 'jko', ...base, inner, tol: tol[0] } : { name: 'euler', ...base };
  }

  private metric(particles: DeclOf<'measure'> | undefined, stateFlow: boolean, models: ModelIR[]): MetricIR | undefined {
    const d = this.singles.get('metric') as DeclOf<'metric'> | undefined;
    if (!d) {
      if (stateFlow) this.err(this.singles.get('flow')?.span, "a flow of states needs a metric: euclid, dab(alpha, beta; k), W2natural(eps, lambda, basis; k) or KL(eps)");
      return stateFlow ? undefined : { name: 'W2' }; // the default
    }
    const known: Record<string, { args: string[]; kernel: boolean }> = {
      W2: { args: [], kernel: false },
      KL: { args: ['eps'], kernel: false },
      WFR: { args: ['a', 'b'], kernel: false },
      euclid: { args: [], kernel: false },
      dab: { args: ['alpha', 'beta'], kernel: true },
      W2natural: { args: ['eps', 'lambda', 'basis'], kernel: true },
    };
    const spec = Object.hasOwn(known, d.name) ? known[d.name] : undefined;
    if (!spec) {
      this.err(d.nameSpan, `unknown metric '${d.name}' (expected W2, KL, WFR, euclid, dab or W2natural)`);
      return undefined;
    }
    let vals: Map<string, Expr> | null = new Map();
    if (d.args) {
      if (!spec.args.length) {
        this.err(d.args.span, `metric ${d.name} takes no arguments`);
        return undefined;
      }
      vals = this.namedArgs(d.args, spec.args, `metric ${d.name}`, { extraKernel: spec.kernel });
    } else if (spec.kernel) {
      this.err(d.span, `metric ${d.name} needs a kernel: ${d.name}(...; k)`);
      return undefined;
    }
    if (!vals) return undefined;
    // which object the metric moves (LANGUAGE.md, "Metrics")
    const onStates = d.name === 'euclid' || d.name === 'W2natural' || (d.name === 'KL' && vals.has('eps'));
    const onParticles = d.name === 'W2' || d.name === 'WFR' || (d.name === 'KL' && !vals.has('eps'));
    if (stateFlow && onParticles) {
      this.err(d.span, `metric ${d.name} moves particles; a flow of states uses euclid, dab(alpha, beta; k), W2natural(eps, lambda, basis; k) or KL(eps)`);
      return undefined;
    }
    if (!stateFlow && onStates) {
      if (particles && d.name === 'KL') this.err(vals.get('eps')!.span, 'KL(eps) is the Fisher metric of a state; on particles, metric KL takes no arguments');
      else if (particles) this.err(d.span, `metric ${d.name} moves state vectors, but this flow evolves the particles '${particles.name}'`);
      return undefined;
    }
    if (d.on && !stateFlow) {
      this.err(d.on.span, `'on MODEL' names the model through which a metric moves states; this flow evolves particles`);
      return undefined;
    }
    /** the model a metric on states acts through: the one named, or the flow's only model */
    const target = (): string | null => {
      if (d.on) {
        const m = models.find((x) => x.name === d.on!.name);
        if (!m) return this.err(d.on.span, `'${d.on.name}' is not a model${this.suggest(d.on.name, models.map((x) => x.name))}`);
        return m.name;
      }
      if (models.length === 1) return models[0].name;
      return this.err(d.span, models.length ? `metric ${d.name} acts through a model: name it with 'on MODEL' (the flow has ${models.map((m) => `'${m.name}'`).join(', ')})` : `metric ${d.name} acts through a model's points, but the flow declares no model (model q = push(z, s => ...))`);
    };
    if (!stateFlow && !particles) return undefined;
    /** a named constant argument, required, > 0 (≥ 0 when zero is allowed) */
    const positive = (name: string, zeroOk: boolean): number | null => {
      const e = vals!.get(name);
      if (!e) return this.err(d.span, `metric ${d.name} needs '${name}'`);
      const v = this.constant(e);
      if (!v) return null;
      if (v.length !== 1 || !(zeroOk ? v[0] >= 0 : v[0] > 0) || !Number.isFinite(v[0])) return this.err(e.span, `${name} must be a scalar ${zeroOk ? '≥ 0' : '> 0'}, not ${v.join(', ')}`);
      return v[0];
    };
    const kernelName = (): string | null => {
      // a missing or malformed kernel after ';' was reported by namedArgs
      const k = d.args?.extra[0]?.value;
      if (!k || k.kind !== 'ident' || this.named.get(k.name)?.kind !== 'fn') return null;
      return k.name;
    };
    switch (d.name) {
      case 'W2':
        return { name: 'W2' };
      case 'euclid':
        return { name: 'euclid' };
      case 'KL': {
        if (!stateFlow) return { name: 'KL' };
        const eps = positive('eps', true);
        const on = target();
        if (eps === null || !on) return undefined;
        if (!models.find((m) => m.name === on)!.logdensity) {
          this.err(d.span, `KL(eps) is the Fisher natural gradient: the model '${on}' must declare its density, model ${on} = push(...) logdensity(x) = ...`);
          return undefined;
        }
        return { name: 'KL', eps, on };
      }
      case 'WFR': {
        const a = positive('a', true);
        const b = positive('b', true);
        return a === null || b === null ? undefined : { name: 'WFR', a, b };
      }
      case 'dab': {
        const alpha = positive('alpha', true);
        const beta = positive('beta', false);
        const k = kernelName();
        const on = stateFlow ? target() : undefined;
        if (!k || alpha === null || beta === null || on === null) return undefined;
        return { name: 'dab', alpha, beta, kernel: k, ...(on ? { on } : {}) };
      }
      case 'W2natural': {
        const eps = positive('eps', false);
        const lambda = positive('lambda', true);
        const basis = vals.has('basis') ? this.constInt(vals.get('basis')!, 'basis', 1) : null;
        if (!vals.has('basis')) this.err(d.span, `metric W2natural needs 'basis' (the number of basis functions M)`);
        const k = kernelName();
        const on = target();
        if (!k || eps === null || lambda === null || basis === null || !on) return undefined;
        return { name: 'W2natural', eps, lambda, basis, kernel: k, on };
      }
    }
    return undefined;
  }

  /** Arguments `a, b` or `name = a` matched against names; returns their expressions. */
  private namedArgs(
    args: DeclOf<'scheme'>['args'],
    names: string[],
    what: string,
    opts: { time?: boolean; extraKernel?: boolean },
  ): Map<string, Expr> | null {
    const out = new Map<string, Expr>();
    if (!args) return out;
    let ok = true;
    args.args.forEach((a, i) => {
      const name = a.name ?? names[i];
      if (name === undefined || !names.includes(name)) {
        this.err(a.nameSpan ?? a.span, a.name ? `${what} has no argument '${a.name}' (it takes ${names.join(', ')})` : `${what} takes at most ${names.length} arguments`);
        ok = false;
      } else if (out.has(name)) {
        this.err(a.span, `${what}: '${name}' is given twice`);
        ok = false;
      } else {
        out.set(name, a.value);
        this.expr(a.value, { ...this.constEnv(), time: !!opts.time });
      }
    });
    if (opts.extraKernel) {
      const k = args.extra[0];
      if (args.extra.length !== 1 || !k || k.value.kind !== 'ident') this.err(args.span, `${what} needs one kernel after ';'`);
      else {
        const decl = this.named.get(k.value.name);
        if (!decl || decl.kind !== 'fn') this.err(k.span, decl ? `'${k.value.name}' is not a kernel` : `unknown kernel '${k.value.name}'`);
        else if (decl.params.length !== 2) this.err(k.span, `the kernel '${k.value.name}' must take two arguments`);
      }
    } else if (args.extra.length) this.err(args.extra[0].span, `${what} takes no kernel`);
    return ok ? out : null;
  }

  private record(energy: FlowIR['energy'] | undefined, metric: MetricIR | undefined, scheme: SchemeIR | undefined): FlowIR['record'] | undefined {
    const d = this.singles.get('record') as DeclOf<'record'> | undefined;
    if (!d) return { every: 0, items: [] };
    const every = this.constInt(d.every, "'record every'", 1);
    const items: RecordItemIR[] = [];
    const columns = new Set<string>();
    let ok = every !== null;
    for (const item of d.items) {
      const e0 = item.value;
      const measureItem = e0.kind === 'call' && (e0.callee === 'positions' || e0.callee === 'weights') && e0.args.length === 1 && e0.args[0].value.kind === 'ident';
      // a positions item's column is its file name: NAME.npy (weights: NAME_weights.npy)
      const arg = measureItem ? (e0.args[0].value as ExprOf<'ident'>).name : '';
      const column = item.name ?? (measureItem ? (e0.callee === 'weights' ? `${arg}_weights` : arg) : itemColumn(item.text));
      const isEnergy = e0.kind === 'ident' && e0.name === energy?.name && (item.name === undefined || item.name === energy?.name);
      if (column === 'step' || column === 't') {
        this.err(item.nameSpan ?? item.span, `'${column}' is a column of every trace; name this item otherwise`);
        ok = false;
        continue;
      }
      if (energy && column === energy.name && !isEnergy) {
        this.err(item.nameSpan ?? item.span, `the column '${column}' holds the energy; name this item otherwise`);
        ok = false;
        continue;
      }
      if (columns.has(column)) {
        this.err(item.nameSpan ?? item.span, `the record column '${column}' appears twice`);
        ok = false;
        continue;
      }
      columns.add(column);
      const e = item.value;
      if (e.kind === 'call' && RECORD_ONLY.has(e.callee)) {
        if (e.callee === 'positions') {
          const m = e.args.length === 1 && e.args[0].value.kind === 'ident' ? this.named.get(e.args[0].value.name) : undefined;
          if (!m || (m.kind !== 'measure' && m.kind !== 'model') || e.extra.length) {
            this.err(e.span, 'positions(...) takes one measure declared with particles, sample or model');
            ok = false;
          } else items.push({ kind: 'positions', column: item.name ?? m.name, measure: m.name });
        } else {
          const it = this.recordCall(e, column, item.name, metric);
          if (it) items.push(it);
          else ok = false;
        }
        continue;
      }
      if (e.kind === 'ident' && (e.name === 'dissipation' || e.name === 'inner') && !this.named.has(e.name)) {
        // a warning, not an error: switching a spec between euler and jko keeps its record line valid
        if (e.name === 'inner' && !(scheme?.name === 'jko' || metric?.name === 'dab'))
          this.diags.push({
            ...error(this.file, e.span, "'inner' records the inner iterations of scheme jko or of metric dab's conjugate gradients; this flow has neither, so its column is 0"),
            severity: 'warning',
          });
        items.push({ kind: e.name, column });
        continue;
      }
      const stateDecl = e.kind === 'ident' ? this.named.get(e.name) : undefined;
      if (stateDecl && (stateDecl.kind === 'state' || stateDecl.kind === 'critic')) {
        items.push({ kind: 'state', column: item.name ?? stateDecl.name, state: stateDecl.name });
        continue;
      }
      const v = this.expr(e, { ...this.irEnv(), energy: true });
      if (!v) {
        ok = false;
        continue;
      }
      if (v.type.t !== 'scalar') {
        this.err(e.span, `a recorded expression must be a scalar, but this is ${showType(v.type)}`);
        ok = false;
        continue;
      }
      items.push({ kind: 'scalar', column, node: v.comps[0] });
    }
    return ok && every !== null ? { every, items } : undefined;
  }

  /** weights(mu), w2(mu, nu): record items computed on the host. */
  private recordCall(e: ExprOf<'call'>, column: string, name: string | undefined, metric: MetricIR | undefined): RecordItemIR | null {
    const measureArg = (k: number): string | null => {
      const a = e.args[k]?.value;
      const m = a?.kind === 'ident' ? this.named.get(a.name) : undefined;
      if (m?.kind === 'model' && e.callee === 'w2') return this.model(m) ? m.name : null;
      if (!m || m.kind !== 'measure') return this.err(a?.span ?? e.span, `${e.callee}(...) takes measures declared with particles or sample${e.callee === 'w2' ? ' or model' : ''}`);
      return m.name;
    };
    if (e.callee === 'weights') {
      if (e.args.length !== 1 || e.extra.length) return this.err(e.span, 'weights(...) takes one measure');
      const m = measureArg(0);
      if (!m) return null;
      const decl = this.named.get(m) as DeclOf<'measure'>;
      if (decl.role !== 'particles') return this.err(e.args[0].span, `'${m}' is a sample: its weights are uniform and fixed`);
      if (metric && metric.name !== 'KL' && metric.name !== 'WFR')
        return this.err(e.span, `the weights of '${m}' stay uniform under metric ${metric.name}; metrics KL and WFR move them`);
      return { kind: 'weights', column, measure: m };
    }
    if (e.callee === 'displacement') {
      if (e.args.length !== 1 || e.extra.length) return this.err(e.span, 'displacement(...) takes one measure: displacement(mu)');
      const m = measureArg(0);
      if (!m) return null;
      if ((this.named.get(m) as DeclOf<'measure'>).role !== 'particles') return this.err(e.args[0].span, `'${m}' is a sample: it does not move, its displacement is 0`);
      return { kind: 'displacement', column, measure: m };
    }
    // w2
    if (e.args.length !== 2 || e.extra.length) return this.err(e.span, 'w2(...) takes two measures: w2(mu, nu)');
    const a = measureArg(0);
    const b = measureArg(1);
    if (!a || !b) return null;
    if (this.typeOfMeasure(a) !== this.typeOfMeasure(b))
      return this.err(e.span, `w2 needs two measures in the same space, but '${a}' is in ${this.typeOfMeasure(a)} and '${b}' in ${this.typeOfMeasure(b)}`);
    return { kind: 'w2', column, a, b };
  }

  /** `w2(a, b)^2` in the energy: the parameter that stands for W2²(a, b) (FlowIR.transportLosses). */
  private w2Loss(e: ExprOf<'binary'>, call: ExprOf<'call'>, env: Env): V {
    if (!(e.right.kind === 'num' && e.right.value === 2))
      return this.err(e.right.span, 'W2 is a loss only squared: w2(mu, nu)^2 (write a power of W2² as (w2(mu, nu)^2)^p)', env.notes);
    if (env.inExpect)
      return this.err(e.span, 'w2(mu, nu)^2 is one number for the whole measures: it cannot appear inside an expectation (write it as a term of the energy, outside E[...])', env.notes);
    if (!env.w2Loss || env.mode === 'const')
      return this.err(e.span, 'w2(mu, nu)^2 can only be a term of the energy (outside any function or kernel), or, unsquared, a record item w2(mu, nu)', env.notes);
    if (call.args.length !== 2 || call.extra.length || call.args.some((a) => a.name !== undefined)) return this.err(call.span, 'w2(...) takes two measures: w2(mu, nu)', env.notes);
    const names: string[] = [];
    for (const a of call.args) {
      const m = a.value.kind === 'ident' ? this.named.get(a.value.name) : undefined;
      if (m?.kind === 'model') {
        if (!this.model(m)) return null;
      } else if (!m || m.kind !== 'measure') return this.err(a.value.span, 'w2(...) takes measures declared with particles, sample or model', env.notes);
      names.push(m.name);
    }
    const [a, b] = names;
    if (this.typeOfMeasure(a) !== this.typeOfMeasure(b))
      return this.err(call.span, `w2 needs two measures in the same space, but '${a}' is in ${this.typeOfMeasure(a)} and '${b}' in ${this.typeOfMeasure(b)}`, env.notes);
    if (a === b) return this.err(call.span, `w2(${a}, ${a}) is 0: a measure against itself`, env.notes);
    const param = `%w2(${a}, ${b})`;
    if (!this.w2Terms.has(param)) this.w2Terms.set(param, { param, a, b, text: `w2(${a}, ${b})^2`, span: e.span });
    return scalar(ir.param(param));
  }

  /** What W2² as a loss does not support, located at the term. */
  private checkW2Terms(metric: MetricIR | undefined, noise: boolean, critics: string[], models: ModelIR[]): void {
    for (const t of this.w2Terms.values()) {
      const moves = (name: string) => {
        const d = this.named.get(name);
        return d?.kind === 'model' || (d?.kind === 'measure' && d.role === 'particles');
      };
      if (!moves(t.a) && !moves(t.b)) this.err(t.span, `${t.text}: neither '${t.a}' nor '${t.b}' moves (one must be the particles or a model), so the term is a constant`);
      if (metric && (metric.name === 'WFR' || (metric.name === 'KL' && metric.eps === undefined)))
        this.unsupported(t.span, `${t.text} with metric ${metric.name}: W2² as a loss needs uniform particles (KL and WFR move their weights)`);
      if (noise) this.unsupported(t.span, `${t.text} with noise injection (the optimal assignment is defined at the particles, not at shifted points)`);
      for (const q of models)
        if ((q.name === t.a || q.name === t.b) && critics.length && ir.topoOrder(q.points).some((n) => n.kind === 'param' && critics.includes(n.name)))
          this.unsupported(t.span, `${t.text} where the model '${q.name}' reads a critic`);
    }
  }

  private typeOfMeasure(name: string): string {
    const d = this.named.get(name)!;
    if (d.kind === 'model') return showType(this.model(d)!.type);
    return showType(typeOfSpace((d as DeclOf<'measure'>).space));
  }

  // ---------------------------------------------------------- expressions

  private expr(e: Expr, env: Env): V {
    switch (e.kind) {
      case 'num':
        return scalar(ir.num(e.value));
      case 'ident':
        return this.ident(e, env);
      case 'binary':
        return this.binary(e, env);
      case 'neg': {
        const a = this.expr(e.operand, env);
        if (!a) return null;
        if (a.type.t === 'record') return this.err(e.span, `cannot negate a record; select a block with .name`, env.notes);
        return { type: a.type, comps: a.comps.map(ir.neg) };
      }
      case 'norm': {
        const a = this.expr(e.operand, env);
        if (!a) return null;
        // a record point's norm is over all its blocks (LANGUAGE.md)
        return scalar(a.comps.length === 1 ? ir.op('abs', a.comps) : ir.op('norm', a.comps));
      }
      case 'vector': {
        const items = e.items.map((x) => this.expr(x, env));
        if (items.some((x) => !x)) return null;
        const bad = e.items.findIndex((_, i) => items[i]!.type.t !== 'scalar');
        if (bad >= 0) return this.err(e.items[bad].span, `vector entries must be scalars, not ${showType(items[bad]!.type)}`, env.notes);
        if (!items.length) return this.err(e.span, 'an empty vector', env.notes);
        return { type: vec(items.length), comps: items.map((x) => x!.comps[0]) };
      }
      case 'index': {
        const base = this.expr(e.base, env);
        const idx = this.constant(e.index, { ...env, mode: 'const' });
        if (!base || !idx) return null;
        const n = base.type.t === 'record' ? -1 : base.comps.length;
        if (n < 0) return this.err(e.span, `cannot index a record; select a block with .name`, env.notes);
        if (idx.length !== 1 || !Number.isInteger(idx[0]) || idx[0] < 0 || idx[0] >= n)
          return this.err(e.index.span, `index ${idx.join(', ')} is out of range for ${showType(base.type)} (indices run from 0 to ${n - 1})`, env.notes);
        return scalar(base.comps[idx[0]]);
      }
      case 'field': {
        const base = this.expr(e.base, env);
        if (!base) return null;
        if (base.type.t !== 'record') return this.err(e.fieldSpan, `'.${e.field}': ${showType(base.type)} has no blocks`, env.notes);
        const b = base.type.blocks.find((x) => x.name === e.field);
        if (!b) return this.err(e.fieldSpan, `no block '${e.field}' in ${showType(base.type)}`, env.notes);
        return { type: b.type, comps: base.comps.slice(b.offset, b.offset + b.size) };
      }
      case 'call':
        return this.call(e, env);
      case 'expect':
        return this.expectation(e, env);
      case 'record':
        return this.err(e.span, 'a record literal (name: value, ...) is only allowed as a distribution', env.notes);
      case 'lambda':
        return this.err(e.span, "'=>' is only allowed in push(measure, z => ...)", env.notes);
    }
  }

  private ident(e: ExprOf<'ident'>, env: Env): V {
    const local = env.locals.get(e.name);
    if (local) return local;
    if (e.name === 'pi') return scalar(ir.num(Math.PI));
    if ((e.name === 'n' || e.name === 't') && !this.named.has(e.name)) {
      if (env.time) return scalar(ir.param(e.name));
      return this.err(e.span, `'${e.name}' (the ${e.name === 'n' ? 'step index' : 'time'}) is only defined in noise, diffusion and scheme arguments`, env.notes);
    }
    const d = this.named.get(e.name);
    if (!d) return this.unknownName(e, [...env.locals.keys(), ...this.named.keys()], env.notes);
    switch (d.kind) {
      case 'let': {
        const v = this.letValue(d);
        if (!v) return null;
        if (env.mode === 'const') return v;
        if (v.comps.length > 1) ir.markVectorParam(d.name);
        return { type: v.type, comps: v.comps.map((_, c) => ir.param(d.name, c)) };
      }
      case 'measure':
        return this.err(e.span, `'${e.name}' is a measure: integrate against it with E[x ~ ${e.name}] ...`, env.notes);
      case 'fn':
        return this.err(e.span, `'${e.name}' is a ${d.role === 'kernel' ? 'kernel' : 'function'}: call it with arguments`, env.notes);
      case 'energy':
        if (!env.energy) return this.err(e.span, `the energy '${e.name}' can only be used in record items`, env.notes);
        return this.expr(d.body, { ...env, energy: false, w2Loss: true });
      case 'state':
      case 'critic':
        if (env.mode === 'const') return this.err(e.span, `the ${d.kind} '${e.name}' is not a constant`, env.notes);
        if (sizeOf(typeOfSpace(d.space)) > 1) ir.markVectorParam(d.name);
        return { type: typeOfSpace(d.space), comps: Array.from({ length: sizeOf(typeOfSpace(d.space)) }, (_, c) => ir.param(d.name, c)) };
      case 'model':
        return this.err(e.span, `'${e.name}' is a model (a measure): integrate against it with E[x ~ ${e.name}] ...`, env.notes);
    }
  }

  /**
   * ` (did you mean 'X'?)` for the closest candidate within a third of the
   * name's length (at least 1), never one that shares no letter with it
   * (`x` does not suggest `F`).
   */
  private suggest(name: string, candidates: Iterable<string> = this.named.keys()): string {
    let best: string | undefined;
    let bestD = Infinity;
    const dist = (a: string, b: string) => {
      const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
      for (let i = 1; i <= a.length; i++) {
        let prev = dp[0];
        dp[0] = i;
        for (let j = 1; j <= b.length; j++) {
          const tmp = dp[j];
          dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
          prev = tmp;
        }
      }
      return dp[b.length];
    };
    for (const cand of candidates) {
      const d = dist(name, cand);
      if (d < bestD) {
        bestD = d;
        best = cand;
      }
    }
    return best !== undefined && bestD <= Math.max(1, Math.floor(name.length / 3)) && bestD < Math.max(name.length, best.length)
      ? ` (did you mean '${best}'?)`
      : '';
  }

  /** Names a call may resolve to: fn/kernel declarations and built-in functions. */
  private functionNames(): string[] {
    return [...[...this.named.values()].filter((d) => d.kind === 'fn').map((d) => d.name), ...RESERVED_FUNCTIONS];
  }

  /** Names bound by some `E[x ~ mu]` of the spec (for the hint on an unbound binder). */
  private binderNames(): Set<string> {
    if (this.binders) return this.binders;
    const names = new Set<string>();
    const visit = (x: unknown): void => {
      if (Array.isArray(x)) x.forEach(visit);
      else if (x && typeof x === 'object') {
        const o = x as { kind?: unknown };
        if (o.kind === 'expect') for (const b of (o as ExprOf<'expect'>).binders) for (const n of b.names) names.add(n.name);
        Object.values(o).forEach(visit);
      }
    };
    visit(this.program.decls);
    return (this.binders = names);
  }

  /** The error for an unknown name, with a hint when it is a binder used outside its expectation. */
  private unknownName(e: ExprOf<'ident'>, candidates: Iterable<string>, notes: string[]): null {
    const outside = this.binderNames().has(e.name)
      ? [`'${e.name}' is bound by E[${e.name} ~ ...] only in the product that follows it, which stops at '+' or '-'; to integrate a sum write E[${e.name} ~ ...] (a + b)`]
      : [];
    return this.err(e.span, `unknown name '${e.name}'${outside.length ? '' : this.suggest(e.name, candidates)}`, [...notes, ...outside]);
  }

  private binary(e: ExprOf<'binary'>, env: Env): V {
    // W2² as a loss: a parameter of the energy that the runtime fills each step
    if (e.op === '^' && e.left.kind === 'call' && e.left.callee === 'w2' && !this.named.has('w2')) return this.w2Loss(e, e.left, env);
    // |v|^2 is the sum of squares: no square root, and a clean gradient at v = 0
    if (e.op === '^' && e.left.kind === 'norm' && e.right.kind === 'num' && e.right.value === 2) {
      const a = this.expr(e.left.operand, env);
      if (!a) return null;
      return scalar(ir.sum(a.comps.map(ir.square)));
    }
    const a = this.expr(e.left, env);
    const b = this.expr(e.right, env);
    if (!a || !b) return null;
    if (a.type.t === 'record' || b.type.t === 'record')
      return this.err(e.span, `cannot apply '${e.op}' to a record; select a block with .name`, env.notes);
    const sa = a.type.t === 'scalar';
    const sb = b.type.t === 'scalar';
    const zip = (f: (x: Node, y: Node) => Node): Value => ({ type: a.type, comps: a.comps.map((x, i) => f(x, b.comps[i])) });
    switch (e.op) {
      case '+':
      case '-': {
        if (!sameType(a.type, b.type))
          return this.err(e.span, `cannot ${e.op === '+' ? 'add' : 'subtract'} ${showType(a.type)} and ${showType(b.type)}`, env.notes);
        return zip(e.op === '+' ? ir.add : ir.sub);
      }
      case '*':
        if (sa) return { type: b.type, comps: b.comps.map((y) => ir.mul(a.comps[0], y)) };
        if (sb) return { type: a.type, comps: a.comps.map((x) => ir.mul(x, b.comps[0])) };
        return this.err(e.span, `cannot multiply ${showType(a.type)} by ${showType(b.type)}; for the inner product write dot(a, b)`, env.notes);
      case '/':
        if (!sb) return this.err(e.right.span, `cannot divide by ${showType(b.type)}`, env.notes);
        return { type: a.type, comps: a.comps.map((x) => ir.div(x, b.comps[0])) };
      case '^':
        if (!sa || !sb) return this.err(e.span, `'^' needs scalars, not ${showType(sa ? b.type : a.type)}; for a squared norm write |v|^2`, env.notes);
        return scalar(ir.pow(a.comps[0], b.comps[0]));
    }
  }

  private call(e: ExprOf<'call'>, env: Env): V {
    const args = (): (Value | null)[] => e.args.map((a) => this.expr(a.value, env));
    const named = e.args.find((a) => a.name !== undefined);
    const decl = this.named.get(e.callee);
    if (decl && decl.kind === 'fn') {
      if (named) return this.err(named.nameSpan ?? named.span, `named arguments are not allowed in a call of '${e.callee}'`, env.notes);
      if (e.extra.length) return this.err(e.extra[0].span, `'${e.callee}' takes no arguments after ';'`, env.notes);
      if (e.args.length !== decl.params.length)
        return this.err(e.span, `'${e.callee}' takes ${decl.params.length} argument${decl.params.length === 1 ? '' : 's'}, got ${e.args.length}`, env.notes);
      if (this.callStack.includes(decl.name)) return this.err(e.calleeSpan, `'${decl.name}' calls itself: recursion is not allowed`, env.notes);
      const vals = args();
      if (vals.some((v) => !v)) return null;
      const locals = new Map<string, Value>();
      decl.params.forEach((p, i) => locals.set(p.name, vals[i]!));
      this.callStack.push(decl.name);
      const notes = [...env.notes, `in the call of '${decl.name}' at line ${e.span.line}, column ${e.span.column}`];
      const out = this.expr(decl.body, { locals, mode: env.mode, time: false, notes });
      this.callStack.pop();
      return out;
    }
    if (decl) return this.err(e.calleeSpan, `'${e.callee}' is not a function`, env.notes);
    if (named) return this.err(named.nameSpan ?? named.span, `named arguments are not allowed in a call of '${e.callee}'`, env.notes);
    // own keys only: a user's name such as 'constructor' must not find Object.prototype's
    const opName = Object.hasOwn(CALLABLE_OPS, e.callee) ? CALLABLE_OPS[e.callee] : undefined;
    const arity = (n: number): boolean => {
      if (e.args.length === n && !e.extra.length) return true;
      this.err(e.span, `${e.callee} takes ${n} argument${n === 1 ? '' : 's'}, got ${e.args.length}${e.extra.length ? ' and arguments after ;' : ''}`, env.notes);
      return false;
    };
    if (opName) {
      const binaryOp = opName === 'max' || opName === 'min';
      if (!arity(binaryOp ? 2 : 1)) return null;
      const vals = args();
      if (vals.some((v) => !v)) return null;
      if (vals.some((v) => v!.type.t === 'record')) return this.err(e.span, `${e.callee} of a record: select a block with .name`, env.notes);
      if (binaryOp) {
        const [a, b] = vals as Value[];
        if (!sameType(a.type, b.type)) return this.err(e.span, `${e.callee} needs two arguments of the same shape, got ${showType(a.type)} and ${showType(b.type)}`, env.notes);
        return { type: a.type, comps: a.comps.map((x, i) => ir.op(opName, [x, b.comps[i]])) };
      }
      const a = vals[0]!;
      return { type: a.type, comps: a.comps.map((x) => ir.op(opName, [x])) };
    }
    switch (e.callee) {
      case 'sum': {
        if (!arity(1)) return null;
        const [a] = args();
        if (!a) return null;
        if (a.type.t === 'record') return this.err(e.span, 'sum of a record: select a block with .name', env.notes);
        return scalar(ir.sum(a.comps));
      }
      case 'norm': {
        if (!arity(1)) return null;
        const [a] = args();
        if (!a) return null;
        if (a.type.t === 'record') return this.err(e.span, 'norm of a record: select a block with .name', env.notes);
        return scalar(a.type.t === 'scalar' ? ir.op('abs', a.comps) : ir.op('norm', a.comps));
      }
      case 'dot': {
        if (!arity(2)) return null;
        const [a, b] = args();
        if (!a || !b) return null;
        if (a.type.t === 'record' || !sameType(a.type, b.type))
          return this.err(e.span, `dot needs two vectors of the same dimension, got ${showType(a.type)} and ${showType(b.type)}`, env.notes);
        return scalar(ir.sum(a.comps.map((x, i) => ir.mul(x, b.comps[i]))));
      }
      case 'size': {
        const m = e.args.length === 1 && !e.extra.length && e.args[0].value.kind === 'ident' ? this.named.get(e.args[0].value.name) : undefined;
        if (!m || m.kind !== 'measure') return this.err(e.span, 'size takes one measure: size(mu), its number of points', env.notes);
        if (env.mode === 'const') return this.err(e.span, `size(${m.name}) is known when the data are loaded, not in a constant; use it in the energy or a record item`, env.notes);
        return scalar(ir.param(sizeParam(m.name)));
      }
      case 'mmd2':
        return this.err(e.span, 'mmd2 takes two measures and a kernel: mmd2(mu, nu; k)', env.notes);
      case 'mmd2u':
        return this.err(e.span, 'mmd2u takes two measures and a kernel: mmd2u(mu, nu; k)', env.notes);
      case 'interaction':
        return this.err(e.span, 'interaction takes a measure and a function of two points: interaction(mu; W)', env.notes);
      case 'potential':
        return this.err(e.span, 'potential takes a measure and a function of one point: potential(mu; V)', env.notes);
    }
    if (DISTRIBUTIONS.has(e.callee))
      return this.err(e.calleeSpan, `'${e.callee}' is a distribution: it can only follow '~' in a particles or sample declaration`, env.notes);
    if (e.callee === 'w2' && env.w2Loss && !env.inExpect)
      return this.err(e.span, 'w2(...) in an energy must be squared: w2(mu, nu)^2 (W2² is the loss; its gradient in the points is 2 (x - T(x)) / N)', env.notes);
    if (e.callee === 'w2') return this.err(e.calleeSpan, `'w2(...)' can only be a record item, or squared a term of the energy outside any expectation: w2(mu, nu)^2`, env.notes);
    if (RECORD_ONLY.has(e.callee)) return this.err(e.calleeSpan, `'${e.callee}(...)' can only be a record item`, env.notes);
    return this.err(e.calleeSpan, `unknown function '${e.callee}'${this.suggest(e.callee, this.functionNames())}`, env.notes);
  }

  private expectation(e: ExprOf<'expect'>, env: Env): V {
    if (env.mode === 'const') return this.err(e.span, 'an expectation is not a constant', env.notes);
    if (this.oversize) return null;
    const locals = new Map(env.locals);
    const bound: { measure: string; v: number; names: string[] }[] = [];
    const names = e.binders.flatMap((b) => b.names);
    const twice = names.find((n, i) => names.findIndex((x) => x.name === n.name) < i);
    if (twice) return this.err(twice.span, `the name '${twice.name}' is bound twice in this expectation`, env.notes);
    for (const b of e.binders) {
      const m = this.named.get(b.measure);
      if (!m) return this.err(b.measureSpan, `unknown measure '${b.measure}'${this.suggest(b.measure)}`, env.notes);
      if (m.kind !== 'measure' && m.kind !== 'model') return this.err(b.measureSpan, `'${b.measure}' is not a measure`, env.notes);
      let type: Type;
      if (m.kind === 'model') {
        const model = this.model(m);
        if (!model) return null;
        type = model.type;
      } else type = typeOfSpace(m.space);
      this.boundCoordinates += sizeOf(type);
      if (this.boundCoordinates > MAX_BOUND_COORDINATES) {
        this.oversize = true;
        return this.err(e.span, `too large for the compiler: with this expectation the spec's expectations bind more than ${MAX_BOUND_COORDINATES} point coordinates in all (each E[x ~ ${b.measure}] costs ${sizeOf(type)}, the dimension of ${b.measure}); bind fewer points, e.g. one expectation of a sum instead of a sum of expectations, or use a smaller space`, env.notes);
      }
      const v = ir.newVar(m.name, sizeOf(type), b.names[0].name.replace(/^%/, ''));
      const value: Value = { type, comps: ir.components(v) };
      if (b.destructured) {
        if (type.t !== 'record' || type.blocks.length !== b.names.length)
          return this.err(b.span, `cannot destructure ${b.measure} (in ${showType(type)}) into ${b.names.length} names`, env.notes);
        b.names.forEach((n, i) => {
          const blk = type.blocks[i];
          locals.set(n.name, { type: blk.type, comps: value.comps.slice(blk.offset, blk.offset + blk.size) });
        });
      } else locals.set(b.names[0].name, value);
      bound.push({ measure: m.name, v: v.id, names: b.destructured ? [] : [b.names[0].name] });
    }
    const pairs = distinctPairs(e, bound, (span, message) => this.err(span, message, env.notes));
    if (!pairs) return null;
    const body = this.expr(e.body, { ...env, locals, inExpect: true });
    if (!body) return null;
    if (body.type.t === 'record') return this.err(e.body.span, 'the expectation of a record: select a block with .name', env.notes);
    const wrap = (n: Node) => bound.reduceRight((acc, b) => ir.expect(b.measure, b.v, acc), pairs.reduce((acc, [a, b]) => ir.skip(a, b, acc), n));
    return { type: body.type, comps: body.comps.map(wrap) };
  }
}

