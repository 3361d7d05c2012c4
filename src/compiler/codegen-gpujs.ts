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
import type { Stage } from './schedule.js';

export type GpuArg =
  | { kind: 'params' }
  | { kind: 'data'; slot: number }
  | { kind: 'size'; slot: number }
  | { kind: 'buffer'; buffer: number }
  | { kind: 'one' };

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

function kernel(stage: Stage, measure: string, v: number, buffers: number[], layout: Layout, chunk: number): GpuKernel {
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 65535) throw new Error('internal: chunk must be in 1..65535');
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
