// Wasserstein-2 distances between two point clouds, computed on the host for
// the w2(mu, nu) record item. Pure functions, float64 throughout; no imports.
//
// Two methods:
//
// - Exact (exactW2, solveAssignment): between two uniform clouds of the same
//   size n an optimal plan can be taken to be a permutation (Birkhoff), so
//   W2^2 is the mean squared distance of an optimal matching. The matching is
//   found by a shortest-augmenting-path solver (Jonker & Volgenant 1987, in
//   the form of Crouse 2016 that scipy's linear_sum_assignment uses): rows
//   join the matching one at a time, each by a Dijkstra search over the
//   reduced costs C_ij - u_i - v_j >= 0 for a path to a free column, after
//   which the dual potentials u, v are updated (staying feasible) and the
//   path is flipped. O(n^3) in the worst case; the costs are one dense n×n
//   Float64Array, the only dense matrix in this file (32 MB at n = 2000).
//   For point clouds the costs are taken between the centred clouds, and
//   from 256 points on the duals start from those of a matching of half of
//   each cloud (recursively): both leave the optimal matching unchanged and
//   keep the searches short when the clouds differ in place or shape.
//
// - Entropic (sinkhornW2): for weighted clouds of any sizes, the plan
//   P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps) of entropic optimal transport,
//   found by log-domain Sinkhorn iterations on the dual potentials f, g, each
//   a soft-min  f_i = -eps log sum_j b_j exp((g_j - C_ij) / eps)  (and the
//   same for g with the clouds exchanged) evaluated as a stabilised
//   log-sum-exp with the costs recomputed from the points: O(n + m) memory,
//   O(n m) work per iteration, accelerated by eps-scaling and Anderson
//   acceleration. The value is sqrt(<P, C>), the transport cost of the
//   entropic plan without its entropy term; for two uniform clouds of n
//   points W2^2 <= <P, C> <= W2^2 + eps log n.
//
// w2() chooses: exact when both clouds are uniform, of equal size and at most
// EXACT_MAX points, else Sinkhorn with defaultSinkhornEps.

/** Points: row-major Float64Array, n rows of dimension d. */
export interface Cloud {
  points: Float64Array;
  n: number;
  d: number;
  /** optional weights summing to 1; uniform when absent */
  weights?: Float64Array;
}

function checkCloud(c: Cloud, what: string): void {
  if (!Number.isInteger(c.n) || c.n < 1) throw new Error(`${what}: a cloud needs at least one point (n = ${c.n})`);
  if (!Number.isInteger(c.d) || c.d < 1) throw new Error(`${what}: bad dimension d = ${c.d}`);
  if (c.points.length < c.n * c.d) {
    throw new Error(`${what}: ${c.points.length} coordinates for ${c.n} points of dimension ${c.d}`);
  }
  if (c.weights !== undefined && c.weights.length !== c.n) {
    throw new Error(`${what}: ${c.weights.length} weights for ${c.n} points`);
  }
}

function checkPair(a: Cloud, b: Cloud): void {
  checkCloud(a, 'first cloud');
  checkCloud(b, 'second cloud');
  if (a.d !== b.d) throw new Error(`W2 between clouds of dimensions ${a.d} and ${b.d}`);
}

// ---------------------------------------------------------------------------
// Exact: the linear assignment problem

/**
 * Minimum-cost perfect matching of a dense n×n cost matrix C (row-major):
 * col4row, with optimal dual potentials u, v (C_ij >= u_i + v_j, with
 * equality on the matching). Shortest augmenting paths (Crouse 2016,
 * Algorithm 1, with the tie rule that prefers a free column): for each free
 * row, Dijkstra over the reduced costs from that row until a free column is
 * reached. v0, when given, are column potentials to start from (a guess at
 * the optimal v; any values are correct, good ones are fast).
 */
