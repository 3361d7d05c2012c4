// Metrics on states, as a table (DESIGN.md, "Metrics and schemes are
// tables"): each entry turns the Euclidean gradient g = ∇_theta F into the
// direction u of the step theta <- theta - γ u, from the programs its
// compiler entry asked for (compiler/metrics.ts). Formulas: DESIGN.md,
// "Parametric states".
//
//   euclid                 u = g
//   dab(α, β; k)           (β I + α G_k) u = g                 p×p, Cholesky
//   KL(eps)                (G_F + eps I) u = g                 p×p, Cholesky
//   W2natural(ε, λ, M; k)  u = (1/ε)(g − Tᵀ (T Tᵀ + λ ε K + ε C Cᵀ)^† T g)
//                          M×M pseudo-inverse by a symmetric eigendecomposition
//
// The dense solves use ml-matrix (CholeskyDecomposition, and
// EigenvalueDecomposition with assumeSymmetric: Householder tridiagonalisation
// and QL), in float64 on the host whatever the backend.

import { CholeskyDecomposition, EigenvalueDecomposition, Matrix } from 'ml-matrix';
import type { Compiled } from '../compiler/compile.js';
import type { MetricIR } from '../compiler/lower.js';
import { BASIS_MEASURE, BASIS_PAIRS_MEASURE, upperIndex } from '../compiler/parametric.js';
import { error, FlowError } from '../compiler/diagnostics.js';
import type { Backend } from './backend-cpu.js';
import { fillUniform, purposeId } from './rng.js';

/** Eigenvalues below this fraction of the largest are dropped by KWNG's pseudo-inverse (DESIGN.md). */
export const PINV_RTOL = 1e-12;

export interface StateMetricContext {
  compiled: Compiled;
  backend: Backend;
  /** number of state coordinates */
  p: number;
  seed: number;
}

type Direction = (ctx: StateMetricContext, g: Float64Array, n: number) => Promise<Float64Array>;

export const STATE_METRIC_STEPS: Partial<Record<MetricIR['name'], Direction>> = {
  euclid: async (_ctx, g) => g.slice(),
  dab: async (ctx, g) => {
    const m = ctx.compiled.ir.metric as Extract<MetricIR, { name: 'dab' }>;
    if (m.alpha === 0) return g.map((x) => x / m.beta);
    const G = await symmetric(ctx, 'dabMatrix');
    return solveSpd(G.mul(m.alpha).add(Matrix.eye(ctx.p).mul(m.beta)), g, 'dab: beta I + alpha G_k', ctx.compiled.ir.file);
  },
  KL: async (ctx, g) => {
    const m = ctx.compiled.ir.metric as Extract<MetricIR, { name: 'KL' }>;
    const G = await symmetric(ctx, 'fisher');
    return solveSpd(G.add(Matrix.eye(ctx.p).mul(m.eps!)), g, 'KL(eps): the Fisher matrix plus eps I', ctx.compiled.ir.file);
  },
  W2natural: async (ctx, g, n) => kwng(ctx, g, n),
};

/** A closed program whose roots are the upper triangle of a symmetric p×p matrix. */
async function symmetric(ctx: StateMetricContext, program: string): Promise<Matrix> {
  const { p } = ctx;
  const idx = upperIndex(p);
  const out = new Float64Array(idx.length);
  await ctx.backend.run(program, out);
  const G = new Matrix(p, p);
  idx.forEach(([a, b], k) => {
    G.set(a, b, out[k]);
    G.set(b, a, out[k]);
  });
  return G;
}

/** Whether every entry is a finite number (ml-matrix's decompositions fail on NaN with "not symmetric" or an out-of-range read). */
function finite(A: Matrix): boolean {
  for (const row of A.to2DArray()) for (const v of row) if (!Number.isFinite(v)) return false;
  return true;
}

/** The direction when a matrix or gradient is not finite: NaN, which the run reports as a divergence at this step. */
const notFinite = (n: number) => new Float64Array(n).fill(NaN);

function solveSpd(A: Matrix, g: Float64Array, what: string, file: string): Float64Array {
  if (!finite(A) || !g.every(Number.isFinite)) return notFinite(g.length);
  const chol = new CholeskyDecomposition(A);
  // a finite matrix that is not positive definite (a negative alpha, a Fisher matrix that rounding made indefinite): the user's spec, not a bug
  if (!chol.isPositiveDefinite()) throw new FlowError(error(file, undefined, `${what} is not positive definite, so the metric has no direction here; check the metric's parameters (alpha, beta, eps), or try a smaller step`));
  return Float64Array.from(chol.solve(Matrix.columnVector(Array.from(g))).to1DArray());
}

/**
 * The KWNG basis (DESIGN.md, "KWNG basis"): M rows (point, coordinate) of the
 * model. With M ≥ N·d every (n, b) in order; with M ≤ N, M distinct points
 * and a coordinate each; in between, M distinct (n, b) pairs. Drawn from the
 * counter-based RNG (purpose `basis`, counter = step).
 */
