// Code generation for the gpu backend: one stage of the plan → gpu.js kernels
// for its reductions, plus a float64 JS "post" function (codegen-js.ts, post
// mode) that normalises the sums, stores buffers and evaluates the outputs.
// The same emitter as the cpu formatter writes the bodies.
//
// Each kernel computes up to four sums (gpu.js returns at most Array(4) per
// thread) of one reduction, for one chunk of the reduced measure: the output
// is 1-D, thread t = k * nDomain + i computes point i over the points
// [k*C, (k+1)*C) — C a literal loop bound (gpu.js cuts loop bounds passed as
// arguments at loopMaxIterations; Mesa's software shaders stop any loop at
// 65535 iterations) — and the host adds the chunks' partial sums in float64.
// Inside a chunk the float32 sums are compensated (Kahan), guarded by a
// runtime `one` so that shader compilers cannot simplify the compensation
// away ((s + y) - s → y).

import { generateStage } from './codegen-js.js';
import { hasInlineLoops, makeEmitter, scope, summand, type Layout } from './codegen-emit.js';
import { topoOrder } from './ir.js';
import type { Stage } from './schedule.js';

export type GpuArg =
  | { kind: 'params' }
  | { kind: 'data'; slot: number }
  | { kind: 'size'; slot: number }
  | { kind: 'buffer'; buffer: number }
  | { kind: 'one' }
  /** resident Euler update: the chunk partial sums of reduction kernel `kernel` (flat: (k * n + i) * m + c) */
  | { kind: 'partials'; kernel: number }
  /** resident Euler update: the number of chunks of reduction kernel `kernel` */
  | { kind: 'chunks'; kernel: number }
  /** resident Euler update: the step */
  | { kind: 'step' };

export interface GpuKernel {
  /** gpu.js kernel source: `function (ARGS) { ... }` */
  source: string;
  args: GpuArg[];
  /** the source's parameter names, parallel to args */
  argNames: string[];
  /** the buffers whose sums it returns, in order (1 to 4) */
  buffers: number[];
  /** slot of the reduced measure (its size sets the number of chunks) */
  reducedSlot: number;
  /** slot of the domain, or null for a closed reduction (one point) */
  domainSlot: number | null;
}

export interface GpuStage {
  /** null: the stage holds nested expectations and runs on the cpu formatter */
  kernels: GpuKernel[] | null;
  /** float64 JS (STAGE_PARAMS signature) run after the kernels, or the whole stage when kernels is null */
  host: string;
}

/** Sums returned by one kernel (gpu.js: at most 4 components per thread). */
const PER_KERNEL = 4;

export function generateGpuStage(stage: Stage, layout: Layout, chunk: number): GpuStage {
  const bodies = stage.reductions.flatMap((r) => r.buffers.map((b) => layout.buffers[b].expr.body));
  if (hasInlineLoops(bodies)) return { kernels: null, host: generateStage(stage, layout, 'full') };
  const kernels: GpuKernel[] = [];
  for (const r of stage.reductions)
    for (let g = 0; g < r.buffers.length; g += PER_KERNEL) kernels.push(kernel(stage, r.measure, r.v, r.buffers.slice(g, g + PER_KERNEL), layout, chunk));
  return { kernels, host: generateStage(stage, layout, 'post') };
}

/** A kernel's argument list, built as the emitter asks for arrays, sizes, buffers and parameters (each once). */
function kernelArguments(layout: Layout) {
  const args: GpuArg[] = [];
  const argNames: string[] = [];
  const arg = (name: string, a: GpuArg) => {
    if (!argNames.includes(name)) {
      argNames.push(name);
      args.push(a);
    }
    return name;
  };
  const slot = (m: string) => layout.slot.get(m)!;
  const names = {
    data: (m: string) => arg(`D${slot(m)}`, { kind: 'data', slot: slot(m) }),
    size: (m: string) => arg(`n${slot(m)}`, { kind: 'size', slot: slot(m) }),
    buffer: (b: number) => arg(`B${b}`, { kind: 'buffer', buffer: b }),
    param: (k: number) => `${arg('P', { kind: 'params' })}[${k}]`,
  };
  return { args, argNames, arg, slot, names };
}