function assignDense(n: number, C: Float64Array, v0?: Float64Array): { col4row: Int32Array; u: Float64Array; v: Float64Array } {
  const u = new Float64Array(n); // row potentials
  const v = new Float64Array(n); // column potentials
  const spc = new Float64Array(n); // shortest path cost of each settled column, this search
  const path = new Int32Array(n); // row preceding each settled column on its shortest path
  const col4row = new Int32Array(n).fill(-1);
  const row4col = new Int32Array(n).fill(-1);
  const rowsSeen = new Int32Array(n); // rows settled in this search (SR), in order
  const colsSeen = new Int32Array(n); // columns settled in this search (SC)

  // Start: u_i = min_j C_ij - v0_j (v0 = 0 when not given), then
  // v_j = min_i C_ij - u_i, is dual feasible (every reduced cost >= 0); a
  // column is matched to its minimising row when that row is still free
  // (reduced cost 0), then a free row to its minimising column under v0 if
  // still free and still tight; then each matched row takes u_i += min over
  // its other columns of the reduced cost, paid for by lowering v of its own
  // column (Jonker & Volgenant's reduction transfer). Only the rows left
  // free are augmented below.
  const argmin = new Int32Array(n);
  const rowArgmin = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const base = i * n;
    let mu = Infinity;
    let arg = -1;
    for (let j = 0; j < n; j++) {
      const c = v0 ? C[base + j] - v0[j] : C[base + j];
      if (c < mu) {
        mu = c;
        arg = j;
      }
    }
    u[i] = mu === Infinity ? 0 : mu; // a row of NaN / infinite costs: the searches report it
    rowArgmin[i] = arg;
  }
  v.fill(Infinity);
  for (let i = 0; i < n; i++) {
    const base = i * n;
    const ui = u[i];
    for (let j = 0; j < n; j++) {
      const r = C[base + j] - ui;
      if (r < v[j]) {
        v[j] = r;
        argmin[j] = i;
      }
    }
  }
  for (let j = n - 1; j >= 0; j--) {
    if (v[j] === Infinity) {
      v[j] = 0;
      continue;
    }
    const i = argmin[j];
    if (col4row[i] < 0) {
      col4row[i] = j;
      row4col[j] = i;
    }
  }
  for (let i = 0; i < n; i++) {
    // (i, its cheapest column under v0) is tight unless rounding says otherwise
    const j = rowArgmin[i];
    if (col4row[i] < 0 && j >= 0 && row4col[j] < 0 && C[i * n + j] - u[i] - v[j] === 0) {
      col4row[i] = j;
      row4col[j] = i;
    }
  }
  for (let i = 0; i < n; i++) {
    const j1 = col4row[i];
    if (j1 < 0) continue;
    const base = i * n;
    const ui = u[i];
    let mu = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === j1) continue;
      const r = C[base + j] - ui - v[j];
      if (r < mu) mu = r;
    }
    if (mu > 0 && mu !== Infinity) {
      u[i] += mu;
      v[j1] -= mu;
    }
  }

  // The search keeps the unsettled columns first in `cols`, with their
  // tentative distances and potentials in the same order (dist, vr), so that
  // the inner loop gathers only the cost; a column settles by swapping it to
  // the end of the unsettled part.
  const cols = new Int32Array(n);
  const dist = new Float64Array(n);
  const vr = new Float64Array(n);
  const from = new Int32Array(n); // row preceding each unsettled column on its shortest path
  for (let cur = 0; cur < n; cur++) {
    if (col4row[cur] >= 0) continue;
    {
      // the free row's potential: the least reduced cost over its columns
      const base = cur * n;
      let mu = Infinity;
      for (let j = 0; j < n; j++) {
        const r = C[base + j] - v[j];
        if (r < mu) mu = r;
      }
      u[cur] = mu === Infinity ? 0 : mu;
    }
    for (let k = 0; k < n; k++) {
      cols[k] = k;
      vr[k] = v[k];
    }
    dist.fill(Infinity);
    let left = n;
    let nr = 0;
    let nc = 0;
    let minVal = 0;
    let i = cur;
    let sink = -1;
    while (sink < 0) {
      rowsSeen[nr++] = i;
      const base = i * n;
      const off = minVal - u[i];
      let lowest = Infinity;
      let index = -1;
      for (let k = 0; k < left; k++) {
        const r = off + C[base + cols[k]] - vr[k];
        let s = dist[k];
        if (r < s) {
          from[k] = i;
          dist[k] = s = r;
        }
        if (s < lowest || (s === lowest && row4col[cols[k]] < 0)) {
          lowest = s;
          index = k;
        }
      }
      if (index < 0 || lowest === Infinity) {
        throw new Error('assignment: no finite-cost perfect matching (are some costs NaN or infinite?)');
      }
      minVal = lowest;
      const j = cols[index];
      spc[j] = lowest;
      path[j] = from[index];
      if (row4col[j] < 0) sink = j;
      else i = row4col[j];
      colsSeen[nc++] = j;
      left--;
      cols[index] = cols[left];
      dist[index] = dist[left];
      vr[index] = vr[left];
      from[index] = from[left];
    }
    // dual update: keeps every reduced cost >= 0 and those on the tree at 0
    u[cur] += minVal;
    for (let k = 1; k < nr; k++) {
      const r = rowsSeen[k];
      u[r] += minVal - spc[col4row[r]];
    }
    for (let k = 0; k < nc; k++) {
      const j = colsSeen[k];
      v[j] -= minVal - spc[j];
    }
    // flip the augmenting path
    let j = sink;
    for (;;) {
      const r = path[j];
      row4col[j] = r;
      const next = col4row[r];
      col4row[r] = j;
      j = next;
      if (r === cur) break;
    }
  }
  return { col4row, u, v };
}

