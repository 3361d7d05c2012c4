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
//   acceleration; or warm started from the potentials of an earlier call
//   (a record step of the same run) and finished by Newton steps on a
//   sparse Hessian. The value is sqrt(<P, C>), the transport cost of the
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
  // coordinates so large (~1e154 and up) that a squared distance overflows: W2 is not representable, say so as Infinity
  let top = 0;
  for (const c of [xc, yc]) for (let k = 0; k < c.length; k++) top = Math.max(top, Math.abs(c[k]));
  if (!Number.isFinite(4 * d * top * top)) return Infinity;
  const perm = assignPoints(xc, yc, n, d).col4row;
  let s = 0;
  for (let i = 0; i < n; i++) s += sqDist(x, i, y, perm[i], d);
  return Math.sqrt(s / n);
}

/**
 * The optimal matching itself, for W2² as a loss (transport-loss.ts): perm[i]
 * = the point of b matched to point i of a, and W2² = (1/n) sum_i
 * |a_i - b_perm[i]|^2 (Infinity, with no matching, when squared distances
 * overflow). Equal-size uniform clouds only, like exactW2.
 */
export function exactPlan(a: Cloud, b: Cloud): { value2: number; perm: Int32Array | null } {
  checkPair(a, b);
  if (a.weights !== undefined || b.weights !== undefined || a.n !== b.n) throw new Error('exactPlan: two uniform clouds of the same size');
  const { n, d } = a;
  const xc = centred(a.points, n, d);
  const yc = centred(b.points, n, d);
  let top = 0;
  for (const c of [xc, yc]) for (let k = 0; k < c.length; k++) top = Math.max(top, Math.abs(c[k]));
  if (!Number.isFinite(4 * d * top * top)) return { value2: Infinity, perm: null };
  const perm = assignPoints(xc, yc, n, d).col4row;
  let s = 0;
  for (let i = 0; i < n; i++) s += sqDist(a.points, i, b.points, perm[i], d);
  return { value2: s / n, perm };
}

/**
 * Sinkhorn's barycentric maps between two clouds, from the potentials of an
 * entropic plan (sinkhornW2's `potentials`: units of squared distance, the
 * cost between the centred clouds): Ta[i] = sum_j P_ij y_j / sum_j P_ij, the
 * mean of the points of b that point i of a is sent to, and Tb[j] the same
 * from b's side. O((n + m) d) memory, O(n m d) work, each row a stabilised
 * log-sum-exp (the plan is never stored).
 */
