// Code generation for the cpu backend: one stage of the plan → straight-line
// float64 JS source (the emitter is shared with the gpu.js formatter).
//
// The stage function has the signature (P, D, S, B, OUT, i0, i1, SUMS):
//   P    Float64Array of parameters (let constants, n, t)
//   D[k] Float64Array of the points of measure slot k, row-major (S[k] × dim)
//   S[k] number of points of measure slot k
//   B[b] Float64Array of stored buffer b (one number per domain point)
//   OUT  Float64Array receiving the stage's outputs, OUT[i * K + k]
//   i0, i1  the range of domain points to compute (threads split it)
//   SUMS[b] (post mode only) the sums of buffer b per domain point, computed
//        elsewhere (by gpu kernels): the function then only normalises them,
//        stores buffers and evaluates the outputs.

import { makeEmitter, normalised, scope, summand, type Layout } from './codegen-emit.js';
import type { Stage } from './schedule.js';

export type { Layout } from './codegen-emit.js';

export const STAGE_PARAMS = ['P', 'D', 'S', 'B', 'OUT', 'i0', 'i1', 'SUMS'] as const;

export function generateStage(stage: Stage, layout: Layout, mode: 'full' | 'post' = 'full'): string {
  const declared = new Set<string>();
  const decl: string[] = [];
  const used = (name: string, line: string) => {
    if (!declared.has(name)) {
      declared.add(name);
      decl.push(line);
    }
    return name;
  };
  const slot = (m: string) => {
    const k = layout.slot.get(m);
    if (k === undefined) throw new Error(`internal: no slot for measure ${m}`);
    return k;
  };
  const names = {
    data: (m: string) => used(`D${slot(m)}`, `const D${slot(m)} = D[${slot(m)}];`),
    size: (m: string) => used(`n${slot(m)}`, `const n${slot(m)} = S[${slot(m)}];`),
    buffer: (b: number) => used(`B${b}`, `const B${b} = B[${b}];`),
    param: (k: number) => `P[${k}]`,
  };
  const em = makeEmitter(layout, names);

  const outer = scope();
  if (stage.domain !== null && stage.v !== null)
    outer.binds.set(stage.v, { arr: names.data(stage.domain), offset: 'io', index: 'i' });
  const chainOuter = [em.pre, outer];
  const index = stage.domain === null ? '0' : 'i';

  for (const r of stage.reductions) {
    const m = r.measure;
    if (mode === 'post') {
      for (const b of r.buffers) {
        const sum = `${used(`SUMS${b}`, `const SUMS${b} = SUMS[${b}];`)}[${index}]`;
        outer.lines.push(`const a${b} = ${normalised(layout, m) ? `${sum} / ${names.size(m)}` : sum};`);
      }
      continue;
    }
    const loop = scope();
    loop.binds.set(r.v, { arr: names.data(m), offset: 'jo', index: 'j' });
    const chain = [...chainOuter, loop];
    const codes = r.buffers.map((b) => em.emit(layout.buffers[b].expr.body, chain).code);
    outer.lines.push(
      `let ${r.buffers.map((b) => `a${b} = 0`).join(', ')};`,
      `for (let j = 0; j < ${names.size(m)}; j++) {`,
      `  const jo = j * ${em.dimOf(m)};`,
      ...loop.lines.map((l) => '  ' + l),
      ...r.buffers.map((b, i) => `  a${b} += ${summand(layout, names, m, 'j', codes[i])};`),
      `}`,
      ...(normalised(layout, m) ? r.buffers.map((b) => `a${b} /= ${names.size(m)};`) : []),
    );
  }
  const post = scope();
  post.accs = new Map(stage.reductions.flatMap((r) => r.buffers.map((b) => [b, `a${b}`] as [number, string])));
  for (const r of stage.reductions)
    for (const b of r.buffers) if (layout.buffers[b].stored) post.lines.push(`${names.buffer(b)}[${index}] = a${b};`);
  const K = stage.outputs.length;
  stage.outputs.forEach((o, k) => {
    const c = em.emit(o, [...chainOuter, post]).code;
    post.lines.push(stage.domain === null ? `OUT[${k}] = ${c};` : `OUT[i * ${K} + ${k}] = ${c};`);
  });

  const body = [...outer.lines, ...post.lines].map((l) => '  ' + l);
  const loop =
    stage.domain === null
      ? ['{', ...body, '}']
      : [`for (let i = i0; i < i1; i++) {`, `  const io = i * ${em.dimOf(stage.domain)};`, ...body, '}'];
  return ['"use strict";', ...decl, ...em.pre.lines, ...loop].join('\n');
}