/**
 * The optimal assignment itself: perm[i] = column matched to row i, for a
 * dense n×n cost given as a function (i, j) => cost or as a row-major array
 * of n*n costs. Minimises sum_i cost(i, perm[i]).
 */
export function solveAssignment(n: number, cost: ((i: number, j: number) => number) | ArrayLike<number>): Int32Array {
  if (!Number.isInteger(n) || n < 0) throw new Error(`assignment: bad size ${n}`);
  let C: Float64Array;
  if (typeof cost === 'function') {
    C = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) C[i * n + j] = cost(i, j);
  } else {
    if (cost.length !== n * n) throw new Error(`assignment: ${cost.length} costs for an ${n}×${n} problem`);
    C = cost instanceof Float64Array ? cost : Float64Array.from(cost);
  }
  return assignDense(n, C).col4row;
}

function sqDist(x: Float64Array, i: number, y: Float64Array, j: number, d: number): number {
  let s = 0;
  const xo = i * d;
  const yo = j * d;
  for (let k = 0; k < d; k++) {
    const t = x[xo + k] - y[yo + k];
    s += t * t;
  }
  return s;
}

function centred(p: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let k = 0; k < d; k++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += p[i * d + k];
    mean /= n;
    for (let i = 0; i < n; i++) out[i * d + k] = p[i * d + k] - mean;
  }
  return out;
}

const MULTISCALE_MIN = 256;

/** a fixed pseudo-random choice of k of n indices (xorshift32, partial Fisher-Yates) */
function sample(n: number, k: number, seed: number): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  let s = seed >>> 0 || 1;
  for (let i = 0; i < k; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const r = i + (s % (n - i));
    const t = idx[i];
    idx[i] = idx[r];
    idx[r] = t;
  }
  return idx.slice(0, k);
}

function pick(p: Float64Array, idx: Int32Array, d: number): Float64Array {
  const out = new Float64Array(idx.length * d);
  for (let s = 0; s < idx.length; s++) for (let k = 0; k < d; k++) out[s * d + k] = p[idx[s] * d + k];
  return out;
}

/**
 * The optimal matching of two point sets of size n (squared distance), with
 * its dual potentials. From MULTISCALE_MIN points on, half of each set (a
 * fixed pseudo-random half) is matched first, recursively, and its
 * potentials, extended to every column by the c-transform
 * v_j = min_s C_sj - u_s, start the full solve: they approximate the optimal
 * ones, so the searches stay short (for two uniform clouds as fast as
 * without; 4-7x faster at n = 2000 when the clouds differ in shape).
 */
function assignPoints(x: Float64Array, y: Float64Array, n: number, d: number): ReturnType<typeof assignDense> {
  let sub: ReturnType<typeof assignDense> | undefined;
  let rows: Int32Array | undefined;
  if (n >= MULTISCALE_MIN) {
    // first, so that its cost matrix is garbage before this one is allocated
    const k = n >> 1;
    rows = sample(n, k, 0x9e3779b9 ^ n);
    const cols = sample(n, k, 0x85ebca6b ^ n);
    sub = assignPoints(pick(x, rows, d), pick(y, cols, d), k, d);
  }
  const C = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const base = i * n;
    for (let j = 0; j < n; j++) C[base + j] = sqDist(x, i, y, j, d);
  }
  let v0: Float64Array | undefined;
  if (sub && rows) {
    v0 = new Float64Array(n).fill(Infinity);
    for (let s = 0; s < rows.length; s++) {
      const base = rows[s] * n;
      const us = sub.u[s];
      for (let j = 0; j < n; j++) {
        const r = C[base + j] - us;
        if (r < v0[j]) v0[j] = r;
      }
    }
  }
  return assignDense(n, C, v0);
}

