// Parametric flows (DESIGN.md, "Parametric states"): the programs that move
// parameter vectors theta (states) and psi (critics) through push-forward
// models x_n = G(theta, z_n).
//
// Everything here builds IR expressions; the scheduler turns every sum over
// a model's (or a sample's) points into a reduction stage, so no N×N array
// exists. The dense p×p and M×M solves happen on the host (runtime/
// state-metrics.ts).
//
// The Euclidean gradient, symbolically (no tape, no finite differences):
//   g_c = ∂F/∂theta_c (F read directly, model points held fixed)
//       + sum over models q: (1/N) sum_n sum_a J_n[a, c] ∂_a F'(q)(x_n),
//   J_n = ∂G(theta, z_n)/∂theta, F'(q) the first variation in q. The second
// term is the closed expectation E[s ~ z] sum_a ∂_c G_a(theta, s)
// ∂_a F'(q)(G(theta, s)); its inner expectations over q read the point s and
// become buffers over z.

import { derivative, firstVariation, paramDerivative } from './derive.js';
import * as ir from './ir.js';
import type { Node, VarInfo } from './ir.js';
import type { FlowIR, ModelIR, StateIR } from './lower.js';
import type { ProgramInput } from './schedule.js';

/** The pseudo-measure of KWNG's basis rows (X̃_m, e_{i_m}): a point and a one-hot coordinate. */
export const BASIS_MEASURE = '%basis';
/** The pseudo-measure of pairs of basis rows (X̃_m, e_m, X̃_m', e_m'): K and C Cᵀ, entry by entry. */
export const BASIS_PAIRS_MEASURE = '%bpairs';

/** The model's points at a fresh point s of its base sample: G(theta, s). */
function pointsAt(q: ModelIR, s: VarInfo): Node[] {
  return q.points.map((p) => ir.renameVars(p, new Map([[q.z.id, s.id]])));
}

function freshBasePoint(q: ModelIR, name: string): VarInfo {
  return ir.newVar(q.base, q.z.dim, name);
}

/** Jacobian entries ∂G_a/∂(vector coordinate) at the points Gs, for the coordinates of `vectors` in order: J[a][c]. */
function jacobian(Gs: Node[], vectors: StateIR[]): Node[][] {
  return Gs.map((g) => vectors.flatMap((v) => Array.from({ length: v.dim }, (_, c) => paramDerivative(g, v.name, c))));
}

/** True when an expression reads a coordinate of one of the vectors. */
function reads(nodes: Node[], vectors: StateIR[]): boolean {
  const names = new Set(vectors.map((v) => v.name));
  return ir.topoOrder(nodes).some((n) => n.kind === 'param' && names.has(n.name));
}

/**
 * ∇F with respect to the concatenated coordinates of `vectors` (states, or
 * critics), one root per coordinate.
 */
export function vectorGradient(flow: FlowIR, energy: Node, vectors: StateIR[]): Node[] {
  const g: Node[] = vectors.flatMap((v) => Array.from({ length: v.dim }, (_, c) => paramDerivative(energy, v.name, c)));
  for (const q of flow.models) {
    if (!reads(q.points, vectors)) continue;
    const X = ir.newVar(q.name, q.dim, 'X');
    const fv = firstVariation(energy, q.name, X);
    if (ir.isZero(fv)) continue;
    const s = freshBasePoint(q, 's');
    const Gs = pointsAt(q, s);
    const at = new Map<number, readonly Node[]>([[X.id, Gs]]);
    const grad = Array.from({ length: q.dim }, (_, a) => ir.substitute(derivative(fv, X.id, a), at));
    const J = jacobian(Gs, vectors);
    for (let c = 0; c < g.length; c++) {
      const body = ir.sum(grad.map((ga, a) => ir.mul(J[a][c], ga)));
      g[c] = ir.add(g[c], ir.expect(q.base, s.id, body));
    }
  }
  return g;
}

/** Upper triangle (c ≤ c') of a symmetric p×p matrix, row by row: the order of the roots below. */
export function upperIndex(p: number): [number, number][] {
  const out: [number, number][] = [];
  for (let c = 0; c < p; c++) for (let c2 = c; c2 < p; c2++) out.push([c, c2]);
  return out;
}

/**
 * dab on states (Mroueh–Nguyen): G_k = (1/N²) sum_{n,n'} J_nᵀ H(x_n, x_n') J_n',
 * H_ab = ∂²k/∂x_a∂y_b; the inner sum over n' is one buffer per (a, c') over
 * the base sample, the outer sum a closed reduction. Roots: the upper triangle.
 */
export function dabMatrix(flow: FlowIR, q: ModelIR, states: StateIR[]): Node[] {
  const { x, y, node: k } = flow.metricKernel!;
  const d = q.dim;
  const s = freshBasePoint(q, 's');
  const s2 = freshBasePoint(q, "s'");
  const Gs = pointsAt(q, s);
  const Gs2 = pointsAt(q, s2);
  const J = jacobian(Gs, states);
  const J2 = jacobian(Gs2, states);
  const p = J[0]?.length ?? 0;
  const at = new Map<number, readonly Node[]>([
    [x.id, Gs],
    [y.id, Gs2],
  ]);
  const H = Array.from({ length: d }, (_, a) => Array.from({ length: d }, (_, b) => ir.substitute(derivative(derivative(k, x.id, a), y.id, b), at)));
  const inner = Array.from({ length: d }, (_, a) =>
    Array.from({ length: p }, (_, c2) => ir.expect(q.base, s2.id, ir.sum(Array.from({ length: d }, (_, b) => ir.mul(H[a][b], J2[b][c2]))))),
  );
  return upperIndex(p).map(([c, c2]) => ir.expect(q.base, s.id, ir.sum(Array.from({ length: d }, (_, a) => ir.mul(J[a][c], inner[a][c2])))));
}