function kernel(stage: Stage, measure: string, v: number, buffers: number[], layout: Layout, chunk: number): GpuKernel {
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 65535) throw new Error('internal: chunk must be in 1..65535');
  const { args, argNames, arg, slot, names } = kernelArguments(layout);
  const em = makeEmitter(layout, names);
  const outer = scope();
  const head: string[] = [];
  if (stage.domain !== null && stage.v !== null) {
    const nD = names.size(stage.domain);
    head.push(`const k = Math.floor(this.thread.x / ${nD});`, `const i = this.thread.x - k * ${nD};`, `const io = i * ${em.dimOf(stage.domain)};`);
    outer.binds.set(stage.v, { arr: names.data(stage.domain), offset: 'io', index: 'i' });
  } else head.push('const k = this.thread.x;');
  const loop = scope();
  loop.binds.set(v, { arr: names.data(measure), offset: 'jo', index: 'j' });
  const chain = [em.pre, outer, loop];
  const codes = buffers.map((b) => em.emit(layout.buffers[b].expr.body, chain).code);
  const one = arg('one', { kind: 'one' });
  const n = names.size(measure);
  const body = [
    ...head,
    ...em.pre.lines,
    ...outer.lines,
    ...buffers.flatMap((b) => [`let a${b} = 0;`, `let c${b} = 0;`]),
    `for (let jc = 0; jc < ${chunk}; jc++) {`,
    `  const j = k * ${chunk} + jc;`,
    `  if (j >= ${n}) break;`,
    `  const jo = j * ${em.dimOf(measure)};`,
    ...loop.lines.map((l) => '  ' + l),
    ...buffers.flatMap((b, i) => [
      `  const y${b} = ${summand(layout, names, measure, 'j', codes[i])} - c${b};`,
      `  const s${b} = (a${b} + y${b}) * ${one};`,
      `  c${b} = (s${b} - a${b}) - y${b};`,
      `  a${b} = s${b};`,
    ]),
    '}',
    buffers.length === 1 ? `return a${buffers[0]};` : `return [${buffers.map((b) => `a${b}`).join(', ')}];`,
  ];
  return {
    source: `function (${argNames.join(', ')}) {\n${body.map((l) => '  ' + l).join('\n')}\n}`,
    args,
    argNames,
    buffers,
    reducedSlot: slot(measure),
    domainSlot: stage.domain === null ? null : slot(stage.domain),
  };
}

/** Most chunks a resident update adds per point (a literal loop bound; M ≤ 64 · chunk points). */
export const MAX_RESIDENT_CHUNKS = 64;

/**
 * Whether a velocity program can run with the positions resident on the
 * device: one stage over the query points whose reductions all become
 * kernels, no stored buffer written, and outputs that read only the query
 * point, parameters, the stage's own sums and closed setup buffers.
 */
export function residentEulerStage(stages: readonly Stage[], layout: Layout): Stage | null {
  if (stages.length !== 1) return null;
  const [stage] = stages;
  if (stage.domain === null || stage.v === null || layout.weights?.size) return null;
  const bodies = stage.reductions.flatMap((r) => r.buffers.map((b) => layout.buffers[b].expr.body));
  if (hasInlineLoops(bodies) || hasInlineLoops(stage.outputs)) return null;
  if (stage.reductions.some((r) => r.buffers.some((b) => layout.buffers[b].stored))) return null;
  const own = new Set(stage.reductions.flatMap((r) => r.buffers));
  const ok = topoOrder(stage.outputs).every((n) => n.kind !== 'load' || own.has(n.buffer) || (n.v === null && layout.buffers[n.buffer].hoisted));
  return ok ? stage : null;
}

/**
 * The explicit Euler update of a resident velocity stage as one kernel over
 * N·d threads: thread t = i·d + c adds the chunk partial sums of each
 * reduction kernel (float32), evaluates the stage's outputs (the velocity)
 * and returns x[t] + step · v_c. Its arguments name the reduction kernels'
 * outputs ('partials'), so no sum leaves the device.
 */
export function generateResidentEuler(stage: Stage, layout: Layout, kernels: readonly GpuKernel[]): GpuKernel {
  const { args, argNames, arg, slot, names } = kernelArguments(layout);
  const em = makeEmitter(layout, names);
  const domain = stage.domain!;
  const d = em.dimOf(domain);
  const x = names.data(domain);
  const nD = names.size(domain);
  const outer = scope();
  outer.binds.set(stage.v!, { arr: x, offset: 'io', index: 'i' });
  const head = [`const i = Math.floor(this.thread.x / ${d});`, `const c = this.thread.x - i * ${d};`, `const io = i * ${d};`];
  const sums: string[] = [];
  const accs = new Map<number, string>();
  kernels.forEach((k, g) => {
    const R = arg(`R${g}`, { kind: 'partials', kernel: g });
    const K = arg(`K${g}`, { kind: 'chunks', kernel: g });
    const m = k.buffers.length;
    const reduced = [...layout.slot.entries()].find(([, v]) => v === k.reducedSlot)![0];
    const n = names.size(reduced);
    k.buffers.forEach((b) => sums.push(`let a${b} = 0;`));
    sums.push(
      `for (let k = 0; k < ${MAX_RESIDENT_CHUNKS}; k++) {`,
      `  if (k >= ${K}) break;`,
      ...k.buffers.map((b, cb) => `  a${b} += ${R}[(k * ${nD} + i) * ${m} + ${cb}];`),
      '}',
      ...k.buffers.map((b) => `a${b} = a${b} / ${n};`),
    );
    for (const b of k.buffers) accs.set(b, `a${b}`);
  });
  const post = scope();
  post.accs = accs;
  const codes = stage.outputs.map((o) => em.emit(o, [em.pre, outer, post]).code);
  const step = arg('step', { kind: 'step' });
  const body = [
    ...head,
    ...em.pre.lines,
    ...outer.lines,
    ...sums,
    ...post.lines,
    `let v = ${codes[0]};`,
    ...codes.slice(1).map((code, o) => `if (c === ${o + 1}) v = ${code};`),
    `return ${x}[this.thread.x] + ${step} * v;`,
  ];
  return {
    source: `function (${argNames.join(', ')}) {\n${body.map((l) => '  ' + l).join('\n')}\n}`,
    args,
    argNames,
    buffers: [],
    reducedSlot: slot(domain),
    domainSlot: slot(domain),
  };
}