/**
 * Exact W2 (the distance, sqrt of the optimal mean squared cost) between two
 * equal-size uniform clouds, via an optimal assignment (squared Euclidean
 * cost). Throws if sizes differ or weights are given.
 */
export function exactW2(a: Cloud, b: Cloud): number {
  checkPair(a, b);
  if (a.weights !== undefined || b.weights !== undefined) {
    throw new Error('exactW2: weighted clouds are not supported (use sinkhornW2)');
  }
  if (a.n !== b.n) throw new Error(`exactW2: clouds of different sizes (${a.n} and ${b.n}); use sinkhornW2`);
  const { n, d } = a;
  const x = a.points;
  const y = b.points;
  // The costs are taken between the centred clouds: |x - y|^2 and
  // |(x - mean x) - (y - mean y)|^2 differ by a function of x plus a function
  // of y, so they have the same optimal matchings, but the centred costs
  // start the solver's dual potentials much nearer their optimum when the
  // clouds are far apart (for a translate, ~15x less search work alone).
  const xc = centred(x, n, d);
  const yc = centred(y, n, d);
  const perm = assignPoints(xc, yc, n, d).col4row;
  let s = 0;
  for (let i = 0; i < n; i++) s += sqDist(x, i, y, perm[i], d);
  return Math.sqrt(s / n);
}

// ---------------------------------------------------------------------------
// Entropic: log-domain Sinkhorn

/** log of the normalised weights (uniform when absent); -Infinity for a zero weight */
function logWeights(c: Cloud): Float64Array {
  const out = new Float64Array(c.n);
  const w = c.weights;
  if (w === undefined) {
    out.fill(-Math.log(c.n));
    return out;
  }
  let total = 0;
  for (let i = 0; i < c.n; i++) {
    const wi = w[i];
    if (!(wi >= 0) || !Number.isFinite(wi)) throw new Error(`weights must be finite and >= 0 (weight ${i} is ${wi})`);
    total += wi;
  }
  if (!(total > 0)) throw new Error('weights sum to zero');
  const lt = Math.log(total);
  for (let i = 0; i < c.n; i++) out[i] = Math.log(w[i]) - lt;
  return out;
}

/**
 * Terms more than LSE_CUT below the largest are left out of a log-sum-exp:
 * each is below e^-50 ≈ 2e-22 of the sum, so dropping them changes it by
 * less than m·2e-22 relatively — nothing at float64 precision for clouds of
 * up to a million points — and at small eps they are most of the terms,
 * which saves most of the calls to Math.exp.
 */
const LSE_CUT = 50;

/**
 * -log sum_j exp(h_j - |x_i - y_j|^2 / eps), stabilised by the largest
 * term (two passes over the row; `row` is scratch of length ny).
 */
function lseStable(
  i: number,
  x: Float64Array,
  y: Float64Array,
  ny: number,
  d: number,
  invEps: number,
  h: Float64Array,
  row: Float64Array,
): number {
  let mx = -Infinity;
  const xo = i * d;
  for (let j = 0; j < ny; j++) {
    let c = 0;
    const yo = j * d;
    for (let k = 0; k < d; k++) {
      const t = x[xo + k] - y[yo + k];
      c += t * t;
    }
    const s = h[j] - c * invEps;
    row[j] = s;
    if (s > mx) mx = s;
  }
  const cut = mx - LSE_CUT;
  let sum = 0;
  for (let j = 0; j < ny; j++) {
    const s = row[j];
    if (s > cut) sum += Math.exp(s - mx);
  }
  return -(mx + Math.log(sum));
}

const FAST_CUT = -(LSE_CUT + 10);
const FAST_MIN_SUM = Math.exp(-10);