export function barycentricMaps(a: Cloud, b: Cloud, eps: number, potentials: SinkhornPotentials): { Ta: Float64Array; Tb: Float64Array } {
  checkPair(a, b);
  const { d } = a;
  const la = logWeights(a);
  const lb = logWeights(b);
  const am = weightedMean(a, la.map(Math.exp));
  const bm = weightedMean(b, lb.map(Math.exp));
  const side = (from: Cloud, to: Cloud, fromMean: Float64Array, toMean: Float64Array, lw: Float64Array, pot: Float64Array): Float64Array => {
    const T = new Float64Array(from.n * d);
    const logs = new Float64Array(to.n);
    for (let i = 0; i < from.n; i++) {
      let top = -Infinity;
      for (let j = 0; j < to.n; j++) {
        let c = 0;
        for (let k = 0; k < d; k++) {
          const t = from.points[i * d + k] - fromMean[k] - (to.points[j * d + k] - toMean[k]);
          c += t * t;
        }
        logs[j] = lw[j] + (pot[j] - c) / eps;
        if (logs[j] > top) top = logs[j];
      }
      let total = 0;
      for (let j = 0; j < to.n; j++) {
        const w = logs[j] - top < -LSE_CUT ? 0 : Math.exp(logs[j] - top);
        if (w === 0) continue;
        total += w;
        for (let k = 0; k < d; k++) T[i * d + k] += w * to.points[j * d + k];
      }
      for (let k = 0; k < d; k++) T[i * d + k] /= total;
    }
    return T;
  };
  return { Ta: side(a, b, am, bm, lb, potentials.g), Tb: side(b, a, bm, am, la, potentials.f) };
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
// iterate when the error grows AA_RESTART-fold past the best. A warm start
// iterates so to a marginal error of NEWTON_START, then takes Newton steps;
// one that has not brought the error below STAGE_TOL (where eps-scaling
// hands over to the last stage) within WARM_PROBE iterations is abandoned
// for the cold path: eps-scaling gets there in about 50-70.
const STAGE_TOL = 1e-2;
const STAGE_MAX = 100;
const AA_DEPTH = 32;
const AA_RESTART = 10;
const WARM_PROBE = 40;
const NEWTON_START = 0.1;

// The Newton steps that finish a warm start (see sinkhornW2): the Hessian
// keeps the entries of the plan above e^-NEWTON_KEEP of their row's mass, at
// most NEWTON_NNZ per point on average (else no Newton); its system is solved
// by conjugate gradients to a relative residual of CG_TOL, in at most CG_MAX
// iterations; the line search halves the step down to NEWTON_MIN_STEP, and
// at most NEWTON_MAX steps are taken before Anderson takes over again.
const NEWTON_KEEP = 20;
const NEWTON_NNZ = 64;
const CG_TOL = 1e-2;
const CG_MAX = 500;
const NEWTON_MIN_STEP = 1 / 1024;
const NEWTON_MAX = 50;

/**
 * The row pass of a Newton step, for the plan P_ij = exp(ha_i + hb_j - |x_i - y_j|^2 / eps)
 * (ha, hb: the potentials in units of eps plus the log weights): its row sums
 * r, and its entries above e^-NEWTON_KEEP of their row's sum as compressed
 * rows (start, cols, vals: P_ij). Returns the row error sum_i |r_i - w_i|
 * (w: the weights of x), or -1 when the entries do not fit in cols.
 */
function planRows(
  x: Float64Array,
  nx: number,
  y: Float64Array,
  ny: number,
  d: number,
  invEps: number,
  ha: Float64Array,
  hb: Float64Array,
  w: Float64Array,
  r: Float64Array,
  row: Float64Array,
  start: Int32Array,
  cols: Int32Array,
  vals: Float64Array,
): number {
  let err = 0;
  let nnz = 0;
  for (let i = 0; i < nx; i++) {
    start[i] = nnz;
    const hi = ha[i];
    if (hi === -Infinity) {
      // a point of weight zero: no mass, no entries
      r[i] = 0;
      continue;
    }
    let mx = -Infinity;
    if (d === 2) {
      const x0 = x[2 * i];
      const x1 = x[2 * i + 1];
      for (let j = 0; j < ny; j++) {
        const t0 = x0 - y[2 * j];
        const t1 = x1 - y[2 * j + 1];
        const s = hb[j] - (t0 * t0 + t1 * t1) * invEps;
        row[j] = s;
        if (s > mx) mx = s;
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
        const s = hb[j] - c * invEps;
        row[j] = s;
        if (s > mx) mx = s;
      }
    }
    const cut = mx - LSE_CUT;
    let sum = 0;
    for (let j = 0; j < ny; j++) {
      const s = row[j];
      if (s > cut) sum += Math.exp(s - mx);
    }
    const lse = mx + Math.log(sum);
    const ri = Math.exp(hi + lse);
    r[i] = ri;
    err += Math.abs(ri - w[i]);
    const keep = lse - NEWTON_KEEP;
    for (let j = 0; j < ny; j++) {
      const s = row[j];
      if (s > keep) {
        if (nnz === cols.length) return -1;
        cols[nnz] = j;
        vals[nnz] = ri * Math.exp(s - lse);
        nnz++;
      }
    }
  }
  start[nx] = nnz;
  return err;
}

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

/**
 * Dual potentials of entropic optimal transport between two clouds a (n
 * points) and b (m points), in units of squared distance and taken for the
 * cost between the centred clouds (see sinkhornW2): f has n entries, g has m.
 */
export interface SinkhornPotentials {
  f: Float64Array;
  g: Float64Array;
}

/** the weighted mean of a cloud (w: its normalised weights) */
function weightedMean(c: Cloud, w: Float64Array): Float64Array {
  const { n, d, points } = c;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const wi = w[i];
    if (wi === 0) continue;
    for (let k = 0; k < d; k++) mean[k] += wi * points[i * d + k];
  }
  return mean;
}

