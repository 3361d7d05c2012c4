// Printable forms of the compiler's intermediate results, for
// `flowc compile --emit ast|ir|plan|kernels`. The IR is JSON validated
// against its JSON Schema (ir-schema.ts) at this boundary.

import { Ajv } from 'ajv';
import type { Compiled } from './compile.js';
import * as ir from './ir.js';
import { IR_SCHEMA } from './ir-schema.js';
import type { Stage } from './schedule.js';

export function irJson(c: Compiled): object {
  const models = c.ir.models.flatMap((m) => m.points);
  const roots = [c.ir.energy.node, ...(c.firstVariation ? [c.firstVariation] : []), ...c.velocity, ...models, ...gradientRoots(c), ...c.observed.map((o) => o.node)];
  const { table, index } = ir.toTable(roots);
  const at = (n: ir.Node) => index.get(n.id)!;
  const used = new Set(table.nodes.flatMap((n) => (n.kind === 'var' ? [n.v] : n.kind === 'expect' ? [n.v] : [])));
  return {
    version: 1,
    flow: c.ir.flow,
    seed: c.ir.seed,
    params: c.ir.params,
    measures: c.ir.measures.map((m) => ({
      name: m.name,
      role: m.role,
      dim: m.dim,
      source:
        m.source.kind === 'file'
          ? { kind: 'file', path: m.source.path }
          : m.source.kind === 'model'
            ? { kind: 'model', base: m.source.base }
            : { kind: 'dist', count: m.source.count, dist: m.source.dist },
    })),
    ...(c.ir.particles ? { particles: c.ir.particles } : {}),
    ...(c.ir.states.length ? { states: c.ir.states.map((v) => ({ name: v.name, role: v.role, dim: v.dim, init: v.init, ...(v.ascent ? { ascent: v.ascent } : {}) })) } : {}),
    ...(c.ir.models.length ? { models: c.ir.models.map((m) => ({ name: m.name, base: m.base, dim: m.dim, points: m.points.map(at) })) } : {}),
    ...(gradientRoots(c).length ? { gradient: gradientRoots(c).map(at) } : {}),
    metric: c.ir.metric,
    scheme: c.ir.scheme,
    vars: ir.allVars().filter((v) => used.has(v.id)).map((v) => ({ id: v.id, measure: v.measure, dim: v.dim, name: v.name })),
    nodes: table.nodes,
    energy: { name: c.ir.energy.name, root: at(c.ir.energy.node) },
    ...(c.firstVariation && c.queryVar ? { firstVariation: { variable: c.queryVar.id, root: at(c.firstVariation) } } : {}),
    velocity: c.velocity.map(at),
    record: {
      every: c.ir.record.every,
      items: c.ir.record.items.map((it) => (it.kind === 'scalar' ? { kind: 'scalar', column: it.column, root: at(it.node) } : it)),
    },
  };
}

/** ∇_theta F of a flow of states (the gradient program's roots, before scheduling). */
function gradientRoots(c: Compiled): ir.Node[] {
  return c.gradient ?? [];
}

let validator: ((x: unknown) => boolean) & { errors?: unknown } | undefined;

/** Validate IR JSON against the schema; returns error messages (empty when valid). */
export function validateIr(json: unknown): string[] {
  validator ??= new Ajv({ allErrors: true, allowUnionTypes: true }).compile(IR_SCHEMA);
  if (validator(json)) return [];
  return ((validator.errors as { instancePath: string; message?: string }[]) ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
}

/** The readable IR: energy, first variation and velocity as expressions. */
export function irText(c: Compiled): string {
  const lines = [`energy ${c.ir.energy.name} = ${ir.printNode(c.ir.energy.node)}`];
  if (c.firstVariation) lines.push(`first variation at X = ${ir.printNode(c.firstVariation)}`);
  c.velocity.forEach((v, k) => lines.push(`velocity[${k}] = ${ir.printNode(v)}`));
  for (const m of c.ir.models) m.points.forEach((p, k) => lines.push(`${m.name}[${k}] = ${ir.printNode(p)}   (push of ${m.base})`));
  const names = c.ir.states.filter((v) => v.role === 'state').flatMap((v) => v.init.map((_, k) => `${v.name}[${k}]`));
  gradientRoots(c).forEach((g, k) => lines.push(`gradient ${names[k]} = ${ir.printNode(g)}`));
  // W2² as a loss: a parameter of the energy, computed on the host, whose gradient the host adds (runtime/transport-loss.ts)
  for (const l of c.ir.transportLosses ?? [])
    lines.push(
      `${l.param} = ${l.text}, computed on the host each step; its part of the gradient, ∂${c.ir.energy.name}/∂${l.param} · 2 (x - T(x)) with T the optimal assignment, is ${c.ir.particles ? 'subtracted from the velocity' : 'pulled back through the Jacobian and added to the gradient'} on the host (not shown above)`,
    );
  return lines.join('\n') + '\n';
}

function stageText(s: Stage, c: Compiled): string {
  const name = (v: number) => ir.varInfo(v).name;
  const head = s.domain === null ? 'once' : `for each ${name(s.v!)} in ${s.domain}`;
  const lines = [`stage (${head}):`];
  for (const r of s.reductions)
    for (const b of r.buffers) lines.push(`  B${b} = E[${name(r.v)}~${r.measure}] ${ir.printNode(c.plan.buffers[b].expr.body, name)}${c.plan.buffers[b].stored ? '' : '   (register)'}`);
  s.outputs.forEach((o, k) => lines.push(`  out[${k}] = ${ir.printNode(o, name)}`));
  return lines.join('\n');
}

/** The plan: hoisted stages, then each program's stages, as text. */
export function planText(c: Compiled): string {
  const weighted = [...(c.layout.weights?.keys() ?? [])];
  const out = [
    ...weighted.map((m) => `# every E[..~${m}] is weighted: sum_j w_j body_j (metric ${c.ir.metric.name} moves the weights)`),
    '# setup (fixed measures only, run once)',
    ...c.plan.setup.map((s) => stageText(s, c)),
  ];
  for (const [name, p] of Object.entries(c.plan.programs)) out.push(`# ${name}`, ...p.stages.map((s) => stageText(s, c)));
  return out.join('\n') + '\n';
}

export function kernelsText(c: Compiled): string {
  const out: string[] = [];
  c.kernels.setup.forEach((k, i) => out.push(`// ---- setup stage ${i}`, k));
  for (const [name, ks] of Object.entries(c.kernels.programs)) ks.forEach((k, i) => out.push(`// ---- ${name} stage ${i}`, k));
  return out.join('\n') + '\n';
}
