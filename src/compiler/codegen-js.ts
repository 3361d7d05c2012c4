// Code generation: one stage of the plan → straight-line JS source.
//
// The stage function has the signature (P, D, S, B, OUT):
//   P    Float64Array of parameters (let constants, n, t)
//   D[k] Float64Array of the points of measure slot k, row-major (S[k] × dim)
//   S[k] number of points of measure slot k
//   B[b] Float64Array of stored buffer b (one number per domain point)
//   OUT  Float64Array receiving the stage's outputs, OUT[i * K + k]
// Source contains only names and numbers the compiler made: no identifier or
// string from the spec is ever spliced into it.
//
// Emission places every node at the outermost loop where its operands are
// available (loop-invariant hoisting) and emits each node once per scope
// (CSE over the hash-consed DAG).

import * as ir from './ir.js';
import type { Node } from './ir.js';
import { OPS } from './ops.js';
import type { Buffer, Stage } from './schedule.js';

export interface Layout {
  /** slot of each measure (and QUERY) in D and S */
  slot: Map<string, number>;
  dim: Map<string, number>;
  /** index in P of component c of parameter name: key `${name}:${c}` */
  param: Map<string, number>;
  buffers: Buffer[];
}

interface Scope {
  lines: string[];
  memo: Map<number, string>;
  /** point variables bound here: data array and row offset names */
  binds: Map<number, { arr: string; offset: string; index: string }>;
  /** accumulators of this stage's reductions (the post-reduction scope) */
  accs?: Map<number, string>;
}

const scope = (): Scope => ({ lines: [], memo: new Map(), binds: new Map() });

function literal(v: number): string {
  const s = ir.formatNumber(v);
  return v < 0 || Object.is(v, -0) ? `(${s})` : s;
}