/**
 * Entropic W2 by log-domain Sinkhorn (weighted clouds of any sizes): returns
 * sqrt of the transport cost <P, C> of the entropic plan
 * P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps) (not including the entropy
 * term), eps the regularisation in units of squared distance. Matrix-free:
 * O(n + m) memory (about 70 n + 3 m numbers; a warm start's Newton steps add
 * a sparse plan of at most 64 (n + m) entries), never an n×m array, and
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
 *
 * Warm start. The result's `potentials` are the dual potentials (f, g) of
 * the plan returned, in units of squared distance (like eps), for the cost
 * between the centred clouds, C~_ij = |(x_i - xbar) - (y_j - ybar)|^2 with
 * xbar, ybar the weighted means:
 *   P_ij = a_i b_j exp((f_i + g_j - C~_ij) / eps),
 * a, b the normalised weights. C~ differs from C by a function of i plus a
 * function of j, so this is the same plan; with D = xbar - ybar the
 * potentials for C itself are f_i + 2 D·(x_i - xbar) + |D|^2 and
 * g_j - 2 D·(y_j - ybar). The centred convention makes them exactly right
 * for translated copies of the clouds, the commonest motion between two
 * records of a flow. They are fresh arrays, defined up to adding a constant
 * to f and subtracting it from g.
 *
 * `opts.init`, potentials from an earlier call with the same eps on clouds
 * of the same sizes (n and m; throws otherwise), starts the iterations there,
 * at the eps asked for, with no eps-scaling: Anderson-accelerated Sinkhorn
 * as above until the marginal error is below 0.1, then damped Newton steps
 * on the semi-dual (f -> <a, f> + <b, T_b(f)>, whose Hessian is the plan:
 * kept sparse, its entries above e^-20 of their row's mass, and solved by
 * conjugate gradients), which converge quadratically where the last
 * Sinkhorn stage crawls. On the same clouds this stops after one iteration;
 * after a motion of 1% of the clouds' spread, 7-15 iterations instead of
 * 175-255, 10-20x faster (d = 2, 150 × 200 and 2000 × 2000 points, default
 * eps, tol 1e-6; a Newton step costs up to about 1.5 Sinkhorn iterations).
 * If the marginal error is not below 1e-2 after 40 iterations (the
 * potentials are too far off: eps-scaling gets there in about as many) the
 * warm start is abandoned and the cold path runs; the iterations spent
 * count in `iterations` and against maxIter. Newton hands back to Anderson
 * (or, with the error still above 1e-2, to the cold path) when the plan is
 * too dense to keep sparse (large eps, where Sinkhorn is fast anyway), after
 * 50 steps, or when no step increases the semi-dual. An init with a non-finite
 * entry is ignored (cold start). A warm result agrees with a cold one to
 * what tol allows: both plans have marginal error below tol.
 */
