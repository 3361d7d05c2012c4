// Wasserstein-2 distances between two point clouds, computed on the host for
// the w2(mu, nu) record item. Pure functions, float64 throughout.
//
// Two methods:
//
// - Exact (exactW2, solveAssignment): between two uniform clouds of the same
//   size n an optimal plan can be taken to be a permutation (Birkhoff), so
//   W2^2 is the mean squared distance of an optimal matching. The matching is
//   found by a shortest-augmenting-path solver (Jonker & Volgenant 1987, in
//   the form of Crouse 2016 that scipy's linear_sum_assignment uses): rows are
//   added one at a time, each by a Dijkstra search over reduced costs
//   C_ij - u_i - v_j >= 0 for a path to a free column, after which the dual
//   potentials u, v are updated so that they stay feasible and the path is
//   flipped. O(n^3) in the worst case; the costs are one dense n×n
//   Float64Array, the only dense matrix in this file (32 MB at n = 2000).
//
// - Entropic (sinkhornW2): for weighted clouds of any sizes, the plan
//   P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps) of entropic optimal transport
//   found by log-domain Sinkhorn iterations on the dual potentials f, g, each
//   a soft-min  f_i = -eps log sum_j b_j exp((g_j - C_ij) / eps)  (and the
//   same for g with the roles exchanged), evaluated as a stabilised
//   log-sum-exp with the costs recomputed from the points on the fly: O(n + m)
//   memory, O(n m) work per iteration. The value is sqrt(<P, C>), the
//   transport cost of the entropic plan without its entropy term, which
//   exceeds exact W2^2 by at most eps * KL(P* | a ⊗ b) (eps log n for two
//   uniform clouds of n points).
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
 * returns col4row. Shortest augmenting paths (Crouse 2016, Algorithm 1 with
 * the tie rule that prefers a free column): for each new row, Dijkstra over
 * the reduced costs from that row until a free column is reached.
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

  // Start: u_i = min_j C_ij, v_j = min_i C_ij - u_i is dual feasible (every
  // reduced cost >= 0); a column is matched to its minimising row when that
  // row is still free (reduced cost 0), then each matched row takes
  // u_i += min over its other columns of the reduced cost, paid for by
  // lowering v of its own column (Jonker & Volgenant's reduction transfer).
  // Only the rows left free are augmented below.
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
    // (i, its cheapest column under the first u) is tight too
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

const MULTISCALE_MIN = Number(process.env.MS_MIN ?? 256);

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
 * its dual potentials. From MULTISCALE_MIN points on, a quarter of each set
 * is matched first (recursively) and its potentials, extended to every
 * column by the c-transform v_j = min_s C_{s j} - u_s, start the full solve:
 * they approximate the optimal ones, so the searches stay short.
 */