export function generateStage(stage: Stage, layout: Layout): string {
  const pre = scope();
  let tmp = 0;
  let loops = 0;

  const slotOf = (m: string) => {
    const k = layout.slot.get(m);
    if (k === undefined) throw new Error(`internal: no slot for measure ${m}`);
    return k;
  };
  const declared = new Set<string>();
  const used = (name: string, decl: string) => {
    if (!declared.has(name)) {
      declared.add(name);
      pre.lines.push(decl);
    }
    return name;
  };
  const data = (m: string) => used(`D${slotOf(m)}`, `const D${slotOf(m)} = D[${slotOf(m)}];`);
  const size = (m: string) => used(`n${slotOf(m)}`, `const n${slotOf(m)} = S[${slotOf(m)}];`);
  const dimOf = (m: string) => layout.dim.get(m)!;
  const bufArr = (b: number) => used(`B${b}`, `const B${b} = B[${b}];`);

  const depthOfVar = (chain: Scope[], v: number): number => {
    for (let d = chain.length - 1; d >= 0; d--) if (chain[d].binds.has(v)) return d;
    throw new Error(`internal: unbound point variable ${v}`);
  };
  const place = (chain: Scope[], depth: number, id: number, code: string): { code: string; depth: number } => {
    const name = `t${tmp++}`;
    chain[depth].lines.push(`const ${name} = ${code};`);
    chain[depth].memo.set(id, name);
    return { code: name, depth };
  };

  const emit = (n: Node, chain: Scope[]): { code: string; depth: number } => {
    if (n.kind === 'num') return { code: literal(n.value), depth: 0 };
    for (let d = chain.length - 1; d >= 0; d--) {
      const hit = chain[d].memo.get(n.id);
      if (hit !== undefined) return { code: hit, depth: d };
    }
    switch (n.kind) {
      case 'param': {
        const k = layout.param.get(`${n.name}:${n.c}`);
        if (k === undefined) throw new Error(`internal: unknown parameter`);
        return place(chain, 0, n.id, `P[${k}]`);
      }
      case 'var': {
        const d = depthOfVar(chain, n.v);
        const b = chain[d].binds.get(n.v)!;
        return place(chain, d, n.id, `${b.arr}[${b.offset} + ${n.c}]`);
      }
      case 'load': {
        for (let d = chain.length - 1; d >= 0; d--) {
          const acc = chain[d].accs?.get(n.buffer);
          if (acc !== undefined) return { code: acc, depth: d };
        }
        if (n.v === null) return place(chain, 0, n.id, `${bufArr(n.buffer)}[0]`);
        const d = depthOfVar(chain, n.v);
        return place(chain, d, n.id, `${bufArr(n.buffer)}[${chain[d].binds.get(n.v)!.index}]`);
      }
      case 'op': {
        // a + (-b) is written as a subtraction: the same IEEE result
        if (n.op === 'add' && n.args[1].kind === 'op' && n.args[1].op === 'neg') {
          const a = emit(n.args[0], chain);
          const b = emit(n.args[1].args[0], chain);
          return place(chain, Math.max(a.depth, b.depth), n.id, `${a.code} - ${b.code}`);
        }
        const args = n.args.map((a) => emit(a, chain));
        const depth = Math.max(0, ...args.map((a) => a.depth));
        const codes = args.map((a) => a.code);
        // x^2 with a literal 2 multiplies (the op table sees the literal)
        return place(chain, depth, n.id, OPS[n.op].js(codes));
      }
      case 'expect':
        return inlineLoop(n, chain);
      default:
        return ir.assertNever(n);
    }
  };

  /** An expectation reading two or more outer points: a nested loop, hoisted as far out as it can go. */
  const inlineLoop = (n: ir.NodeOf<'expect'>, chain: Scope[]): { code: string; depth: number } => {
    const free = ir.freeVarsOf()(n);
    const depth = Math.max(0, ...[...free].map((v) => depthOfVar(chain, v)));
    const k = ++loops;
    const loop = scope();
    const m = n.measure;
    loop.binds.set(n.v, { arr: data(m), offset: `l${k}o`, index: `l${k}` });
    const inner = [...chain.slice(0, depth + 1), loop];
    const body = emit(n.body, inner);
    const acc = `s${k}`;
    chain[depth].lines.push(
      `let ${acc} = 0;`,
      `for (let l${k} = 0; l${k} < ${size(m)}; l${k}++) {`,
      `  const l${k}o = l${k} * ${dimOf(m)};`,
      ...loop.lines.map((l) => '  ' + l),
      `  ${acc} += ${body.code};`,
      `}`,
      `${acc} /= ${size(m)};`,
    );
    chain[depth].memo.set(n.id, acc);
    return { code: acc, depth };
  };

  // ---- the stage: optional outer loop, reductions, outputs
  const outer = scope();
  if (stage.domain !== null && stage.v !== null)
    outer.binds.set(stage.v, { arr: data(stage.domain), offset: 'io', index: 'i' });
  const chainOuter = [pre, outer];

  for (const r of stage.reductions) {
    const loop = scope();
    const m = r.measure;
    loop.binds.set(r.v, { arr: data(m), offset: 'jo', index: 'j' });
    const chain = [...chainOuter, loop];
    const codes = r.buffers.map((b) => emit(layout.buffers[b].expr.body, chain).code);
    outer.lines.push(
      `let ${r.buffers.map((b) => `a${b} = 0`).join(', ')};`,
      `for (let j = 0; j < ${size(m)}; j++) {`,
      `  const jo = j * ${dimOf(m)};`,
      ...loop.lines.map((l) => '  ' + l),
      ...r.buffers.map((b, i) => `  a${b} += ${codes[i]};`),
      `}`,
      ...r.buffers.map((b) => `a${b} /= ${size(m)};`),
    );
  }
  const post = scope();
  post.accs = new Map(stage.reductions.flatMap((r) => r.buffers.map((b) => [b, `a${b}`] as [number, string])));
  const index = stage.domain === null ? '0' : 'i';
  for (const r of stage.reductions)
    for (const b of r.buffers) if (layout.buffers[b].stored) post.lines.push(`${bufArr(b)}[${index}] = a${b};`);
  const K = stage.outputs.length;
  stage.outputs.forEach((o, k) => {
    const c = emit(o, [...chainOuter, post]).code;
    post.lines.push(stage.domain === null ? `OUT[${k}] = ${c};` : `OUT[i * ${K} + ${k}] = ${c};`);
  });

  const body = [...outer.lines, ...post.lines].map((l) => '  ' + l);
  const loop =
    stage.domain === null
      ? ['{', ...body, '}']
      : [`for (let i = 0; i < ${size(stage.domain)}; i++) {`, `  const io = i * ${dimOf(stage.domain)};`, ...body, '}'];
  return ['"use strict";', ...pre.lines, ...loop].join('\n');
}