export function sinkhornW2(
  a: Cloud,
  b: Cloud,
  eps: number,
  opts: { tol?: number; maxIter?: number; init?: SinkhornPotentials } = {},
): { value: number; iterations: number; marginalError: number; potentials: SinkhornPotentials } {
  checkPair(a, b);
  if (!(eps > 0) || !Number.isFinite(eps)) throw new Error(`sinkhornW2: eps must be a positive number (got ${eps})`);
  const tol = opts.tol ?? 1e-9;
  const maxIter = opts.maxIter ?? 10000;
  if (!(maxIter >= 1)) throw new Error(`sinkhornW2: maxIter must be at least 1 (got ${maxIter})`);
  const n = a.n;
  const m = b.n;
  const init = opts.init;
  if (init !== undefined && (init.f.length !== n || init.g.length !== m)) {
    throw new Error(
      `sinkhornW2: init potentials of lengths ${init.f.length} and ${init.g.length} for clouds of ${n} and ${m} points (they must come from clouds of the same sizes)`,
    );
  }
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
  let abandoned = false; // set by a run that gave up at its probe

  /**
   * iterates at eps = e until the marginal error is below stageTol or budget
   * runs out; returns it. With probe, gives up (setting `abandoned`) when the
   * error has not been below probe.tol within probe.iters iterations.
   */
  const run = (e: number, stageTol: number, budget: number, probe?: { iters: number; tol: number }): number => {
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
      // (f, g) is the plan: exact column sums, row error err
      if (!(err >= stageTol) || used >= budget) return err; // NaN stops too
      if (probe && used === probe.iters && !(Math.min(err, bestErr) < probe.tol)) {
        abandoned = true;
        return err;
      }
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

  /**
   * Newton's method on the semi-dual f -> <a, f> + <b, T_b(f)> (concave; its
   * gradient is a - r, r the row sums of the plan (f, T_b(f))), at eps, from
   * the state run() leaves (f, ha, g = T_b(f), hb), until the row error is
   * below tol. Each step solves (D_r + err D_a - P D_b^-1 P^T) delta = a - r
   * (the Hessian, with the plan's small entries left out and a
   * Levenberg-Marquardt term) by preconditioned conjugate gradients, and
   * takes the largest step 2^-k delta that increases the semi-dual
   * (Armijo). Returns the row error of the plan (f, g) it leaves, consistent
   * as run() needs it; sets newtonFailed when it stopped short of tol (no
   * budget, a plan too dense, no step that increases the semi-dual, or
   * giveUp(err) true before a step).
   */
  let newtonFailed = false;
  const newton = (budget: number, giveUp: (err: number) => boolean): number => {
    const invE = 1 / eps;
    const cap = NEWTON_NNZ * (n + m);
    const start = new Int32Array(n + 1);
    const cols = new Int32Array(cap);
    const vals = new Float64Array(cap);
    const rs = new Float64Array(n); // row sums
    const rhs = new Float64Array(n);
    const delta = new Float64Array(n);
    const res = new Float64Array(n);
    const z = new Float64Array(n);
    const p = new Float64Array(n);
    const Ap = new Float64Array(n);
    const w = new Float64Array(m);
    const fNew = new Float64Array(n);
    const gNew = new Float64Array(m);
    let mu = 0;
    /** Ap = (D_r + mu D_a - P D_b^-1 P^T) p */
    const hessian = (v: Float64Array, out: Float64Array): void => {
      w.fill(0);
      for (let i = 0; i < n; i++) {
        const vi = v[i];
        for (let k = start[i]; k < start[i + 1]; k++) w[cols[k]] += vals[k] * vi;
      }
      for (let j = 0; j < m; j++) w[j] = wb[j] > 0 ? w[j] / wb[j] : 0;
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let k = start[i]; k < start[i + 1]; k++) s += vals[k] * w[cols[k]];
        out[i] = (rs[i] + mu * wa[i]) * v[i] - s;
      }
    };
    const semidual = (ff: Float64Array, gg: Float64Array): { value: number; size: number } => {
      let value = 0;
      let size = 0;
      for (let i = 0; i < n; i++) {
        if (wa[i] === 0) continue;
        value += wa[i] * ff[i];
        size += wa[i] * Math.abs(ff[i]);
      }
      for (let j = 0; j < m; j++) {
        if (wb[j] === 0) continue;
        value += wb[j] * gg[j];
        size += wb[j] * Math.abs(gg[j]);
      }
      return { value, size };
    };
    let phi = semidual(f, g).value;
    for (let used = 0; ; ) {
      const err = planRows(x, n, y, m, d, invE, ha, hb, wa, rs, row, start, cols, vals);
      iterations++;
      used++;
      if (err < 0) {
        // too dense to keep sparse: the row error the plain way
        newtonFailed = true;
        return softmin(fT, x, n, y, m, d, invE, hb, f, wa, row);
      }
      if (!(err >= tol)) return err; // NaN stops too
      if (used >= budget || used > NEWTON_MAX || giveUp(err)) {
        newtonFailed = true;
        return err;
      }
      // conjugate gradients, preconditioned by the diagonal D_r + mu D_a
      mu = err;
      let rr0 = 0;
      for (let i = 0; i < n; i++) {
        rhs[i] = wa[i] - rs[i];
        rr0 += rhs[i] * rhs[i];
      }
      const prec = (v: Float64Array, out: Float64Array): number => {
        let dot = 0;
        for (let i = 0; i < n; i++) {
          const di = rs[i] + mu * wa[i];
          out[i] = di > 0 ? v[i] / di : 0;
          dot += v[i] * out[i];
        }
        return dot;
      };
      delta.fill(0);
      res.set(rhs);
      let rz = prec(res, z);
      p.set(z);
      for (let it = 0; it < CG_MAX; it++) {
        hessian(p, Ap);
        let pAp = 0;
        for (let i = 0; i < n; i++) pAp += p[i] * Ap[i];
        if (!(pAp > 0)) break;
        const alpha = rz / pAp;
        let rr = 0;
        for (let i = 0; i < n; i++) {
          delta[i] += alpha * p[i];
          res[i] -= alpha * Ap[i];
          rr += res[i] * res[i];
        }
        if (!(rr > CG_TOL * CG_TOL * rr0)) break;
        const rz2 = prec(res, z);
        const beta = rz2 / rz;
        rz = rz2;
        for (let i = 0; i < n; i++) p[i] = z[i] + beta * p[i];
      }
      let slope = 0;
      for (let i = 0; i < n; i++) slope += rhs[i] * delta[i];
      // the line search; the semi-dual is trusted to its rounding
      let accepted = false;
      if (slope > 0) {
        for (let t = 1; t >= NEWTON_MIN_STEP; t /= 2) {
          for (let i = 0; i < n; i++) {
            fNew[i] = f[i] + t * delta[i];
            ha[i] = fNew[i] + la[i];
          }
          softmin(gNew, y, m, x, n, d, invE, ha, g, wb, row);
          const next = semidual(fNew, gNew);
          if (next.value >= phi + 1e-4 * t * slope - 1e-13 * next.size) {
            phi = next.value;
            accepted = true;
            break;
          }
          iterations++;
          used++;
          if (used >= budget) break;
        }
      }
      if (!accepted) {
        setHa();
        newtonFailed = true;
        return err;
      }
      f.set(fNew);
      g.set(gNew);
      setHb();
    }
  };

  // f and g are kept for the actual costs C; the potentials exchanged (init,
  // result) are for the centred costs C~: with D = xbar - ybar,
  // f = f~ + 2 D·(x_i - xbar) + |D|^2 and g = g~ - 2 D·(y_j - ybar)
  const xbar = weightedMean(a, wa);
  const ybar = weightedMean(b, wb);
  const D = xbar.map((v, k) => v - ybar[k]);
  let D2 = 0;
  for (let k = 0; k < d; k++) D2 += D[k] * D[k];
  /** 2 D·(p_i - mean) */
  const shift = (p: Float64Array, i: number, mean: Float64Array): number => {
    let s = 0;
    for (let k = 0; k < d; k++) s += D[k] * (p[i * d + k] - mean[k]);
    return 2 * s;
  };

  let err = NaN;
  let cold = true;
  if (init !== undefined && init.f.every(Number.isFinite) && init.g.every(Number.isFinite)) {
    const invEps = 1 / eps;
    for (let i = 0; i < n; i++) f[i] = (init.f[i] + shift(x, i, xbar) + D2) * invEps;
    for (let j = 0; j < m; j++) g[j] = (init.g[j] - shift(y, j, ybar)) * invEps;
    cur = eps;
    err = run(eps, Math.max(tol, NEWTON_START), maxIter, { iters: WARM_PROBE, tol: NEWTON_START });
    if (!abandoned && err >= tol && iterations < maxIter) {
      err = newton(maxIter - iterations, (e) => iterations >= WARM_PROBE && e >= STAGE_TOL);
      if (newtonFailed && err >= tol && iterations < maxIter) {
        // Anderson finishes from a good start; from a bad one, eps-scaling
        if (err < STAGE_TOL) err = run(eps, tol, maxIter - iterations);
        else abandoned = true;
      }
    }
    // a failed probe, or a NaN, with budget left: start again, cold
    cold = (abandoned || Number.isNaN(err)) && iterations < maxIter;
  }
  if (cold) {
    f.fill(0);
    g.fill(0);
    const schedule: number[] = [];
    for (let e = boxDiameter2(a, b) / 2; e > eps && schedule.length < 200; e /= 2) schedule.push(e);
    cur = schedule.length > 0 ? schedule[0] : eps;
    for (let s = 0; s < schedule.length; s++) {
      const budget = Math.min(STAGE_MAX, Math.floor((maxIter / 2 - iterations) / (schedule.length - s)));
      if (budget >= 1) run(schedule[s], STAGE_TOL, budget);
    }
    err = run(eps, tol, Math.max(1, maxIter - iterations));
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
  const potentials: SinkhornPotentials = { f: new Float64Array(n), g: new Float64Array(m) };
  for (let i = 0; i < n; i++) potentials.f[i] = f[i] * eps - shift(x, i, xbar) - D2;
  for (let j = 0; j < m; j++) potentials.g[j] = g[j] * eps + shift(y, j, ybar);
  return { value: Math.sqrt(total), iterations, marginalError: err, potentials };
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
/** Which solver w2 uses for a pair of clouds (and Sinkhorn's eps), without solving. */
export function w2Method(a: Cloud, b: Cloud): { method: 'exact' } | { method: 'sinkhorn'; eps: number } {
  checkPair(a, b);
  if (a.weights === undefined && b.weights === undefined && a.n === b.n && a.n <= EXACT_MAX) return { method: 'exact' };
  return { method: 'sinkhorn', eps: defaultSinkhornEps(a, b) };
}

export function w2(
  a: Cloud,
  b: Cloud,
):
  | { value: number; method: 'exact' }
  | { value: number; method: 'sinkhorn'; eps: number; iterations: number; marginalError: number } {
  const how = w2Method(a, b);
  if (how.method === 'exact') return { value: exactW2(a, b), method: 'exact' };
  const eps = how.eps;
  const r = sinkhornW2(a, b, eps);
  return { value: r.value, method: 'sinkhorn', eps, iterations: r.iterations, marginalError: r.marginalError };
}
