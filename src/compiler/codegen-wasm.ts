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
// replaced by +0 (a bit mask). The whole vectors run SINGLE_UNROLL at a time,
// or, when a reduction has many buffers sharing a costly value, in blocks
// split into a loop for the shared values and loops for the sums
// (splitPlan). Each lane sums its own points in order and the
// lanes are added in a fixed order: a point's sums do not depend on the
// threads. exp, log, ... are expanded inline (wasm-math.ts): a call with
// v128 operands costs V8 as much as the exp itself.
//
// Memory: a header of i32 words at address 0 (wasmHeader) gives the byte
// address of the parameters, the size of each measure slot, the address of
// each component of each slot (structure of arrays: component c of every
// point contiguous, padded to a multiple of PAD_POINTS) and of each stored
// buffer. A stage function `s<k>(i0, i1, out, scr)` computes domain points
// [i0, i1) and writes OUT[i * K + k] at byte address `out`; `scr` is the
// calling thread's scratch memory (split reductions, splitPlan).
//
// Every name in the text is one this file made; numbers are printed by
// watNumber; nothing from the spec is spliced into code.

import * as ir from './ir.js';
import type { Node } from './ir.js';
import { OPS } from './ops.js';
import type { Layout } from './codegen-emit.js';
import type { Plan, Stage } from './schedule.js';
import { splat, type WasmCtx, type WasmReal } from './wasm-math.js';
import { reuseLocals, WASM_MAX_LOCALS } from './wasm-locals.js';

export { F32, F64, type WasmReal } from './wasm-math.js';

/** Every measure slot and buffer is padded to a multiple of this many points (the last vector reads past the end; its lanes there are masked). */
export const PAD_POINTS = 4;

/**
 * A reduction with more buffers than this is split (see splitPlan) when its
 * body has a costly part shared by its buffers. At d = 2 the ½MMD² step has 2
 * buffers per reduction and runs fastest as one loop; at d = 16 (16 buffers)
 * one loop holds 16 accumulators, 16 outer coordinates, 16 differences and
 * exp's constants, about 50 vectors for 16 registers, and spills on every
 * pair (bench/README.md has the measurements).
 */
export const SPLIT_MIN_BUFFERS = 2;
/** Points per block of a split reduction (a multiple of both lane counts). */
export const BLOCK_POINTS = 256;
/** Buffers summed per loop over a block in a split reduction. */
export const GROUP_BUFFERS = 4;
/** Vectors per iteration of the loop that computes a block's shared values (independent dependency chains, interleaved). */
export const UNROLL = 4;
/**
 * Vectors per iteration of a reduction that is not split (lines interleaved,
 * summands added in order: the same bits). ½MMD², d = 2, N = 4096, CPU ms per
 * step, 1 → 4: float32 104 → 67–76, float64 214–219 → 194–202.
 */
export const SINGLE_UNROLL = 4;

/** Instructions (roughly) of each op's expansion; the others cost 1. */
const OP_COST: Partial<Record<string, number>> = { exp: 30, log: 35, sin: 35, cos: 35, tanh: 40, sigmoid: 35, pow: 70, div: 4, divz: 5, sqrt: 4, norm: 6 };
/** A shared value whose computation (the part that reads the reduced point) costs at most this is recomputed by each loop instead of stored. */
const CHEAP = 3;

/**
 * The statements of several copies of a loop body, taken in turn (the first
 * of each copy, then the second of each, ...). A statement is a line, or the
 * lines of an inline loop (from its opening line until its parentheses
 * close).
 */
function interleave(copies: string[][]): string[] {
  const statements = copies.map((lines) => {
    const out: string[][] = [];
    let depth = 0;
    for (const line of lines) {
      if (depth === 0) out.push([]);
      out[out.length - 1].push(line);
      for (const ch of line) depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
    }
    return out;
  });
  const out: string[] = [];
  for (let i = 0; i < Math.max(0, ...statements.map((s) => s.length)); i++) for (const s of statements) if (i < s.length) out.push(...s[i]);
  return out;
}

