// Code generation for the default cpu backend: the plan's stages as one
// WebAssembly module with 128-bit SIMD (f64x2 in float64, f32x4 in float32),
// in the text format (WAT). The third formatter of the one stage description
// (STYLE.md): it reads the same Stage and Layout as codegen-js.ts and
// codegen-gpujs.ts and places each node as codegen-emit.ts does (at the
// outermost scope whose variables it reads, once per scope); the runtime
// (backend-wasm.ts) assembles it with wabt.
//
// Every value is a v128. Inside a reduction's inner loop the lanes are
// consecutive points j, j+1 (, j+2, j+3) of the reduced measure; everywhere
// else (parameters, the outer point i, inline nested loops) every lane holds
// the same number. The loop over j runs over whole vectors; then, when the
// measure's size is not a multiple of the lanes, the body runs once more on
// the last partial vector with the summands of the lanes past the end
// replaced by +0 (a bit mask). Each lane sums its own points in order and the
// lanes are added in a fixed order: a point's sums do not depend on the
// threads. exp, log, ... are expanded inline (wasm-math.ts): a call with
// v128 operands costs V8 as much as the exp itself.
//
// Memory: a header of i32 words at address 0 (wasmHeader) gives the byte
// address of the parameters, the size of each measure slot, the address of
// each component of each slot (structure of arrays: component c of every
// point contiguous, padded to a multiple of PAD_POINTS) and of each stored
// buffer. A stage function `s<k>(i0, i1, out)` computes domain points
// [i0, i1) and writes OUT[i * K + k] at byte address `out`.
//
// Every name in the text is one this file made; numbers are printed by
// watNumber; nothing from the spec is spliced into code.

import * as ir from './ir.js';
import type { Node } from './ir.js';
import { OPS } from './ops.js';
import type { Layout } from './codegen-emit.js';
import type { Stage } from './schedule.js';
import { splat, type WasmCtx, type WasmReal } from './wasm-math.js';

export { F32, F64, type WasmReal } from './wasm-math.js';

/** Every measure slot and buffer is padded to a multiple of this many points (the last vector reads past the end; its lanes there are masked). */
export const PAD_POINTS = 4;

/** Word indices (i32, address 4 × word) of the memory header the runtime fills and the kernels read. */
export interface WasmHeader {
  words: number;
  /** the parameters' address */
  P: number;
  /** number of points of a slot */
  count(slot: number): number;
  /** address of component c of a slot's points */
  comp(slot: number, c: number): number;
  /** address of a stored buffer */
  buffer(b: number): number;
  /** dimension of each slot */
  dims: number[];
}

export function wasmHeader(layout: Layout): WasmHeader {
  const slots = layout.slot.size;
  const dims = new Array<number>(slots).fill(0);
  for (const [m, k] of layout.slot) dims[k] = layout.dim.get(m) ?? 0;
  const start: number[] = [];
  let w = 1 + slots;
  for (let k = 0; k < slots; k++) {
    start.push(w);
    w += dims[k];
  }
  const buffers = w;
  w += layout.buffers.length;
  return { words: w, P: 0, count: (k) => 1 + k, comp: (k, c) => start[k] + c, buffer: (b) => buffers + b, dims };
}

interface Bind {
  slot: number;
  /** the i32 local holding the point's byte offset (index × bytes) */
  offset: string;
  /** lanes are consecutive points (the inner loop of a reduction) */
  vec: boolean;
}

interface Scope {
  lines: string[];
  memo: Map<number, string>;
  binds: Map<number, Bind>;
  accs?: Map<number, string>;
}

const scope = (): Scope => ({ lines: [], memo: new Map(), binds: new Map() });
const get = (name: string) => `(local.get $${name})`;