/**
 * The soft-min half step, in units of eps: for each point i of x,
 *   out_i = -log sum_j exp(h_j - |x_i - y_j|^2 / eps)
 * with the costs recomputed from the points. Returns
 * sum_i w_i |exp(prev_i - out_i) - 1|: with prev the current potential, the
 * L1 error of the x-marginal of the current plan.
 *
 * The terms are shifted by prev_i, which near convergence makes their sum
 * about 1, so one pass does: it is kept when the sum is finite and at least
 * e^-10 (then the terms below e^-60 it leaves out are below e^-50 of it);
 * otherwise (far from convergence) the row is redone by lseStable.
 */
function softmin(
  out: Float64Array,
  x: Float64Array,
  nx: number,
  y: Float64Array,
  ny: number,
  d: number,
  invEps: number,
  h: Float64Array,
  prev: Float64Array,
  w: Float64Array,
  row: Float64Array,
): number {
  let err = 0;
  for (let i = 0; i < nx; i++) {
    const p = prev[i];
    let sum = 0;
    if (d === 2) {
      const x0 = x[2 * i];
      const x1 = x[2 * i + 1];
      for (let j = 0; j < ny; j++) {
        const t0 = x0 - y[2 * j];
        const t1 = x1 - y[2 * j + 1];
        const s = h[j] + p - (t0 * t0 + t1 * t1) * invEps;
        if (s > FAST_CUT) sum += Math.exp(s);
      }
    } else if (d === 1) {
      const x0 = x[i];
      for (let j = 0; j < ny; j++) {
        const t0 = x0 - y[j];
        const s = h[j] + p - t0 * t0 * invEps;
        if (s > FAST_CUT) sum += Math.exp(s);
      }
    } else {
      const xo = i * d;
      for (let j = 0; j < ny; j++) {
        let c = 0;
        const yo = j * d;
        for (let k = 0; k < d; k++) {
          const t = x[xo + k] - y[yo + k];
          c += t * t;
        }
        const s = h[j] + p - c * invEps;
        if (s > FAST_CUT) sum += Math.exp(s);
      }
    }
    const o = sum >= FAST_MIN_SUM && sum < Infinity ? p - Math.log(sum) : lseStable(i, x, y, ny, d, invEps, h, row);
    out[i] = o;
    const wi = w[i];
    if (wi > 0) err += wi * Math.abs(Math.expm1(p - o));
  }
  return err;
}

// Sinkhorn's acceleration (see sinkhornW2): each eps-scaling stage iterates
// to a marginal error of STAGE_TOL, at most STAGE_MAX times; Anderson
// acceleration keeps the last AA_DEPTH steps, and restarts from the best
// iterate when the error grows AA_RESTART-fold past the best.
const STAGE_TOL = 1e-2;
const STAGE_MAX = 100;
const AA_DEPTH = Number(process.env.SK_DEPTH ?? 32);
const AA_RESTART = Number(process.env.SK_RESTART ?? 10);