/** target.push(...items) without passing each item as an argument: a stage in R^4096 has more lines than a call takes */
function append(target: string[], items: readonly string[]): void {
  for (const x of items) target.push(x);
}

/** The operands of a node as the emitter reads them (`a + -b` is one subtraction; an inline loop is opaque). */
function operands(n: Node): readonly Node[] {
  if (n.kind === 'op') return n.op === 'add' && n.args[1].kind === 'op' && n.args[1].op === 'neg' ? [n.args[0], n.args[1].args[0]] : n.args;
  return n.kind === 'skip' ? [n.body] : [];
}

/**
 * How a reduction's loop is split, or null when it stays one loop. The
 * reduced point's part of the body is divided in two: the values shared by
 * several buffers whose computation is costly (the Gaussian weight
 * exp(-|x-y|²/2σ²) of every coordinate's sum) are computed first, for a block
 * of BLOCK_POINTS points, and stored in the thread's scratch memory; then the
 * buffers, GROUP_BUFFERS at a time, loop over the block again, read them back
 * and recompute the cheap rest (x_c − y_c). Every summand is computed by the
 * same operations as in the single loop and added to its lane's sum in the
 * same order: the results are the same bits.
 */
export function splitPlan(roots: readonly Node[], v: number, freeVars: (n: Node) => ReadonlySet<number>): Node[] | null {
  if (roots.length <= SPLIT_MIN_BUFFERS) return null;
  const dep = (n: Node) => n.kind !== 'num' && freeVars(n).has(v);
  // the values that depend on the point, readers before their operands
  const nodes = ir.topoOrderUnseen(roots.filter(dep), new Set(), (n) => operands(n).filter(dep)).reverse();
  const index = new Map<number, number>();
  nodes.forEach((n, k) => index.set(n.id, k));
  // the buffers whose summand reads each value (a bitset per value), pushed from readers to operands
  const words = Math.ceil(roots.length / 32);
  const sets = new Uint32Array(nodes.length * words);
  roots.forEach((root, b) => {
    const k = index.get(root.id);
    if (k !== undefined) sets[k * words + (b >> 5)] |= 1 << (b & 31);
  });
  const users = new Map<number, number>();
  nodes.forEach((n, k) => {
    let count = 0;
    for (let w = 0; w < words; w++) {
      let x = sets[k * words + w];
      while (x) {
        x &= x - 1;
        count++;
      }
    }
    users.set(n.id, count);
    for (const a of operands(n)) {
      const ka = index.get(a.id);
      if (ka !== undefined) for (let w = 0; w < words; w++) sets[ka * words + w] |= sets[k * words + w];
    }
  });
  const cost = (n: Node) => (n.kind === 'op' ? (OP_COST[n.op] ?? 1) : n.kind === 'expect' ? 1000 : n.kind === 'skip' ? 3 : 1);
  /** the cost of computing n from the point's coordinates, counted up to just past CHEAP (all that is asked) */
  const coneCost = (n: Node): number => {
    let sum = 0;
    const seen = new Set<number>();
    const stack = [n];
    while (stack.length && sum <= CHEAP) {
      const m = stack.pop()!;
      if (!dep(m) || seen.has(m.id)) continue;
      seen.add(m.id);
      sum += cost(m);
      stack.push(...operands(m));
    }
    return sum;
  };
  // shared values read by a value of fewer buffers (every reader's buffers are among its operands'), or that are summands themselves
  const frontier = new Map<number, Node>();
  const rootIds = new Set(roots.map((r) => r.id));
  for (const n of nodes) {
    const u = users.get(n.id)!;
    if (u >= 2 && rootIds.has(n.id)) frontier.set(n.id, n);
    for (const a of operands(n)) {
      const ua = users.get(a.id);
      if (ua !== undefined && ua >= 2 && u < ua) frontier.set(a.id, a);
    }
  }
  const stored = [...frontier.values()].filter((n) => coneCost(n) > CHEAP);
  return stored.length ? stored.sort((a, b) => a.id - b.id) : null;
}

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
  /** bytes added to the offset (the second vector of an unrolled loop) */
  shift?: number;
}