/** KL(eps) on states: the Fisher matrix (1/N) sum_n s_n s_nᵀ, s_n = ∇_theta log q_theta(x_n) at fixed x_n. Roots: the upper triangle. */
export function fisherMatrix(q: ModelIR, states: StateIR[]): Node[] {
  const { x, node } = q.logdensity!;
  const score = states.flatMap((v) => Array.from({ length: v.dim }, (_, c) => paramDerivative(node, v.name, c)));
  return upperIndex(score.length).map(([c, c2]) => ir.expect(q.name, x.id, ir.mul(score[c], score[c2])));
}

/**
 * KWNG (Arbel et al.; DESIGN.md, W2natural): with basis rows b = (X̃, e) and
 * ∂¹_e k(X̃, y) = sum_i e_i ∂k/∂x_i (X̃, y):
 *   T(b)_c = (1/N) sum_n sum_a J_n[a, c] ∂/∂y_a ∂¹_e k(X̃, x_n)        (program kwngT, over %basis)
 *   K(b, b') = ∂¹_e ∂²_e' k(X̃, X̃')                                     (program kwngPairs, over %bpairs)
 *   (C Cᵀ)(b, b') = (1/N) sum_n sum_j ∂¹_e ∂²_j k(X̃, x_n) ∂¹_e' ∂²_j k(X̃', x_n)
 */
export function kwngPrograms(flow: FlowIR, q: ModelIR, states: StateIR[]): Record<string, ProgramInput> {
  const { x, y, node: k } = flow.metricKernel!;
  const d = q.dim;
  /** ∂¹_e k (X̃, y) as an expression in the components of y */
  const d1 = (Xt: Node[], e: Node[], Y: Node[]): Node => {
    const at = new Map<number, readonly Node[]>([
      [x.id, Xt],
      [y.id, Y],
    ]);
    return ir.sum(e.map((ei, i) => ir.mul(ei, ir.substitute(derivative(k, x.id, i), at))));
  };
  /** ∂¹_e ∂²_j k (X̃, Y) */
  const d12 = (Xt: Node[], e: Node[], Y: Node[], j: number): Node => {
    const at = new Map<number, readonly Node[]>([
      [x.id, Xt],
      [y.id, Y],
    ]);
    return ir.sum(e.map((ei, i) => ir.mul(ei, ir.substitute(derivative(derivative(k, x.id, i), y.id, j), at))));
  };

  const b = ir.newVar(BASIS_MEASURE, 2 * d, 'b');
  const bc = ir.components(b);
  const [Xt, e] = [bc.slice(0, d), bc.slice(d)];
  const s = freshBasePoint(q, 's');
  const Gs = pointsAt(q, s);
  const J = jacobian(Gs, states);
  const p = J[0]?.length ?? 0;
  // ∂/∂y_a of ∂¹_e k(X̃, y) at y = G(theta, s): differentiate in a free y, then substitute
  const Y = ir.newVar('%ky2', d, 'y');
  const d1y = d1(Xt, e, ir.components(Y));
  const grad = Array.from({ length: d }, (_, a) => ir.substitute(derivative(d1y, Y.id, a), new Map([[Y.id, Gs]])));
  const T = Array.from({ length: p }, (_, c) => ir.expect(q.base, s.id, ir.sum(grad.map((ga, a) => ir.mul(J[a][c], ga)))));

  const pr = ir.newVar(BASIS_PAIRS_MEASURE, 4 * d, 'bb');
  const pc = ir.components(pr);
  const [X1, e1, X2, e2] = [pc.slice(0, d), pc.slice(d, 2 * d), pc.slice(2 * d, 3 * d), pc.slice(3 * d)];
  const K = ir.sum(e2.map((ej, j) => ir.mul(ej, d12(X1, e1, X2, j))));
  const s2 = freshBasePoint(q, 's');
  const G2 = pointsAt(q, s2);
  const CC = ir.expect(q.base, s2.id, ir.sum(Array.from({ length: d }, (_, j) => ir.mul(d12(X1, e1, G2, j), d12(X2, e2, G2, j)))));
  return {
    kwngT: { domain: BASIS_MEASURE, roots: T, queryVar: b },
    kwngPairs: { domain: BASIS_PAIRS_MEASURE, roots: [K, CC], queryVar: pr },
  };
}

/** The programs every parametric flow runs: the push of each model, and the gradients of the states and critics. */
export function vectorPrograms(flow: FlowIR): Record<string, ProgramInput> {
  const programs: Record<string, ProgramInput> = {};
  for (const q of flow.models) programs[pushProgram(q.name)] = { domain: q.base, roots: q.points, queryVar: q.z };
  const states = flow.states.filter((v) => v.role === 'state');
  const critics = flow.states.filter((v) => v.role === 'critic');
  if (states.length) programs.gradient = { domain: null, roots: vectorGradient(flow, flow.energy.node, states) };
  if (critics.length) programs.criticGradient = { domain: null, roots: vectorGradient(flow, flow.energy.node, critics) };
  return programs;
}

/** The Jacobian of a model's map in the states, J[a][c] at each point of its base sample, row-major (a, then c): W2² as a loss contracts it on the host. */
export function jacobianProgram(q: ModelIR, states: StateIR[]): ProgramInput {
  return { domain: q.base, roots: jacobian(q.points, states).flat(), queryVar: q.z };
}

export function jacobianProgramName(model: string): string {
  return `jacobian:${model}`;
}

export function pushProgram(model: string): string {
  return `push:${model}`;
}