/** the squared diagonal of the box around both clouds: an upper bound on every cost */
function boxDiameter2(a: Cloud, b: Cloud): number {
  const { d } = a;
  let s = 0;
  for (let k = 0; k < d; k++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const c of [a, b]) {
      for (let i = 0; i < c.n; i++) {
        const v = c.points[i * d + k];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    s += (hi - lo) ** 2;
  }
  return s;
}

/**
 * The gamma minimising sum_i w_i (r_i - sum_k gamma_k cols[k]_i)^2, by
 * modified Gram-Schmidt on the weighted columns (Q: scratch, at least as many
 * arrays of length n as columns); a column (nearly) dependent on the earlier
 * ones gets gamma_k = 0.
 */
function leastSquares(cols: Float64Array[], r: Float64Array, sw: Float64Array, n: number, Q: Float64Array[]): Float64Array {
  const K = cols.length;
  const gamma = new Float64Array(K);
  const R = new Float64Array(K * K);
  const kept = new Uint8Array(K);
  for (let k = 0; k < K; k++) {
    const q = Q[k];
    const c = cols[k];
    let norm0 = 0;
    for (let i = 0; i < n; i++) {
      const t = c[i] * sw[i];
      q[i] = t;
      norm0 += t * t;
    }
    for (let l = 0; l < k; l++) {
      if (!kept[l]) continue;
      const ql = Q[l];
      let dot = 0;
      for (let i = 0; i < n; i++) dot += ql[i] * q[i];
      R[l * K + k] = dot;
      for (let i = 0; i < n; i++) q[i] -= dot * ql[i];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += q[i] * q[i];
    norm = Math.sqrt(norm);
    if (!(norm > 1e-10 * Math.sqrt(norm0))) continue;
    kept[k] = 1;
    R[k * K + k] = norm;
    for (let i = 0; i < n; i++) q[i] /= norm;
  }
  for (let k = K - 1; k >= 0; k--) {
    if (!kept[k]) continue;
    const q = Q[k];
    let s = 0;
    for (let i = 0; i < n; i++) s += q[i] * sw[i] * r[i];
    for (let l = k + 1; l < K; l++) if (kept[l]) s -= R[k * K + l] * gamma[l];
    gamma[k] = s / R[k * K + k];
  }
  return gamma;
}

export interface SinkhornPotentials {
  f: Float64Array;
  g: Float64Array;
}

/**
 * Entropic W2 by log-domain Sinkhorn (weighted clouds of any sizes): returns
 * sqrt of the transport cost <P, C> of the entropic plan
 * P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps) (not including the entropy
 * term), eps the regularisation in units of squared distance. Matrix-free:
 * O(n + m) memory (about 70 n + 3 m numbers), never an n×m array, and
 * O(n m) work per iteration. Stops when the marginal error (L1, relative to
 * the total mass) is below tol (default 1e-9) or after maxIter iterations
 * (default 10000); an iteration is one update of g and one of f.
 *
 * The updates are the plain symmetric pair g <- T_b(f), f <- T_a(g) with
 *   T_b(f)_j = -eps log sum_i a_i exp((f_i - C_ij) / eps)
 * (and T_a the same with the roles of the clouds exchanged), so that each
 * iterate's plan (f, T_b(f)) has exact column sums and the f update that
 * follows measures its row error exactly: the plan returned is always one
 * whose marginal error was measured. Plain iterations need many thousands of
 * steps at the small eps a W2 estimate wants, so two standard accelerations,
 * which leave the fixed point unchanged, are applied:
 *  - eps-scaling: eps starts at the squared diameter of the clouds and halves
 *    down to the eps asked for, each stage iterated to a marginal error of
 *    1e-2 (at most 100 times, and half of maxIter in all), the potentials
 *    carried over as a warm start;
 *  - Anderson acceleration (type II, depth 32) of the map f -> T_a(T_b(f)),
 *    with the residuals weighted by a; it falls back to a plain step from
 *    the best iterate whenever the error grows tenfold past the best.
 *    Over-relaxation was tried first: its parameter has to stay well below
 *    its optimum at small eps, and it left the near-permutation plans of
 *    small clouds (eps below the squared spacing of the points) unconverged
 *    after 10000 iterations where Anderson needs a few hundred.
 */
export function sinkhornW2(
  a: Cloud,
  b: Cloud,
  eps: number,
  opts: { tol?: number; maxIter?: number; init?: SinkhornPotentials } = {},
): { value: number; iterations: number; marginalError: number; potentials: SinkhornPotentials } {
  checkPair(a, b);
  if (!(eps > 0) || !Number.isFinite(eps)) throw new Error(`sinkhornW2: eps must be a positive number (got ${eps})`);
  const init = opts.init;
  const tol = opts.tol ?? 1e-9;
  const maxIter = opts.maxIter ?? 10000;
  if (!(maxIter >= 1)) throw new Error(`sinkhornW2: maxIter must be at least 1 (got ${maxIter})`);
  const n = a.n;
  const m = b.n;
  const d = a.d;
  const x = a.points;
  const y = b.points;
  const la = logWeights(a);
  const lb = logWeights(b);
  const wa = la.map(Math.exp);
  const wb = lb.map(Math.exp);
  const swa = wa.map(Math.sqrt);
  // potentials in units of the current eps
  const f = new Float64Array(n);
  const fT = new Float64Array(n); // T_a(g)
  const g = new Float64Array(m);
  const ha = new Float64Array(n); // f + log a
  const hb = new Float64Array(m); // g + log b
  const row = new Float64Array(Math.max(n, m));
  const setHa = (): void => {
    for (let i = 0; i < n; i++) ha[i] = f[i] + la[i];
  };
  const setHb = (): void => {
    for (let j = 0; j < m; j++) hb[j] = g[j] + lb[j];
  };
  // Anderson's history and scratch, reused by every stage
  const dX: Float64Array[] = [];
  const dR: Float64Array[] = [];
  const spare: Float64Array[] = [];
  const Q = Array.from({ length: AA_DEPTH }, () => new Float64Array(n));
  const xPrev = new Float64Array(n);
  const rPrev = new Float64Array(n);
  const r = new Float64Array(n);
  const best = new Float64Array(n);

  let iterations = 0;
  let cur = eps; // the eps that f and g are in units of

  /** iterates at eps = e until the marginal error is below stageTol or budget runs out; returns it */
  const run = (e: number, stageTol: number, budget: number, trace = false): number => {
    const scale = cur / e;
    for (let i = 0; i < n; i++) f[i] *= scale;
    for (let j = 0; j < m; j++) g[j] *= scale;
    cur = e;
    setHa();
    const invE = 1 / e;
    spare.push(...dX.splice(0), ...dR.splice(0));
    let havePrev = false;
    let bestErr = Infinity;
    for (let used = 0; ; ) {
      softmin(g, y, m, x, n, d, invE, ha, g, wb, row);
      setHb();
      const err = softmin(fT, x, n, y, m, d, invE, hb, f, wa, row);
      iterations++;
      used++;
      if (trace && process.env.SK_DEBUG) console.log(used, err);
      // (f, g) is the plan: exact column sums, row error err
      if (!(err >= stageTol) || used >= budget) return err; // NaN stops too
      if (err < bestErr) {
        bestErr = err;
        best.set(fT);
      } else if (err > AA_RESTART * bestErr) {
        // gone astray: a plain step from the best iterate, and a fresh history
        f.set(best);
        setHa();
        spare.push(...dX.splice(0), ...dR.splice(0));
        havePrev = false;
        continue;
      }
      for (let i = 0; i < n; i++) r[i] = fT[i] - f[i];
      if (havePrev) {
        const nx = dX.length < AA_DEPTH ? (spare.pop() ?? new Float64Array(n)) : dX.shift()!;
        const nr = dR.length < AA_DEPTH ? (spare.pop() ?? new Float64Array(n)) : dR.shift()!;
        for (let i = 0; i < n; i++) {
          nx[i] = f[i] - xPrev[i];
          nr[i] = r[i] - rPrev[i];
        }
        dX.push(nx);
        dR.push(nr);
      }
      xPrev.set(f);
      rPrev.set(r);
      havePrev = true;
      // f <- f + r - sum_k gamma_k (dX_k + dR_k), gamma fitting r by the dR
      const gamma = leastSquares(dR, r, swa, n, Q);
      for (let i = 0; i < n; i++) {
        let s = f[i] + r[i];
        for (let k = 0; k < gamma.length; k++) s -= gamma[k] * (dX[k][i] + dR[k][i]);
        f[i] = s;
      }
      setHa();
    }
  };

  let err = NaN;
  let warm = false;
  if (init !== undefined) {
    const invEps = 1 / eps;
    for (let i = 0; i < n; i++) f[i] = init.f[i] * invEps;
    for (let j = 0; j < m; j++) g[j] = init.g[j] * invEps;
    if (process.env.SK_A) {
      for (let j = 0; j < m; j++) hb[j] = g[j] + lb[j];
      const e0 = softmin(fT, x, n, y, m, d, invEps, hb, f, wa, row);
      f.set(fT);
      console.log('A: row err of init', e0);
    }
    cur = eps;
    err = run(eps, tol, maxIter, true);
    warm = true;
    if (process.env.SK_DEBUG) console.log('warm', iterations, err);
  }
  if (!warm) {
    f.fill(0);
    g.fill(0);
    const schedule: number[] = [];
    for (let e = boxDiameter2(a, b) / 2; e > eps && schedule.length < 200; e /= 2) schedule.push(e);
    cur = schedule.length > 0 ? schedule[0] : eps;
    for (let s = 0; s < schedule.length; s++) {
      const budget = Math.min(STAGE_MAX, Math.floor((maxIter / 2 - iterations) / (schedule.length - s)));
      if (budget >= 1) { const it0 = iterations; const e0 = run(schedule[s], STAGE_TOL, budget); if (process.env.SK_DEBUG) console.log('stage', schedule[s], iterations - it0, e0); }
    }
    const it0 = iterations;
    err = run(eps, tol, Math.max(1, maxIter - iterations));
    if (process.env.SK_DEBUG) console.log('final stage', iterations - it0, err);
  }

  // <P, C> for the plan (f, g), P_ij = exp(f_i + log a_i + g_j + log b_j - C_ij/eps)
  const invEps = 1 / eps;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const ri = ha[i];
    if (ri === -Infinity) continue;
    const xo = i * d;
    let s = 0;
    for (let j = 0; j < m; j++) {
      let c = 0;
      const yo = j * d;
      for (let k = 0; k < d; k++) {
        const t = x[xo + k] - y[yo + k];
        c += t * t;
      }
      const e = ri + hb[j] - c * invEps;
      if (e > -745) s += Math.exp(e) * c;
    }
    total += s;
  }
  const pf = new Float64Array(n);
  const pg = new Float64Array(m);
  for (let i = 0; i < n; i++) pf[i] = f[i] * eps;
  for (let j = 0; j < m; j++) pg[j] = g[j] * eps;
  return { value: Math.sqrt(total), iterations, marginalError: err, potentials: { f: pf, g: pg } };
}

/**
 * The default eps for a pair of clouds: 1e-3 times the mean squared distance
 * between the points of a and b (unweighted; all pairs when there are at most
 * 1000, else 1000 pairs chosen deterministically), rounded to 2 significant
 * digits so it prints cleanly in a column name. 1e-3 when every sampled pair
 * is at distance 0.
 */
export function defaultSinkhornEps(a: Cloud, b: Cloud): number {
  checkPair(a, b);
  const { d } = a;
  const n = a.n;
  const m = b.n;
  const PAIRS = 1000;
  let sum = 0;
  let count = 0;
  if (n * m <= PAIRS) {
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) sum += sqDist(a.points, i, b.points, j, d);
    count = n * m;
  } else {
    // rows evenly spread, columns by the golden-ratio (Weyl) sequence
    const phi = (Math.sqrt(5) - 1) / 2;
    for (let k = 0; k < PAIRS; k++) {
      const i = Math.min(n - 1, Math.floor(((k + 0.5) * n) / PAIRS));
      const j = Math.min(m - 1, Math.floor((((k + 1) * phi) % 1) * m));
      sum += sqDist(a.points, i, b.points, j, d);
    }
    count = PAIRS;
  }
  const eps = (1e-3 * sum) / count;
  if (!(eps > 0)) return 1e-3;
  return Number(eps.toPrecision(2));
}