/** One stage as a WAT function exported under `name`. */
export function generateWasmStage(stage: Stage, layout: Layout, t: WasmReal, name: string): string {
  const hdr = wasmHeader(layout);
  const { v, s, bytes, lanes } = t;
  const bits = bytes * 8;
  const locals = new Map<string, 'i32' | 'v128'>([
    ['i', 'i32'], ['ib', 'i32'], ['j', 'i32'], ['jb', 'i32'], ['mask', 'v128'],
  ]);
  const preamble: string[] = [];
  const once = (local: string, word: number) => {
    if (!locals.has(local)) {
      locals.set(local, 'i32');
      preamble.push(`(local.set $${local} (i32.load offset=${4 * word} (i32.const 0)))`);
    }
    return get(local);
  };
  const slotOf = (m: string) => {
    const k = layout.slot.get(m);
    if (k === undefined) throw new Error(`internal: no slot for measure ${m}`);
    return k;
  };
  const P = () => once('P', hdr.P);
  const comp = (k: number, c: number) => once(`d${k}_${c}`, hdr.comp(k, c));
  const count = (k: number) => once(`n${k}`, hdr.count(k));
  const buffer = (b: number) => once(`b${b}`, hdr.buffer(b));
  const zero = splat(t, 0);
  const at = (base: string, b: Bind) => `(i32.add ${base} ${get(b.offset)})`;
  const read = (addr: string, vec: boolean) => (vec ? `(v128.load ${addr})` : `(v128.load${bits}_splat ${addr})`);
  const weightOf = (m: string, b: Bind): string | undefined => {
    const w = layout.weights?.get(m);
    return w === undefined ? undefined : read(at(comp(slotOf(w), 0), b), b.vec);
  };

  let tmp = 0;
  let loops = 0;
  const freeVars = ir.freeVarsOf();
  const depthOfVar = (chain: Scope[], id: number): number => {
    for (let d = chain.length - 1; d >= 0; d--) if (chain[d].binds.has(id)) return d;
    throw new Error(`internal: unbound point variable ${id}`);
  };
  let fresh = 0;
  const ctx = (): WasmCtx => ({
    lines: [],
    fresh: () => {
      const local = `m${fresh++}`;
      locals.set(local, 'v128');
      return local;
    },
  });
  const place = (chain: Scope[], depth: number, id: number, code: string, pending: string[] = []) => {
    const local = `t${tmp++}`;
    locals.set(local, 'v128');
    chain[depth].lines.push(...pending, `(local.set $${local} ${code})`);
    chain[depth].memo.set(id, get(local));
    return { code: get(local), depth };
  };

  const emit = (n: Node, chain: Scope[]): { code: string; depth: number } => {
    if (n.kind === 'num') return { code: splat(t, n.value), depth: 0 };
    for (let d = chain.length - 1; d >= 0; d--) {
      const hit = chain[d].memo.get(n.id);
      if (hit !== undefined) return { code: hit, depth: d };
    }
    switch (n.kind) {
      case 'param': {
        const k = layout.param.get(`${n.name}:${n.c}`);
        if (k === undefined) throw new Error(`internal: unknown parameter`);
        return place(chain, 0, n.id, `(v128.load${bits}_splat offset=${k * bytes} ${P()})`);
      }
      case 'var': {
        const d = depthOfVar(chain, n.v);
        const b = chain[d].binds.get(n.v)!;
        return place(chain, d, n.id, read(at(comp(b.slot, n.c), b), b.vec));
      }
      case 'load': {
        for (let d = chain.length - 1; d >= 0; d--) {
          const acc = chain[d].accs?.get(n.buffer);
          if (acc !== undefined) return { code: acc, depth: d };
        }
        if (n.v === null) return place(chain, 0, n.id, read(buffer(n.buffer), false));
        const d = depthOfVar(chain, n.v);
        const b = chain[d].binds.get(n.v)!;
        return place(chain, d, n.id, read(at(buffer(n.buffer), b), b.vec));
      }
      case 'op': {
        if (n.op === 'add' && n.args[1].kind === 'op' && n.args[1].op === 'neg') {
          const a = emit(n.args[0], chain);
          const b = emit(n.args[1].args[0], chain);
          return place(chain, Math.max(a.depth, b.depth), n.id, `(${v}.sub ${a.code} ${b.code})`);
        }
        const args = n.args.map((a) => emit(a, chain));
        const depth = Math.max(0, ...args.map((a) => a.depth));
        const c = ctx();
        const code = OPS[n.op].wasm(args.map((a) => a.code), t, c);
        return place(chain, depth, n.id, code, c.lines);
      }
      case 'expect':
        return inlineLoop(n, chain);
      case 'skip': {
        // distinct pairs: the pair of a point with itself adds 0 (its body,
        // possibly infinite there, is computed and masked out). Both points
        // are of one measure, so equal indices are equal byte offsets; a
        // point of the inner loop has one offset per lane.
        const da = depthOfVar(chain, n.a);
        const db = depthOfVar(chain, n.b);
        const A = chain[da].binds.get(n.a)!;
        const B = chain[db].binds.get(n.b)!;
        const body = emit(n.body, chain);
        const depth = Math.max(da, db, body.depth);
        if (A.vec && B.vec) throw new Error('internal: a distinct pair of two lane points');
        if (!A.vec && !B.vec) return place(chain, depth, n.id, `(select (result v128) ${zero} ${body.code} (i32.eq ${get(A.offset)} ${get(B.offset)}))`);
        const [lane, one] = A.vec ? [A, B] : [B, A];
        const steps = Array.from({ length: lanes }, (_, k) => k * bytes).join(' ');
        const offsets =
          lanes === 2
            ? `(i64x2.add (i64x2.splat (i64.extend_i32_u ${get(lane.offset)})) (v128.const i64x2 ${steps}))`
            : `(i32x4.add (i32x4.splat ${get(lane.offset)}) (v128.const i32x4 ${steps}))`;
        const same = lanes === 2 ? `(i64x2.eq ${offsets} (i64x2.splat (i64.extend_i32_u ${get(one.offset)})))` : `(i32x4.eq ${offsets} (i32x4.splat ${get(one.offset)}))`;
        return place(chain, depth, n.id, `(v128.bitselect ${zero} ${body.code} ${same})`);
      }
      default:
        return ir.assertNever(n);
    }
  };

  const normalise = (acc: string, n: string) => `(local.set $${acc} (${v}.div ${get(acc)} (${v}.splat (${s}.convert_i32_s ${n}))))`;

  /** An expectation reading two or more outer points: a nested scalar loop (every lane the same point), hoisted as far out as it can go. */
  const inlineLoop = (n: ir.NodeOf<'expect'>, chain: Scope[]): { code: string; depth: number } => {
    const depth = Math.max(0, ...[...freeVars(n)].map((id) => depthOfVar(chain, id)));
    const k = ++loops;
    const [index, offset, acc] = [`l${k}`, `l${k}b`, `s${k}`];
    locals.set(index, 'i32');
    locals.set(offset, 'i32');
    locals.set(acc, 'v128');
    const m = n.measure;
    const bind: Bind = { slot: slotOf(m), offset, vec: false };
    const loop = scope();
    loop.binds.set(n.v, bind);
    const body = emit(n.body, [...chain.slice(0, depth + 1), loop]);
    const w = weightOf(m, bind);
    const size = count(slotOf(m));
    chain[depth].lines.push(
      `(local.set $${acc} ${zero})`,
      `(local.set $${index} (i32.const 0))`,
      `(block $e${k} (loop $c${k}`,
      `  (br_if $e${k} (i32.ge_s ${get(index)} ${size}))`,
      `  (local.set $${offset} (i32.mul ${get(index)} (i32.const ${bytes})))`,
      ...loop.lines.map((l) => '  ' + l),
      `  (local.set $${acc} (${v}.add ${get(acc)} ${w ? `(${v}.mul ${w} ${body.code})` : body.code}))`,
      `  (local.set $${index} (i32.add ${get(index)} (i32.const 1)))`,
      `  (br $c${k})))`,
      ...(w ? [] : [normalise(acc, size)]),
    );
    chain[depth].memo.set(n.id, get(acc));
    return { code: get(acc), depth };
  };

  const pre = scope();
  const outer = scope();
  if (stage.domain !== null && stage.v !== null) outer.binds.set(stage.v, { slot: slotOf(stage.domain), offset: 'ib', vec: false });
  const chainOuter = [pre, outer];
  const hsum = (a: string) => {
    const lane = (k: number) => `(${v}.extract_lane ${k} ${get(a)})`;
    return lanes === 2 ? `(${s}.add ${lane(0)} ${lane(1)})` : `(${s}.add (${s}.add ${lane(0)} ${lane(1)}) (${s}.add ${lane(2)} ${lane(3)}))`;
  };
  let reductions = 0;
  for (const r of stage.reductions) {
    const m = r.measure;
    const bind: Bind = { slot: slotOf(m), offset: 'jb', vec: true };
    const loop = scope();
    loop.binds.set(r.v, bind);
    const codes = r.buffers.map((b) => emit(layout.buffers[b].expr.body, [...chainOuter, loop]).code);
    const w = weightOf(m, bind);
    const size = count(slotOf(m));
    const k = ++reductions;
    // float32 summands are added in float64 (two f64x2 sums per buffer, lanes 0-1 and 2-3): the sum adds no float32 rounding
    const wide = t.precision === 'float32';
    const add = (masked: boolean) =>
      r.buffers.flatMap((b, i) => {
        const term = w ? `(${v}.mul ${w} ${codes[i]})` : codes[i];
        const y = masked ? `(v128.and ${term} ${get('mask')})` : term;
        if (!wide) return [`(local.set $a${b} (${v}.add ${get(`a${b}`)} ${y}))`];
        return [
          `(local.set $y ${y})`,
          `(local.set $a${b} (f64x2.add ${get(`a${b}`)} (f64x2.promote_low_f32x4 ${get('y')})))`,
          `(local.set $h${b} (f64x2.add ${get(`h${b}`)} (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 ${get('y')} ${get('y')}))))`,
        ];
      });
    for (const b of r.buffers) locals.set(`a${b}`, 'v128');
    if (wide) {
      locals.set('y', 'v128');
      for (const b of r.buffers) locals.set(`h${b}`, 'v128');
    }
    const total = (b: number) => {
      if (!wide) return `(local.set $a${b} (${v}.splat ${hsum(`a${b}`)}))`;
      const lane = (x: string, k: number) => `(f64x2.extract_lane ${k} ${get(x)})`;
      const sum = `(f64.add (f64.add ${lane(`a${b}`, 0)} ${lane(`a${b}`, 1)}) (f64.add ${lane(`h${b}`, 0)} ${lane(`h${b}`, 1)}))`;
      return `(local.set $a${b} (f32x4.splat (f32.demote_f64 ${w ? sum : `(f64.div ${sum} (f64.convert_i32_s ${size}))`})))`;
    };
    const tail =
      lanes === 2
        ? `(i64x2.lt_s (v128.const i64x2 0 1) (i64x2.splat (i64.extend_i32_s (i32.sub ${size} ${get('j')}))))`
        : `(i32x4.lt_s (v128.const i32x4 0 1 2 3) (i32x4.splat (i32.sub ${size} ${get('j')})))`;
    // whole vectors, then at most one vector with its lanes past the end masked out (the body twice: no mask in the main loop)
    outer.lines.push(
      ...r.buffers.flatMap((b) => [`(local.set $a${b} ${zero})`, ...(wide ? [`(local.set $h${b} ${zero})`] : [])]),
      `(local.set $j (i32.const 0))`,
      `(block $rd${k} (loop $rl${k}`,
      `  (br_if $rd${k} (i32.gt_s (i32.add ${get('j')} (i32.const ${lanes})) ${size}))`,
      `  (local.set $jb (i32.mul ${get('j')} (i32.const ${bytes})))`,
      ...loop.lines.map((l) => '  ' + l),
      ...add(false).map((l) => '  ' + l),
      `  (local.set $j (i32.add ${get('j')} (i32.const ${lanes})))`,
      `  (br $rl${k})))`,
      `(if (i32.lt_s ${get('j')} ${size}) (then`,
      `  (local.set $mask ${tail})`,
      `  (local.set $jb (i32.mul ${get('j')} (i32.const ${bytes})))`,
      ...loop.lines.map((l) => '  ' + l),
      ...add(true).map((l) => '  ' + l),
      `))`,
      ...r.buffers.map(total),
      ...(w || wide ? [] : r.buffers.map((b) => normalise(`a${b}`, size))),
    );
  }
  const post = scope();
  post.accs = new Map(stage.reductions.flatMap((r) => r.buffers.map((b) => [b, get(`a${b}`)] as [number, string])));
  for (const r of stage.reductions)
    for (const b of r.buffers)
      if (layout.buffers[b].stored) post.lines.push(`(${s}.store (i32.add ${buffer(b)} ${get('ib')}) (${v}.extract_lane 0 ${get(`a${b}`)}))`);
  const K = stage.outputs.length;
  stage.outputs.forEach((o, k) => {
    const c = emit(o, [...chainOuter, post]).code;
    post.lines.push(`(${s}.store offset=${k * bytes} (i32.add ${get('out')} (i32.mul ${get('i')} (i32.const ${K * bytes}))) (${v}.extract_lane 0 ${c}))`);
  });

  const indent = (l: string) => '    ' + l;
  return [
    `(func $${name} (export "${name}") (param $i0 i32) (param $i1 i32) (param $out i32)`,
    ...[...locals].map(([l, ty]) => `  (local $${l} ${ty})`),
    ...preamble.map((l) => '  ' + l),
    ...pre.lines.map((l) => '  ' + l),
    `  (local.set $i ${get('i0')})`,
    `  (block $od (loop $ol`,
    `    (br_if $od (i32.ge_s ${get('i')} ${get('i1')}))`,
    `    (local.set $ib (i32.mul ${get('i')} (i32.const ${bytes})))`,
    ...outer.lines.map(indent),
    ...post.lines.map(indent),
    `    (local.set $i (i32.add ${get('i')} (i32.const 1)))`,
    `    (br $ol)))`,
    `)`,
  ].join('\n');
}

/** The module of a plan's stages, each exported as `s<index>`; memory imported as env.memory (shared). */
export function generateWasmModule(stages: readonly Stage[], layout: Layout, t: WasmReal): string {
  return [
    '(module',
    '(import "env" "memory" (memory 1 65536 shared))',
    ...stages.map((st, k) => generateWasmStage(st, layout, t, `s${k}`)),
    ')',
  ].join('\n');
}
