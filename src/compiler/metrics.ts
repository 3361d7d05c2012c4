// Metrics and schemes are tables, like ops (DESIGN.md): each entry says which
// programs the metric needs from the compiler. How it moves the flow's
// object with their results is its entry in the runtime's table
// (runtime/schemes.ts for particles, runtime/state-metrics.ts for states).

import { derivative } from './derive.js';
import * as ir from './ir.js';
import type { Node, VarInfo } from './ir.js';
import { CG_MEASURE, type FlowIR, type MetricIR } from './lower.js';
import { dabMatrix, fisherMatrix, kwngPrograms } from './parametric.js';
import { QUERY, type ProgramInput } from './schedule.js';

/** What a particle metric's programs are built from: the query point X, F'(mu)(X), -∇F'(mu)(X). */
export interface ParticleContext {
  flow: FlowIR;
  queryVar: VarInfo;
  firstVariation: Node;
  velocity: Node[];
}

type MetricName = MetricIR['name'];

/** Programs of each metric on particles. */
export const PARTICLE_METRICS: Partial<Record<MetricName, (c: ParticleContext) => Record<string, ProgramInput>>> = {
  // v = -∇F'
  W2: (c) => ({ velocity: velocity(c) }),
  // Fisher–Rao: the rates read F' at the particles
  KL: (c) => ({ firstVariation: firstVariationProgram(c) }),
  WFR: (c) => ({ velocity: velocity(c), firstVariation: firstVariationProgram(c) }),
  // the CG solve reads -∇F' and the matrix-free products (alpha/N) H p
  dab: (c) => ({ velocity: velocity(c), dabProduct: { domain: QUERY, roots: dabProduct(c.flow, c.queryVar), queryVar: c.queryVar } }),
};

/** Programs of each metric on states (beyond the gradient every state flow has). */
export const STATE_METRICS: Partial<Record<MetricName, (flow: FlowIR) => Record<string, ProgramInput>>> = {
  euclid: () => ({}),
  dab: (flow) => ({ dabMatrix: { domain: null, roots: dabMatrix(flow, model(flow), states(flow)) } }),
  KL: (flow) => ({ fisher: { domain: null, roots: fisherMatrix(model(flow), states(flow)) } }),
  W2natural: (flow) => kwngPrograms(flow, model(flow), states(flow)),
};

/** Programs of each scheme beyond its metric's. */
export const SCHEMES: Record<FlowIR['scheme']['name'], (flow: FlowIR) => Record<string, ProgramInput>> = {
  euler: () => ({}),
  // the proximal objective reads F itself
  jko: (flow) => ({ energy: { domain: null, roots: [flow.energy.node] } }),
};

function velocity(c: ParticleContext): ProgramInput {
  return { domain: QUERY, roots: c.velocity, queryVar: c.queryVar };
}

function firstVariationProgram(c: ParticleContext): ProgramInput {
  return { domain: QUERY, roots: [c.firstVariation], queryVar: c.queryVar };
}

function states(flow: FlowIR) {
  return flow.states.filter((v) => v.role === 'state');
}

/** The model a metric on states acts through (lower.ts resolved `on`). */
function model(flow: FlowIR) {
  const m = flow.metric;
  const on = 'on' in m ? m.on : undefined;
  const q = flow.models.find((x) => x.name === on);
  if (!q) throw new Error(`internal: metric ${m.name} without its model`);
  return q;
}

/**
 * dab's matrix-free product on free particles (DESIGN.md, dab "On free
 * particles"): component a at the query point X of
 *   (alpha/N) sum_n' H(X, x_n') p_n',   H(x, x')_ab = d^2 k / dx_a dx'_b,
 * as an expectation over the pseudo-measure CG_MEASURE whose points are
 * (x_n', p_n'), so that each product is one reduction stage. The beta p term
 * is added on the host (runtime/schemes.ts).
 */
function dabProduct(flow: FlowIR, queryVar: VarInfo): Node[] {
  const { x, y, node } = flow.dabKernel!;
  const d = x.dim;
  const alpha = flow.metric.name === 'dab' ? flow.metric.alpha : 0;
  return Array.from({ length: d }, (_, a) => {
    const dxa = derivative(node, x.id, a);
    const body = ir.sum(Array.from({ length: d }, (_, b) => ir.mul(derivative(dxa, y.id, b), ir.pvar(y.id, d + b))));
    const e = ir.expect(CG_MEASURE, y.id, ir.renameVars(body, new Map([[x.id, queryVar.id]])));
    return ir.mul(ir.num(alpha), e);
  });
}