/**
 * The largest equal-size uniform clouds that w2() matches exactly (the cost
 * matrix is 8 n^2 bytes: 72 MB at 3000). Measured with Node 20 on one core
 * of a shared 2-core machine, d = 2: exactW2 of two uniform random clouds
 * takes 0.15-0.3 s at n = 1000, 0.9-1.7 s at n = 2000 and ~4 s at n = 3000
 * (~8 s at 4000), and about the same for clouds far apart or of different
 * shapes (uniform vs a shifted gaussian, two clusters vs one: ~1 s at
 * 2000). Sinkhorn at the default eps is slower still (13-14 s at n = m = 2000),
 * so exact is used as far as it stays within a few seconds.
 */
export const EXACT_MAX = 3000;

/**
 * W2 between two clouds the way a record item computes it: exact when both
 * are uniform, of equal size and n <= EXACT_MAX, else Sinkhorn with
 * defaultSinkhornEps. Returns the value and which method ran (with its eps).
 */
export function w2(
  a: Cloud,
  b: Cloud,
):
  | { value: number; method: 'exact' }
  | { value: number; method: 'sinkhorn'; eps: number; iterations: number; marginalError: number } {
  checkPair(a, b);
  if (a.weights === undefined && b.weights === undefined && a.n === b.n && a.n <= EXACT_MAX) {
    return { value: exactW2(a, b), method: 'exact' };
  }
  const eps = defaultSinkhornEps(a, b);
  const r = sinkhornW2(a, b, eps);
  return { value: r.value, method: 'sinkhorn', eps, iterations: r.iterations, marginalError: r.marginalError };
}
