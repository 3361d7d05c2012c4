// `flowc compile SPEC` without --emit: a short account of what the compiler
// made (the measures, the programs of the plan and their reduction stages,
// the time of each stage), and how to see more. The full dumps are behind
// --emit.

import type { Compiled } from '../compiler/compile.js';
import { spaceText } from '../compiler/columns.js';

export function compileSummary(c: Compiled, timings: Record<string, number>): string {
  const f = c.ir;
  const lines = [`flowc ${f.flow.name}${f.flow.title ? ` — ${f.flow.title}` : ''}`];
  for (const m of f.measures) {
    const s = m.source;
    const count = s.kind === 'dist' ? `${s.count} points drawn` : s.kind === 'file' ? `points from "${s.path}"` : `the push-forward of ${s.base}`;
    lines.push(`  ${m.role.padEnd(10)} ${m.name} in ${spaceText(m.type)}: ${count}`);
  }
  const scheme = `${f.scheme.name}(step = ${f.scheme.step}, steps = ${f.scheme.steps})`;
  lines.push(`  flow       energy ${f.energy.name}, metric ${f.metric.name}, scheme ${scheme}${f.noise ? `, noise ${f.noise.text}` : ''}${f.diffusion ? `, diffusion ${f.diffusion.text}` : ''}`);
  const describe = (stages: { reductions: { buffers: number[] }[] }[]) => {
    const reductions = stages.reduce((s, st) => s + st.reductions.length, 0);
    return `${stages.length} stage${stages.length === 1 ? '' : 's'}, ${reductions} reduction loop${reductions === 1 ? '' : 's'}`;
  };
  // W2² as a loss: computed on the host, each term a parameter of the energy
  for (const l of f.transportLosses ?? []) lines.push(`  w2 loss    ${l.text}: an optimal assignment on the host whenever the points move; its gradient applied on the host`);
  if (c.plan.setup.length) lines.push(`  ${'setup'.padEnd(10)} ${describe(c.plan.setup)} (fixed measures, run once)`);
  for (const [name, p] of Object.entries(c.plan.programs)) lines.push(`  ${name.padEnd(10)} ${describe(p.stages)}`);
  lines.push(`  buffers    ${c.plan.buffers.length} (${c.plan.buffers.filter((b) => b.stored).length} stored)`);
  lines.push(`  time       ${Object.entries(timings).map(([k, v]) => `${k} ${v < 10 ? v.toFixed(1) : Math.round(v)} ms`).join(' · ')}`);
  lines.push('  more       --emit ast | ir | ir-text | plan | kernels');
  return lines.join('\n') + '\n';
}