export function basisRows(N: number, d: number, M: number, seed: number, step: number): Int32Array {
  const rows = new Int32Array(M);
  if (M >= N * d) {
    for (let m = 0; m < M; m++) rows[m] = m;
    return rows;
  }
  const pool = M <= N ? N : N * d;
  const u = new Float64Array(2 * M);
  fillUniform(u, seed, purposeId('basis'), step);
  // partial Fisher–Yates over the pool, with a sparse swap map
  const swapped = new Map<number, number>();
  for (let m = 0; m < M; m++) {
    const j = m + Math.min(pool - m - 1, Math.floor(u[m] * (pool - m)));
    const pick = swapped.get(j) ?? j;
    swapped.set(j, swapped.get(m) ?? m);
    rows[m] = M <= N ? pick * d + Math.min(d - 1, Math.floor(u[M + m] * d)) : pick;
  }
  return rows;
}

async function kwng(ctx: StateMetricContext, g: Float64Array, n: number): Promise<Float64Array> {
  const m = ctx.compiled.ir.metric as Extract<MetricIR, { name: 'W2natural' }>;
  const st = ctx.backend.state;
  const q = st.extra.get(m.on)!;
  const basis = st.extra.get(BASIS_MEASURE)!;
  const pairs = st.extra.get(BASIS_PAIRS_MEASURE)!;
  const d = q.dim;
  const M = basis.size;
  const { p } = ctx;
  const rows = basisRows(q.size, d, M, ctx.seed, n);
  const B = basis.data;
  B.fill(0);
  for (let k = 0; k < M; k++) {
    const i = Math.floor(rows[k] / d);
    for (let c = 0; c < d; c++) B[k * 2 * d + c] = q.data[i * d + c];
    B[k * 2 * d + d + (rows[k] % d)] = 1;
  }
  const P = pairs.data;
  for (let a = 0; a < M; a++)
    for (let b = 0; b < M; b++) {
      const o = (a * M + b) * 4 * d;
      P.set(B.subarray(a * 2 * d, (a + 1) * 2 * d), o);
      P.set(B.subarray(b * 2 * d, (b + 1) * 2 * d), o + 2 * d);
    }
  const T = new Float64Array(M * p);
  await ctx.backend.run('kwngT', T);
  const KC = new Float64Array(M * M * 2);
  await ctx.backend.run('kwngPairs', KC);
  // A = T Tᵀ + λ ε K + ε C Cᵀ, symmetrised (K and C Cᵀ are symmetric up to rounding)
  const A = new Matrix(M, M);
  for (let a = 0; a < M; a++)
    for (let b = a; b < M; b++) {
      let tt = 0;
      for (let c = 0; c < p; c++) tt += T[a * p + c] * T[b * p + c];
      const ab = (a * M + b) * 2;
      const ba = (b * M + a) * 2;
      const v = tt + m.eps * (m.lambda * 0.5 * (KC[ab] + KC[ba]) + 0.5 * (KC[ab + 1] + KC[ba + 1]));
      A.set(a, b, v);
      A.set(b, a, v);
    }
  const Tg = new Float64Array(M);
  for (let a = 0; a < M; a++) for (let c = 0; c < p; c++) Tg[a] += T[a * p + c] * g[c];
  if (!finite(A) || !Tg.every(Number.isFinite)) return notFinite(p);
  const y = pinvApply(A, Tg);
  const u = new Float64Array(p);
  for (let c = 0; c < p; c++) {
    let s = 0;
    for (let a = 0; a < M; a++) s += T[a * p + c] * y[a];
    u[c] = (g[c] - s) / m.eps;
  }
  return u;
}

/** A^† b for a symmetric A, by its eigendecomposition (eigenvalues below PINV_RTOL of the largest dropped). */
export function pinvApply(A: Matrix, b: Float64Array): Float64Array {
  // Entries near the float64 range (eps = 1e308 in a spec) overflow inside the
  // QL iteration (ml-matrix then fails reading a NaN-sized row): such a matrix
  // is scaled by a power of two first, A^† b = (A/s)^† b / s. Matrices of
  // ordinary size are left exactly as they are (same bits as before).
  let big = 0;
  for (let i = 0; i < A.rows; i++) for (let j = 0; j < A.columns; j++) big = Math.max(big, Math.abs(A.get(i, j)));
  const scale = big > 1e150 || (big > 0 && big < 1e-150) ? 2 ** Math.round(Math.log2(big)) : 1;
  let e: EigenvalueDecomposition;
  try {
    e = new EigenvalueDecomposition(scale === 1 ? A : A.clone().div(scale), { assumeSymmetric: true });
  } catch {
    return new Float64Array(b.length).fill(NaN); // the step's direction is not finite: the run stops with its divergence diagnostic
  }
  const lambda = e.realEigenvalues;
  const V = e.eigenvectorMatrix;
  const top = Math.max(...lambda.map(Math.abs));
  const n = b.length;
  const out = new Float64Array(n);
  for (let k = 0; k < lambda.length; k++) {
    if (!(Math.abs(lambda[k]) > PINV_RTOL * top)) continue;
    let vb = 0;
    for (let i = 0; i < n; i++) vb += V.get(i, k) * b[i];
    const s = vb / lambda[k] / scale;
    for (let i = 0; i < n; i++) out[i] += s * V.get(i, k);
  }
  return out;
}