function assignPoints(x: Float64Array, y: Float64Array, n: number, d: number): ReturnType<typeof assignDense> {
  const C = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const base = i * n;
    for (let j = 0; j < n; j++) C[base + j] = sqDist(x, i, y, j, d);
  }
  let v0: Float64Array | undefined;
  if (n >= MULTISCALE_MIN) {
    const k = n >> 1;
    const rows = sample(n, k, 0x9e3779b9 ^ n);
    const cols = sample(n, k, 0x85ebca6b ^ n);
    const sub = assignPoints(pick(x, rows, d), pick(y, cols, d), k, d);
    v0 = new Float64Array(n).fill(Infinity);
    for (let s = 0; s < k; s++) {
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
  // clouds are far apart (a translate: ~15x fewer searches at n = 2000).
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
// to a marginal error of STAGE_TOL, at most STAGE_MAX times; over-relaxation
// starts once the error is below SOR_START and its rate steady, with w at
// most SOR_MAX, and is checked over windows of SOR_WINDOW iterations.
const STAGE_TOL = Number(process.env.STAGE_TOL ?? 1e-2);
const STAGE_MAX = Number(process.env.STAGE_MAX ?? 50);
const SOR_START = Number(process.env.SOR_START ?? 1e-3);
const SOR_MAX = Number(process.env.SOR_MAX ?? 1.99);
const AA_DEPTH = Number(process.env.AA_DEPTH ?? 8);
const AA_RESTART = Number(process.env.AA_RESTART ?? 10);
const SOR_WINDOW = Number(process.env.SOR_WINDOW ?? 10);
const SOR_GROWTH = Number(process.env.SOR_GROWTH ?? 1);
const SOR_RECOVER = Number(process.env.SOR_RECOVER ?? 0.25);

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
 * modified Gram-Schmidt on the weighted columns; columns that are (nearly)
 * dependent on the earlier ones get gamma_k = 0.
 */
function leastSquares(cols: Float64Array[], r: Float64Array, w: Float64Array, n: number): Float64Array {
  const K = cols.length;
  const gamma = new Float64Array(K);
  if (K === 0) return gamma;
  const sw = new Float64Array(n);
  for (let i = 0; i < n; i++) sw[i] = Math.sqrt(w[i]);
  const Q: Float64Array[] = [];
  const R = new Float64Array(K * K);
  const used: boolean[] = [];
  for (let k = 0; k < K; k++) {
    const q = new Float64Array(n);
    let norm0 = 0;
    for (let i = 0; i < n; i++) {
      q[i] = cols[k][i] * sw[i];
      norm0 += q[i] * q[i];
    }
    for (let l = 0; l < k; l++) {
      if (!used[l]) continue;
      let dot = 0;
      for (let i = 0; i < n; i++) dot += Q[l][i] * q[i];
      R[l * K + k] = dot;
      for (let i = 0; i < n; i++) q[i] -= dot * Q[l][i];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += q[i] * q[i];
    norm = Math.sqrt(norm);
    used[k] = norm > 1e-10 * Math.sqrt(norm0) && norm > 0;
    R[k * K + k] = norm;
    if (used[k]) for (let i = 0; i < n; i++) q[i] /= norm;
    Q.push(q);
  }
  // gamma = R^-1 Q^T (sw r) over the columns kept
  const qr = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    if (!used[k]) continue;
    let dot = 0;
    for (let i = 0; i < n; i++) dot += Q[k][i] * sw[i] * r[i];
    qr[k] = dot;
  }
  for (let k = K - 1; k >= 0; k--) {
    if (!used[k]) continue;
    let s = qr[k];
    for (let l = k + 1; l < K; l++) if (used[l]) s -= R[k * K + l] * gamma[l];
    gamma[k] = s / R[k * K + k];
  }
  return gamma;
}

/**
 * Entropic W2 by log-domain Sinkhorn (weighted clouds of any sizes): returns
 * sqrt of the transport cost <P, C> of the entropic plan
 * P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps) (not including the entropy
 * term), eps the regularisation in units of squared distance. Matrix-free:
 * O(n + m) memory, O(n m) work per iteration. Stops when the marginal error
 * (L1, relative to the total mass) is below tol (default 1e-9) or after
 * maxIter iterations (default 10000); an iteration is one update of g and
 * one of f.
 *
 * Plain Sinkhorn needs many thousands of iterations at the small eps a W2
 * estimate wants (1e-3 of the mean squared distance), so it is accelerated,
 * leaving its fixed point unchanged:
 *  - eps-scaling: it starts at eps = the squared diameter of the clouds and
 *    halves eps after each iteration down to the eps asked for, the
 *    potentials carried over as a warm start;
 *  - over-relaxation at the final eps: f <- (1 - w) f + w T(g) and the same
 *    for g, T the plain update, with w = 2 / (1 + sqrt(1 - theta)) from the
 *    rate theta observed over the plain iterations (Young's optimal SOR
 *    parameter; Thibault, Chizat, Dossal & Papadakis 2017, "Overrelaxed
 *    Sinkhorn-Knopp algorithm"), raised when the relaxed iterations show
 *    it too small and lowered if they stop converging.
 * The plan returned comes from a plain g update (its column marginal is
 * exact), its row marginal error measured by the f update that follows.
 */
export function sinkhornW2(
  a: Cloud,
  b: Cloud,
  eps: number,
  opts: { tol?: number; maxIter?: number } = {},
): { value: number; iterations: number; marginalError: number } {
  checkPair(a, b);
  if (!(eps > 0) || !Number.isFinite(eps)) throw new Error(`sinkhornW2: eps must be a positive number (got ${eps})`);
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
  // potentials in units of the current eps
  let f = new Float64Array(n);
  let fT = new Float64Array(n); // T(g)
  let g = new Float64Array(m);
  let gT = new Float64Array(m); // T(f)
  const ha = new Float64Array(n); // f + log a
  const hb = new Float64Array(m); // g + log b
  const row = new Float64Array(Math.max(n, m));
  const setHa = (): void => {
    for (let i = 0; i < n; i++) ha[i] = f[i] + la[i];
  };
  const setHb = (): void => {
    for (let j = 0; j < m; j++) hb[j] = g[j] + lb[j];
  };

  let iterations = 0;
  let cur = eps; // the eps that f and g are in units of
  const rescale = (e: number): void => {
    const r = cur / e;
    for (let i = 0; i < n; i++) f[i] *= r;
    for (let j = 0; j < m; j++) g[j] *= r;
    cur = e;
    setHa();
  };

  /**
   * Iterates at eps = e until the plan's marginal error is below stageTol or
   * after budget iterations; returns that error. Plain iterations until the
   * error is small and its rate steady, then over-relaxed ones (see above).
   */
  const run = (e: number, stageTol: number, budget: number): number => {
    rescale(e);
    const invE = 1 / e;
    // Anderson history: differences of iterates and of residuals, oldest first
    const dX: Float64Array[] = [];
    const dR: Float64Array[] = [];
    const xPrev = new Float64Array(n);
    const rPrev = new Float64Array(n);
    const r = new Float64Array(n);
    const best = new Float64Array(n); // G(f) of the best f so far
    let bestErr = Infinity;
    let havePrev = false;
    let err = Infinity;
    for (let used = 0; ; ) {
      // G(f) = T(T(f)): g = T(f) makes the plan (f, g) column-exact, and the
      // update of f that follows measures its row error
      softmin(g, y, m, x, n, d, invE, ha, g, wb, row);
      setHb();
      err = softmin(fT, x, n, y, m, d, invE, hb, f, wa, row);
      iterations++;
      used++;
      if (process.env.DBG && (iterations % Number(process.env.DBG) === 0)) console.log(iterations, e, 'err', err.toExponential(3), 'hist', dX.length);
      if (!(err >= stageTol) || used >= budget) return err; // NaN stops too
      if (err < bestErr) {
        bestErr = err;
        best.set(fT);
      } else if (err > AA_RESTART * bestErr) {
        // Anderson went astray: restart from a plain step at the best iterate
        f.set(best);
        setHa();
        dX.length = 0;
        dR.length = 0;
        havePrev = false;
        continue;
      }
      for (let i = 0; i < n; i++) r[i] = fT[i] - f[i];
      if (havePrev) {
        const nx = dX.length < AA_DEPTH ? new Float64Array(n) : dX.shift()!;
        const nr = dR.length < AA_DEPTH ? new Float64Array(n) : dR.shift()!;
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
      // gamma minimising sum_i a_i (r_i - sum_k gamma_k dR_k,i)^2
      const gamma = leastSquares(dR, r, wa, n);
      for (let i = 0; i < n; i++) {
        let s = f[i] + r[i];
        for (let k = 0; k < gamma.length; k++) s -= gamma[k] * (dX[k][i] + dR[k][i]);
        f[i] = s;
      }
      setHa();
    }
  };

  // eps-scaling down to eps (using at most half of maxIter), then eps itself
  const schedule: number[] = [];
  for (let e = boxDiameter2(a, b) / 2; e > eps && schedule.length < 200; e /= 2) schedule.push(e);
  for (let s = 0; s < schedule.length; s++) {
    const budget = Math.min(STAGE_MAX, Math.floor((maxIter / 2 - iterations) / (schedule.length - s)));
    if (budget >= 1) run(schedule[s], STAGE_TOL, budget);
  }
  const err = run(eps, tol, Math.max(1, maxIter - iterations));
  const invEps = 1 / eps;

  // <P, C> for the plan (f, g), P_ij = exp(f_i + log a_i + g_j + log b_j - C_ij/eps)
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
      if (e > -700) s += Math.exp(e) * c;
    }
    total += s;
  }
  return { value: Math.sqrt(total), iterations, marginalError: err };
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
 * The largest equal-size uniform clouds that w2() matches exactly. Measured
 * (Node 20, one core of this 2-core machine, d = 2 uniform random points):
 * exactW2 takes ~TODO s at n = 1000 and ~TODO s at n = 2000.
 */
export const EXACT_MAX = 2000;

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