interface Scope {
  lines: string[];
  memo: Map<number, string>;
  binds: Map<number, Bind>;
  accs?: Map<number, string>;
  /** nodes computed by an earlier loop of a split reduction: their reads (from the scratch block), placed on first use */
  lazy?: Map<number, string>;
}

const scope = (): Scope => ({ lines: [], memo: new Map(), binds: new Map() });
const get = (name: string) => `(local.get $${name})`;

/** Functions with more locals than this share them between temporaries (wasm-locals.ts); smaller ones keep one local per value, as tuned. */
export const REUSE_LOCALS_ABOVE = 8192;

/** How a module is generated: `split: false` keeps every reduction one loop (tests compare the two); `scratch.bytes` receives the scratch memory a thread needs; `labels` name the stages in comments. */
export interface WasmModuleOptions {
  split?: boolean;
  /** share locals between temporaries (wasm-locals.ts): by default only in functions with more than REUSE_LOCALS_ABOVE locals */
  reuseLocals?: boolean;
  scratch?: { bytes: number };
  labels?: readonly string[];
}

/** One stage as a WAT function exported under `name`. */
export function generateWasmStage(stage: Stage, layout: Layout, t: WasmReal, name: string, options: WasmModuleOptions = {}): string {
  const scratch = options.scratch ?? { bytes: 0 };
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
  const read = (addr: string, b: { vec: boolean; shift?: number }) => (b.vec ? `(v128.load${b.shift ? ` offset=${b.shift}` : ''} ${addr})` : `(v128.load${bits}_splat ${addr})`);
  const weightOf = (m: string, b: Bind): string | undefined => {
    const w = layout.weights?.get(m);
    return w === undefined ? undefined : read(at(comp(slotOf(w), 0), b), b);
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

  /** One node, its operands emitted through emit() (each already placed when emit() drives: one level of recursion). */
  const emitNode = (n: Node, chain: Scope[]): { code: string; depth: number } => {
    if (n.kind === 'num') return { code: splat(t, n.value), depth: 0 };
    for (let d = chain.length - 1; d >= 0; d--) {
      const hit = chain[d].memo.get(n.id);
      if (hit !== undefined) return { code: hit, depth: d };
    }
    for (let d = chain.length - 1; d >= 0; d--) {
      const stored = chain[d].lazy?.get(n.id);
      if (stored !== undefined) return place(chain, d, n.id, stored);
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
        return place(chain, d, n.id, read(at(comp(b.slot, n.c), b), b));
      }
      case 'load': {
        for (let d = chain.length - 1; d >= 0; d--) {
          const acc = chain[d].accs?.get(n.buffer);
          if (acc !== undefined) return { code: acc, depth: d };
        }
        if (n.v === null) return place(chain, 0, n.id, read(buffer(n.buffer), { vec: false }));
        const d = depthOfVar(chain, n.v);
        const b = chain[d].binds.get(n.v)!;
        return place(chain, d, n.id, read(at(buffer(n.buffer), b), b));
      }
      case 'op': {
        if (n.op === 'add' && n.args[1].kind === 'op' && n.args[1].op === 'neg') {
          const [a, b] = emitAll(operands(n), chain);
          return place(chain, Math.max(a.depth, b.depth), n.id, `(${v}.sub ${a.code} ${b.code})`);
        }
        const args = emitAll(n.args, chain);
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
        const steps = Array.from({ length: lanes }, (_, k) => k * bytes + (lane.shift ?? 0)).join(' ');
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

  /**
   * Operands in the order that needs the fewest live values (Sethi–Ullman:
   * the operand needing more first). V8 keeps memory loads in program order
   * and places arithmetic after them: emitting |x-y|² = s15 + (s14 + ... (s0 +
   * s1)) from the left loads all 16 coordinates before the first addition.
   * The operations and their operands are the same in any order.
   */
  const need = new Map<number, number>();
  const needOf = (root: Node): number => {
    if (root.kind === 'num' || root.kind === 'param') return 0;
    // operands before the node, without recursion (see emit)
    for (const n of ir.topoOrderUnseen([root], need, (n) => operands(n).filter((o) => o.kind !== 'num' && o.kind !== 'param'))) {
      const ks = operands(n).map(needOf).sort((a, b) => b - a);
      need.set(n.id, Math.max(1, ...ks.map((k, i) => k + i)));
    }
    return need.get(root.id)!;
  };
  /** The order in which emitAll emits operands: the one needing more first, then as written. */
  const inOrder = (args: readonly Node[]) => args.map((_, i) => i).sort((a, b) => needOf(args[b]) - needOf(args[a]) || a - b);
  const emitAll = (args: readonly Node[], chain: Scope[]) => {
    const out: { code: string; depth: number }[] = new Array(args.length);
    for (const i of inOrder(args)) out[i] = emit(args[i], chain);
    return out;
  };

  /** Whether emitNode returns n without emitting operands: a leaf, an inline loop (its body is emitted on its own chain) or a value already placed. */
  const settled = (n: Node, chain: Scope[]): boolean => {
    if (n.kind !== 'op' && n.kind !== 'skip') return true;
    for (let d = chain.length - 1; d >= 0; d--) if (chain[d].memo.has(n.id) || chain[d].lazy?.has(n.id)) return true;
    return false;
  };
  /**
   * emitNode, with the operands emitted first, in emitAll's order, by an
   * explicit stack: an expression is as deep as its longest chain of sums
   * (|x - y|² in R^4096 is 4096 additions deep), deeper than recursion can
   * go. Each node is emitted at the moment the recursion would emit it, so
   * the text is the same.
   */
  const emit = (root: Node, chain: Scope[]): { code: string; depth: number } => {
    const kids = (n: Node) => {
      const ops = operands(n);
      return n.kind === 'op' ? inOrder(ops).map((i) => ops[i]) : ops;
    };
    if (!settled(root, chain)) {
      const stack = [{ n: root, kids: kids(root), next: 0 }];
      while (stack.length) {
        const top = stack[stack.length - 1];
        if (top.next < top.kids.length) {
          const kid = top.kids[top.next++];
          if (settled(kid, chain)) emitNode(kid, chain);
          else stack.push({ n: kid, kids: kids(kid), next: 0 });
        } else {
          stack.pop();
          if (stack.length) emitNode(top.n, chain);
        }
      }
    }
    return emitNode(root, chain);
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
    append(chain[depth].lines, [
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
    ]);
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
    const bodies = r.buffers.map((b) => layout.buffers[b].expr.body);
    /** the body's reduced-point part in a new loop scope: its lines and each buffer's summand */
    const body = (which: number[], lazy?: Map<number, string>, shift = 0) => {
      const loop = scope();
      loop.binds.set(r.v, shift ? { ...bind, shift } : bind);
      loop.lazy = lazy;
      const codes = which.map((i) => emit(bodies[i], [...chainOuter, loop]).code);
      return { lines: loop.lines, codes };
    };
    const weight = weightOf(m, bind);
    const w = weight;
    const size = count(slotOf(m));
    const k = ++reductions;
    // float32 summands are added in float64 (two f64x2 sums per buffer, lanes 0-1 and 2-3): the sum adds no float32 rounding
    const wide = t.precision === 'float32';
    const add = (which: number[], codes: string[], masked: boolean, w = weight) =>
      which.flatMap((i, n) => {
        const b = r.buffers[i];
        const term = w ? `(${v}.mul ${w} ${codes[n]})` : codes[n];
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
    const all = r.buffers.map((_, i) => i);
    /** the loop over the whole vectors left, one at a time, with the summands of `one` (a body of every buffer) */
    const vectorLoop = (one: ReturnType<typeof body>) => [
      `(block $rd${k} (loop $rl${k}`,
      `  (br_if $rd${k} (i32.gt_s (i32.add ${get('j')} (i32.const ${lanes})) ${size}))`,
      `  (local.set $jb (i32.mul ${get('j')} (i32.const ${bytes})))`,
      ...one.lines.map((l) => '  ' + l),
      ...add(all, one.codes, false).map((l) => '  ' + l),
      `  (local.set $j (i32.add ${get('j')} (i32.const ${lanes})))`,
      `  (br $rl${k})))`,
    ];
    const stored = options.split === false ? null : splitPlan(bodies, r.v, freeVars);
    const whole: string[] = [];
    if (!stored) {
      // SINGLE_UNROLL vectors at a time (their lines interleaved, their summands added in order),
      // whole vectors, then at most one vector with its lanes past the end masked out (no mask in the main loops)
      const one = body(all);
      const vb = lanes * bytes;
      const copies = Array.from({ length: SINGLE_UNROLL }, (_, u) => body(all, undefined, u * vb));
      const zip = interleave(copies.map((c) => c.lines));
      append(whole, [
        `(local.set $j (i32.const 0))`,
        ...(SINGLE_UNROLL > 1
          ? [
              `(block $ud${k} (loop $ul${k}`,
              `  (br_if $ud${k} (i32.gt_s (i32.add ${get('j')} (i32.const ${SINGLE_UNROLL * lanes})) ${size}))`,
              `  (local.set $jb (i32.mul ${get('j')} (i32.const ${bytes})))`,
              ...zip.map((l) => '  ' + l),
              ...copies.flatMap((c, u) => add(all, c.codes, false, weightOf(m, { ...bind, shift: u * vb }))).map((l) => '  ' + l),
              `  (local.set $j (i32.add ${get('j')} (i32.const ${SINGLE_UNROLL * lanes})))`,
              `  (br $ul${k})))`,
            ]
          : []),
        ...vectorLoop(one),
      ]);
    } else {
      // blocks of whole groups of UNROLL vectors: the shared values of a
      // block into scratch, UNROLL vectors at a time (independent chains: the
      // sum of d squares and exp are long chains of dependent operations),
      // then the buffers a group at a time; the vectors left over (fewer than
      // UNROLL) and the partial one follow as in a single loop
      const block = BLOCK_POINTS * bytes;
      const vb = lanes * bytes;
      scratch.bytes = Math.max(scratch.bytes, stored.length * block);
      for (const l of ['j0', 'j1', 'je', 'kb']) locals.set(l, 'i32');
      const at = (q: number, shift = 0) => `offset=${q * block + shift} (i32.add ${get('scr')} ${get('kb')})`;
      const copies = Array.from({ length: UNROLL }, (_, u) => u * vb).map((shift) => {
        const first = scope();
        first.binds.set(r.v, { ...bind, shift });
        const values = stored.map((n) => emit(n, [...chainOuter, first]).code);
        return { lines: first.lines, stores: values.map((c, q) => `(v128.store ${at(q, shift)} ${c})`) };
      });
      const zip = interleave(copies.map((c) => c.lines));
      const pass = (label: string, step: number, lines: string[]) => [
        `(local.set $j ${get('j0')})`,
        `(block $${label}d (loop $${label}l`,
        `  (br_if $${label}d (i32.ge_s ${get('j')} ${get('j1')}))`,
        `  (local.set $jb (i32.mul ${get('j')} (i32.const ${bytes})))`,
        `  (local.set $kb (i32.mul (i32.sub ${get('j')} ${get('j0')}) (i32.const ${bytes})))`,
        ...lines.map((l) => '  ' + l),
        `  (local.set $j (i32.add ${get('j')} (i32.const ${step})))`,
        `  (br $${label}l)))`,
      ];
      const lazy = new Map(stored.map((n, q) => [n.id, `(v128.load ${at(q)})`]));
      const groups: string[][] = [];
      for (let g = 0; g < all.length; g += GROUP_BUFFERS) {
        const which = all.slice(g, g + GROUP_BUFFERS);
        const b = body(which, lazy);
        groups.push(pass(`g${k}_${g}`, lanes, [...b.lines, ...add(which, b.codes, false)]));
      }
      const one = body(all);
      append(whole, [
        `(local.set $je (i32.and ${size} (i32.const ${-UNROLL * lanes})))`,
        `(local.set $j0 (i32.const 0))`,
        `(block $bd${k} (loop $bl${k}`,
        `  (br_if $bd${k} (i32.ge_s ${get('j0')} ${get('je')}))`,
        `  (local.set $j1 (select (i32.add ${get('j0')} (i32.const ${BLOCK_POINTS})) ${get('je')} (i32.lt_s (i32.add ${get('j0')} (i32.const ${BLOCK_POINTS})) ${get('je')})))`,
        ...pass(`w${k}`, UNROLL * lanes, [...zip, ...copies.flatMap((c) => c.stores)]).map((l) => '  ' + l),
        ...groups.flat().map((l) => '  ' + l),
        `  (local.set $j0 ${get('j1')})`,
        `  (br $bl${k})))`,
        `(local.set $j ${get('je')})`,
        ...vectorLoop(one),
      ]);
    }
    const last = body(all);
    append(outer.lines, [
      ...r.buffers.flatMap((b) => [`(local.set $a${b} ${zero})`, ...(wide ? [`(local.set $h${b} ${zero})`] : [])]),
      ...whole,
      `(if (i32.lt_s ${get('j')} ${size}) (then`,
      `  (local.set $mask ${tail})`,
      `  (local.set $jb (i32.mul ${get('j')} (i32.const ${bytes})))`,
      ...last.lines.map((l) => '  ' + l),
      ...add(all, last.codes, true).map((l) => '  ' + l),
      `))`,
      ...r.buffers.map(total),
      ...(w || wide ? [] : r.buffers.map((b) => normalise(`a${b}`, size))),
    ]);
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
  const bodyLines = [
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
  ];
  // every placed value has a local of its own; a large stage shares them (V8 takes at most 50,000)
  const declared = (options.reuseLocals ?? locals.size > REUSE_LOCALS_ABOVE) ? reuseLocals(bodyLines, locals, (l) => /^[tm]\d+$/.test(l)) : locals;
  if (declared.size > WASM_MAX_LOCALS) throw new RangeError(`too many locals: ${declared.size} in one function, WebAssembly's limit is ${WASM_MAX_LOCALS}`);
  return [
    `(func $${name} (export "${name}") (param $i0 i32) (param $i1 i32) (param $out i32) (param $scr i32)`,
    ...[...declared].map(([l, ty]) => `  (local $${l} ${ty})`),
    ...bodyLines,
    `)`,
  ].join('\n');
}

/**
 * The module of a plan's stages, each exported as `s<index>`; memory imported
 * as env.memory (shared). `options.scratch.bytes` is set to the scratch memory
 * each thread must pass to the stages (0 when no reduction is split).
 */
export function generateWasmModule(stages: readonly Stage[], layout: Layout, t: WasmReal, options: WasmModuleOptions = {}): string {
  const opts = { ...options, scratch: options.scratch ?? { bytes: 0 } };
  return [
    '(module',
    '(import "env" "memory" (memory 1 65536 shared))',
    ...stages.flatMap((st, k) => [...(opts.labels ? [`;; ---- ${opts.labels[k]}`] : []), generateWasmStage(st, layout, t, `s${k}`, opts)]),
    ')',
  ].join('\n');
}

/** Every stage of a plan in the order the cpu backend numbers them (setup, then each program's), with their names. */
export function wasmStages(plan: Plan): { stages: Stage[]; labels: string[] } {
  const named = [...plan.setup.map((st, i) => [`setup stage ${i}`, st] as const), ...Object.entries(plan.programs).flatMap(([name, p]) => p.stages.map((st, i) => [`${name} stage ${i}`, st] as const))];
  return { stages: named.map(([, st]) => st), labels: named.map(([l], k) => `${l}: s${k}`) };
}

/** The text of the module the cpu backend assembles for a plan (`flowc compile --emit wasm`), each stage labelled. */
export function wasmText(plan: Plan, layout: Layout, t: WasmReal): string {
  const { stages, labels } = wasmStages(plan);
  const scratch = { bytes: 0 };
  const text = generateWasmModule(stages, layout, t, { scratch, labels });
  return [
    `;; flowc: the cpu backend's WebAssembly module (${t.precision}, ${t.v}); stage s<k>(i0, i1, out, scratch) computes domain points [i0, i1)`,
    `;; memory: a header of i32 words at address 0 (parameters, each measure's size and components, each buffer); scratch: ${scratch.bytes} bytes per thread`,
    text,
    '',
  ].join('\n');
}
