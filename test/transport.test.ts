import { describe, expect, it } from 'vitest';
import {
  defaultSinkhornEps,
  EXACT_MAX,
  exactW2,
  sinkhornW2,
  solveAssignment,
  w2,
  type Cloud,
} from '../src/runtime/transport.js';

/** mulberry32: a small seeded PRNG, uniform in [0, 1) */
function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function cloud(n: number, d: number, gen: (k: number) => number, weights?: number[]): Cloud {
  const points = new Float64Array(n * d);
  for (let k = 0; k < n * d; k++) points[k] = gen(k);
  return weights ? { points, n, d, weights: Float64Array.from(weights) } : { points, n, d };
}

function uniformCloud(n: number, d: number, seed: number): Cloud {
  const r = mulberry32(seed);
  return cloud(n, d, () => r());
}

/** every permutation of 0..n-1 (Heap's algorithm) */
function permutations(n: number): number[][] {
  const out: number[][] = [];
  const p = Array.from({ length: n }, (_, i) => i);
  const c = new Array<number>(n).fill(0);
  out.push(p.slice());
  let i = 0;
  while (i < n) {
    if (c[i] < i) {
      const k = i % 2 === 0 ? 0 : c[i];
      [p[k], p[i]] = [p[i], p[k]];
      out.push(p.slice());
      c[i]++;
      i = 0;
    } else {
      c[i] = 0;
      i++;
    }
  }
  return out;
}

function isPermutation(perm: Int32Array, n: number): boolean {
  if (perm.length !== n) return false;
  const seen = new Uint8Array(n);
  for (const j of perm) {
    if (!(j >= 0 && j < n) || seen[j]) return false;
    seen[j] = 1;
  }
  return true;
}

function sqDist(a: Cloud, i: number, b: Cloud, j: number): number {
  let s = 0;
  for (let k = 0; k < a.d; k++) s += (a.points[i * a.d + k] - b.points[j * b.d + k]) ** 2;
  return s;
}

/** the W2 of a given matching */
function matchingW2(a: Cloud, b: Cloud, perm: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.n; i++) s += sqDist(a, i, b, perm[i]);
  return Math.sqrt(s / a.n);
}

/** each row in turn takes its nearest free column */
function greedyW2(a: Cloud, b: Cloud): number {
  const used = new Uint8Array(b.n);
  const perm: number[] = [];
  for (let i = 0; i < a.n; i++) {
    let best = -1;
    let bd = Infinity;
    for (let j = 0; j < b.n; j++) {
      if (used[j]) continue;
      const c = sqDist(a, i, b, j);
      if (c < bd) {
        bd = c;
        best = j;
      }
    }
    used[best] = 1;
    perm.push(best);
  }
  return matchingW2(a, b, perm);
}

/** each point of the cloud repeated `times` times (the same uniform measure) */
function repeated(c: Cloud, times: number): Cloud {
  const points = new Float64Array(c.n * times * c.d);
  for (let t = 0; t < times; t++) points.set(c.points.subarray(0, c.n * c.d), t * c.n * c.d);
  return { points, n: c.n * times, d: c.d };
}

describe('solveAssignment', () => {
  it('finds a minimum-cost permutation, as brute force does (n = 1..7, real costs)', () => {
    for (let n = 1; n <= 7; n++) {
      const perms = permutations(n);
      for (let seed = 1; seed <= 6; seed++) {
        const r = mulberry32(1000 * n + seed);
        // some negative, spread over several orders of magnitude
        const C = Array.from({ length: n * n }, () => (r() - 0.3) * 10 ** Math.floor(r() * 3));
        const cost = (i: number, j: number) => C[i * n + j];
        const perm = solveAssignment(n, cost);
        expect(isPermutation(perm, n)).toBe(true);
        let total = 0;
        for (let i = 0; i < n; i++) total += cost(i, perm[i]);
        let best = Infinity;
        for (const p of perms) best = Math.min(best, p.reduce((s, j, i) => s + cost(i, j), 0));
        expect(Math.abs(total - best)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(best)));
      }
    }
  });

  it('handles ties: small integer costs, several optima (n = 1..7)', () => {
    for (let n = 1; n <= 7; n++) {
      const perms = permutations(n);
      for (let seed = 1; seed <= 8; seed++) {
        const r = mulberry32(77 * n + seed);
        const range = seed <= 4 ? 3 : 2; // costs in {0, 1, 2} or {0, 1}: many ties
        const C = Array.from({ length: n * n }, () => Math.floor(r() * range));
        const perm = solveAssignment(n, (i, j) => C[i * n + j]);
        expect(isPermutation(perm, n)).toBe(true);
        let total = 0;
        for (let i = 0; i < n; i++) total += C[i * n + perm[i]];
        let best = Infinity;
        for (const p of perms) best = Math.min(best, p.reduce((s, j, i) => s + C[i * n + j], 0));
        expect(total).toBe(best);
      }
      // all costs equal: any permutation is optimal, but it must be one
      expect(isPermutation(solveAssignment(n, () => 1), n)).toBe(true);
    }
  });

  it('takes the costs as a row-major array too', () => {
    const n = 6;
    const r = mulberry32(5);
    const C = Float64Array.from({ length: n * n }, () => r());
    expect([...solveAssignment(n, C)]).toEqual([...solveAssignment(n, (i, j) => C[i * n + j])]);
    expect(() => solveAssignment(n, new Float64Array(n * n - 1))).toThrow();
  });

  it('solves larger problems: no cheaper matching by swapping two rows (n = 120)', () => {
    const n = 120;
    const r = mulberry32(9);
    const C = Float64Array.from({ length: n * n }, () => r());
    const perm = solveAssignment(n, C);
    expect(isPermutation(perm, n)).toBe(true);
    for (let i = 0; i < n; i++) {
      for (let k = i + 1; k < n; k++) {
        const now = C[i * n + perm[i]] + C[k * n + perm[k]];
        const swapped = C[i * n + perm[k]] + C[k * n + perm[i]];
        expect(swapped).toBeGreaterThanOrEqual(now - 1e-12);
      }
    }
  });

  it('reports a problem with no finite-cost matching', () => {
    // row 0 and row 1 can only take column 0
    const C = [0, Infinity, Infinity, 0, Infinity, Infinity, 1, 1, 1];
    expect(() => solveAssignment(3, (i, j) => C[i * 3 + j])).toThrow(/no finite-cost/);
    expect(() => solveAssignment(2, () => NaN)).toThrow(/no finite-cost/);
  });
});

describe('exactW2', () => {
  it('is 0 between a cloud and a permuted copy of itself', () => {
    for (const n of [1, 7, 100, 300]) {
      const a = uniformCloud(n, 3, n);
      const r = mulberry32(n + 1);
      const order = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const k = Math.floor(r() * (i + 1));
        [order[i], order[k]] = [order[k], order[i]];
      }
      const b = cloud(n, 3, (k) => a.points[order[Math.floor(k / 3)] * 3 + (k % 3)]);
      expect(exactW2(a, b)).toBe(0);
    }
  });

  it('is |c| between a cloud and its translate by c', () => {
    for (const [n, c] of [
      [50, [0.3, -0.4]],
      [300, [3, 3]],
      [400, [-20, 0.001]],
    ] as const) {
      const a = uniformCloud(n, 2, n + 7);
      const b = cloud(n, 2, (k) => a.points[k] + c[k % 2]);
      expect(Math.abs(exactW2(a, b) - Math.hypot(...c))).toBeLessThan(1e-12 * Math.max(1, Math.hypot(...c)));
    }
  });

  it('is symmetric', () => {
    for (const [n, d] of [
      [40, 2],
      [300, 2],
      [260, 5],
    ]) {
      const a = uniformCloud(n, d, 1 + n);
      const r = mulberry32(2 + n);
      const b = cloud(n, d, () => 0.5 + normal(r));
      expect(Math.abs(exactW2(a, b) - exactW2(b, a))).toBeLessThan(1e-12 * exactW2(a, b));
    }
  });

  it('in 1-D equals the sorted matching', () => {
    for (const n of [5, 64, 400]) {
      const r = mulberry32(n);
      const a = cloud(n, 1, () => r());
      const b = cloud(n, 1, () => 2 * normal(r) + 0.3);
      const sa = Float64Array.from(a.points).sort();
      const sb = Float64Array.from(b.points).sort();
      let s = 0;
      for (let i = 0; i < n; i++) s += (sa[i] - sb[i]) ** 2;
      const sorted = Math.sqrt(s / n);
      expect(Math.abs(exactW2(a, b) - sorted)).toBeLessThan(1e-12 * sorted);
    }
  });

  it('agrees with the plain assignment of the same costs where clouds differ in place and shape', () => {
    // exactW2 centres the clouds and warm-starts from half-size matchings;
    // solveAssignment does neither
    const n = 300;
    const r = mulberry32(42);
    const shapes: [string, Cloud, Cloud][] = [
      ['uniform vs shifted gaussian', cloud(n, 2, () => r()), cloud(n, 2, () => 3 + normal(r))],
      ['two clusters vs one', cloud(n, 2, (k) => normal(r) + ((k >> 1) % 2 ? 5 : -5)), cloud(n, 2, () => normal(r))],
      ['uniform vs uniform, 3-D', cloud(n, 3, () => r()), cloud(n, 3, () => r())],
    ];
    for (const [, a, b] of shapes) {
      const perm = solveAssignment(n, (i, j) => sqDist(a, i, b, j));
      const plain = matchingW2(a, b, perm);
      expect(Math.abs(exactW2(a, b) - plain)).toBeLessThan(1e-12 * plain);
    }
  });

  it('refuses weights and unequal sizes', () => {
    const a = uniformCloud(4, 2, 1);
    expect(() => exactW2(a, uniformCloud(5, 2, 2))).toThrow(/different sizes/);
    expect(() => exactW2(a, { ...uniformCloud(4, 2, 2), weights: new Float64Array(4).fill(0.25) })).toThrow(/weight/);
    expect(() => exactW2(a, uniformCloud(4, 3, 2))).toThrow(/dimensions/);
  });

  it('n = 500: below the greedy and identity matchings, within the Sinkhorn bounds', () => {
    const n = 500;
    const r = mulberry32(500);
    const a = cloud(n, 2, () => r());
    const b = cloud(n, 2, () => 0.5 + 0.3 * normal(r));
    const exact = exactW2(a, b);
    expect(exact).toBeLessThanOrEqual(greedyW2(a, b));
    expect(exact).toBeLessThanOrEqual(matchingW2(a, b, Array.from({ length: n }, (_, i) => i)));
    // the entropic plan is a coupling, so its cost is at least W2^2, and it
    // is at most W2^2 + eps log n
    const eps = 0.005;
    const s = sinkhornW2(a, b, eps);
    expect(s.marginalError).toBeLessThan(1e-9);
    expect(exact ** 2).toBeLessThanOrEqual(s.value ** 2 + 1e-9);
    expect(s.value ** 2).toBeLessThanOrEqual(exact ** 2 + eps * Math.log(n));
    // and W2 is at least the distance between the means
    const mean = (c: Cloud, k: number) => c.points.filter((_, i) => i % 2 === k).reduce((x, y) => x + y) / n;
    expect(exact).toBeGreaterThanOrEqual(Math.hypot(mean(a, 0) - mean(b, 0), mean(a, 1) - mean(b, 1)) - 1e-12);
  });
});

describe('sinkhornW2', () => {
  const a = uniformCloud(30, 2, 11);
  const b = cloud(30, 2, (k) => 0.2 + 0.8 * mulberry32(12 + k)());
  const exact = exactW2(a, b);

  it('approaches exactW2 as eps decreases, from above', () => {
    const errors = [0.03, 0.01, 0.003].map((eps) => {
      const s = sinkhornW2(a, b, eps);
      expect(s.marginalError).toBeLessThan(1e-9);
      expect(s.value ** 2).toBeGreaterThanOrEqual(exact ** 2 - 1e-9);
      expect(s.value ** 2).toBeLessThanOrEqual(exact ** 2 + eps * Math.log(30) + 1e-9);
      return (s.value - exact) / exact;
    });
    expect(errors[1]).toBeLessThan(errors[0]);
    expect(errors[2]).toBeLessThan(errors[1]);
    expect(errors[2]).toBeLessThan(0.03);
  });

  it('stops at the marginal tolerance asked for, or at maxIter', () => {
    const loose = sinkhornW2(a, b, 0.01, { tol: 1e-4 });
    const tight = sinkhornW2(a, b, 0.01, { tol: 1e-12 });
    expect(loose.marginalError).toBeLessThan(1e-4);
    expect(tight.marginalError).toBeLessThan(1e-12);
    expect(tight.iterations).toBeGreaterThan(loose.iterations);
    expect(Math.abs(loose.value - tight.value)).toBeLessThan(1e-3 * tight.value);
    const capped = sinkhornW2(a, b, 0.01, { maxIter: 3 });
    expect(capped.iterations).toBe(3);
    expect(capped.marginalError).toBeGreaterThan(1e-9);
  });

  it('respects weights: all the mass on one point', () => {
    const target = cloud(3, 2, (k) => [0.5, 0.5, 3, 3, -2, 1][k], [1, 0, 0]);
    let s = 0;
    for (let i = 0; i < a.n; i++) s += sqDist(a, i, target, 0) / a.n;
    for (const eps of [0.1, 0.001]) {
      const r = sinkhornW2(a, target, eps);
      expect(Math.abs(r.value - Math.sqrt(s))).toBeLessThan(1e-9);
      const back = sinkhornW2(target, a, eps);
      expect(Math.abs(back.value - Math.sqrt(s))).toBeLessThan(1e-9);
    }
  });

  it('a weighted cloud is the uniform cloud with its points repeated', () => {
    // weights 3/6, 2/6, 1/6 = points repeated 3, 2 and 1 times
    const pts = [0.1, 0.2, 0.9, 0.4, 0.5, 0.95];
    const weighted = cloud(3, 2, (k) => pts[k], [3 / 6, 2 / 6, 1 / 6]);
    const order = [0, 0, 0, 1, 1, 2];
    const expanded = cloud(6, 2, (k) => pts[order[k >> 1] * 2 + (k & 1)]);
    const other = uniformCloud(6, 2, 3);
    for (const eps of [0.05, 0.005]) {
      const w = sinkhornW2(weighted, other, eps, { tol: 1e-12 });
      const u = sinkhornW2(expanded, other, eps, { tol: 1e-12 });
      expect(Math.abs(w.value - u.value)).toBeLessThan(1e-9);
    }
    const small = sinkhornW2(weighted, other, 0.0005, { tol: 1e-10 });
    expect(Math.abs(small.value - exactW2(expanded, other)) / exactW2(expanded, other)).toBeLessThan(0.01);
  });

  it('works for clouds of different sizes', () => {
    // a cloud of 20 points against one of 40: the 20 repeated twice are the
    // same measure, which exactW2 can match against the 40
    const small = uniformCloud(20, 2, 21);
    const big = uniformCloud(40, 2, 22);
    const exact2 = exactW2(repeated(small, 2), big);
    const eps = 0.003;
    for (const [x, y] of [
      [small, big],
      [big, small],
    ]) {
      const s = sinkhornW2(x, y, eps);
      expect(s.marginalError).toBeLessThan(1e-9);
      expect(s.value ** 2).toBeGreaterThanOrEqual(exact2 ** 2 - 1e-9);
      expect(s.value ** 2).toBeLessThanOrEqual(exact2 ** 2 + eps * Math.log(40) + 1e-9);
      expect((s.value - exact2) / exact2).toBeLessThan(0.03);
    }
  });

  it('is small between a cloud and itself, and stays finite for tiny eps', () => {
    const self = sinkhornW2(a, a, 1e-4);
    expect(self.value ** 2).toBeLessThanOrEqual(1e-4 * Math.log(30));
    const tiny = sinkhornW2(a, b, 1e-7, { maxIter: 200 });
    expect(Number.isFinite(tiny.value)).toBe(true);
    expect(Math.abs(tiny.value - exact) / exact).toBeLessThan(0.01);
  });

  it('rejects a bad eps', () => {
    expect(() => sinkhornW2(a, b, 0)).toThrow(/eps/);
    expect(() => sinkhornW2(a, b, NaN)).toThrow(/eps/);
  });
});

describe('sinkhornW2 warm start', () => {
  // particles uniform on the unit square against a gaussian target, as a
  // w2(mu, nu) record sees them, at the default eps (far below the squared
  // spacing of the points: the slow regime)
  const n = 150;
  const m = 200;
  const rand = mulberry32(2024);
  const a = cloud(n, 2, () => rand());
  const b = cloud(m, 2, () => 0.5 + 0.3 * normal(rand));
  const eps = defaultSinkhornEps(a, b);
  const spread = 1 / Math.sqrt(12); // per-coordinate std of a
  const base = sinkhornW2(a, b, eps);
  const moved = (c: Cloud, by: (k: number) => number): Cloud => ({ ...c, points: c.points.map((v, k) => v + by(k)) });

  it('returns potentials of the plan, in units of squared distance, for the centred costs', () => {
    // P_ij = a_i b_j exp((f_i + g_j - |(x_i - xbar) - (y_j - ybar)|^2) / eps)
    // has the marginals a and b and transport cost value^2
    const { f, g } = base.potentials;
    expect(f.length).toBe(n);
    expect(g.length).toBe(m);
    const mean = (c: Cloud, k: number) => c.points.filter((_, i) => i % 2 === k).reduce((x, y) => x + y) / c.n;
    const xbar = [mean(a, 0), mean(a, 1)];
    const ybar = [mean(b, 0), mean(b, 1)];
    const rows = new Float64Array(n);
    const cols = new Float64Array(m);
    let cost = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        const c0 = a.points[2 * i] - xbar[0] - (b.points[2 * j] - ybar[0]);
        const c1 = a.points[2 * i + 1] - xbar[1] - (b.points[2 * j + 1] - ybar[1]);
        const p = Math.exp((f[i] + g[j] - (c0 * c0 + c1 * c1)) / eps) / (n * m);
        rows[i] += p;
        cols[j] += p;
        cost += p * sqDist(a, i, b, j);
      }
    }
    expect(rows.reduce((s, r) => s + Math.abs(r - 1 / n), 0)).toBeLessThan(1e-8);
    expect(cols.reduce((s, c) => s + Math.abs(c - 1 / m), 0)).toBeLessThan(1e-8);
    expect(Math.abs(Math.sqrt(cost) - base.value)).toBeLessThan(1e-8 * base.value);
    // fresh arrays, not the init's
    const again = sinkhornW2(a, b, eps, { init: base.potentials });
    expect(again.potentials.f).not.toBe(f);
    expect(again.potentials.g).not.toBe(g);
  });

  it('from the potentials of the same problem converges at once, to the same value', () => {
    expect(base.iterations).toBeGreaterThan(50); // cold: eps-scaling, then the slow last stage
    const warm = sinkhornW2(a, b, eps, { init: base.potentials });
    expect(warm.iterations).toBeLessThanOrEqual(3);
    expect(warm.marginalError).toBeLessThan(1e-9);
    expect(Math.abs(warm.value - base.value)).toBeLessThan(1e-9 * base.value);
  });

  it('is exact for translated clouds (the potentials are for the centred costs)', () => {
    const shifted = moved(a, (k) => (k % 2 ? -0.2 : 0.35));
    const warm = sinkhornW2(shifted, b, eps, { init: base.potentials });
    const cold = sinkhornW2(shifted, b, eps);
    expect(warm.iterations).toBeLessThanOrEqual(3);
    expect(Math.abs(warm.value - cold.value)).toBeLessThan(1e-6 * cold.value);
    const both = sinkhornW2(shifted, moved(b, () => -1.5), eps, { init: base.potentials });
    expect(both.iterations).toBeLessThanOrEqual(3);
  });

  it('after a 1% motion of the points: the cold value in under half the iterations', () => {
    const motions: [string, (k: number) => number][] = [
      ['random', () => 0.01 * spread * normal(rand)],
      ['smooth', (k) => 0.01 * spread * Math.sin(3 * a.points[k ^ 1] + (k % 2))],
    ];
    for (const [, by] of motions) {
      const a2 = moved(a, by);
      for (const tol of [1e-6, 1e-9]) {
        const prev = sinkhornW2(a, b, eps, { tol });
        const cold = sinkhornW2(a2, b, eps, { tol });
        const warm = sinkhornW2(a2, b, eps, { tol, init: prev.potentials });
        expect(warm.marginalError).toBeLessThan(tol);
        expect(warm.iterations).toBeLessThan(cold.iterations / 2);
        // both plans are within tol of the marginals; at 1e-9 the values agree to 1e-6
        if (tol === 1e-9) expect(Math.abs(warm.value - cold.value)).toBeLessThan(1e-6 * cold.value);
        else expect(Math.abs(warm.value - cold.value)).toBeLessThan(1e-5 * cold.value);
      }
    }
    // and the potentials handed on keep working: a second motion from the first warm result
    const a2 = moved(a, () => 0.01 * spread * normal(rand));
    const a3 = moved(a2, () => 0.01 * spread * normal(rand));
    const w2 = sinkhornW2(a2, b, eps, { init: base.potentials });
    const w3 = sinkhornW2(a3, b, eps, { init: w2.potentials });
    const c3 = sinkhornW2(a3, b, eps);
    expect(w3.iterations).toBeLessThan(c3.iterations / 2);
    expect(Math.abs(w3.value - c3.value)).toBeLessThan(1e-6 * c3.value);
  });

  it('works with weights (zeros included), other dimensions and swapped roles', () => {
    const r = mulberry32(99);
    const weights = Array.from({ length: 60 }, (_, i) => (i % 7 === 0 ? 0 : r()));
    for (const d of [1, 3]) {
      const p = cloud(60, d, () => r(), weights);
      const q = cloud(80, d, () => 0.4 + 0.2 * normal(r));
      const e = defaultSinkhornEps(p, q);
      for (const [x, y] of [
        [p, q],
        [q, p],
      ]) {
        const prev = sinkhornW2(x, y, e);
        const x2 = moved(x, () => 0.003 * normal(r));
        const cold = sinkhornW2(x2, y, e);
        const warm = sinkhornW2(x2, y, e, { init: prev.potentials });
        expect(warm.marginalError).toBeLessThan(1e-9);
        expect(warm.iterations).toBeLessThan(cold.iterations / 2);
        expect(Math.abs(warm.value - cold.value)).toBeLessThan(1e-6 * cold.value);
      }
    }
  });

  it('falls back to the cold path when the potentials are far off, and respects maxIter', () => {
    const junk = { f: Float64Array.from({ length: n }, (_, i) => Math.sin(i) * 0.05), g: Float64Array.from({ length: m }, (_, j) => Math.cos(j) * 0.05) };
    const r = sinkhornW2(a, b, eps, { init: junk });
    expect(r.marginalError).toBeLessThan(1e-9);
    expect(Math.abs(r.value - base.value)).toBeLessThan(1e-6 * base.value);
    // a non-finite init is ignored: exactly the cold result
    const nan = { f: base.potentials.f.slice(), g: base.potentials.g.slice() };
    nan.g[5] = NaN;
    const ignored = sinkhornW2(a, b, eps, { init: nan });
    expect(ignored.value).toBe(base.value);
    expect(ignored.iterations).toBe(base.iterations);
    // the budget holds for the warm path too
    const a2 = moved(a, () => 0.01 * spread * normal(rand));
    const capped = sinkhornW2(a2, b, eps, { init: base.potentials, maxIter: 2 });
    expect(capped.iterations).toBe(2);
    expect(capped.marginalError).toBeGreaterThan(1e-9);
  });

  it('rejects potentials of clouds of other sizes', () => {
    const { f, g } = base.potentials;
    expect(() => sinkhornW2(a, b, eps, { init: { f: f.subarray(1), g } })).toThrow(/init potentials.*150 and 200 points/);
    expect(() => sinkhornW2(a, b, eps, { init: { f, g: new Float64Array(m + 1) } })).toThrow(/same sizes/);
    expect(() => sinkhornW2(b, a, eps, { init: { f, g } })).toThrow(Error);
  });
});

describe('defaultSinkhornEps', () => {
  it('is 1e-3 of the mean squared distance, to 2 significant digits', () => {
    // 20 × 30 = 600 pairs: all of them
    const a = uniformCloud(20, 2, 1);
    const b = uniformCloud(30, 2, 2);
    let s = 0;
    for (let i = 0; i < 20; i++) for (let j = 0; j < 30; j++) s += sqDist(a, i, b, j);
    const eps = defaultSinkhornEps(a, b);
    expect(eps).toBe(Number(((1e-3 * s) / 600).toPrecision(2)));
  });

  it('estimates it from 1000 pairs for big clouds, deterministically', () => {
    const a = uniformCloud(3000, 2, 3);
    const b = uniformCloud(2000, 2, 4);
    const eps = defaultSinkhornEps(a, b);
    expect(eps).toBe(defaultSinkhornEps(a, b));
    expect(eps).toBe(Number(eps.toPrecision(2)));
    expect(String(eps).replace(/^0\.0*|e.*$|\./g, '').length).toBeLessThanOrEqual(2);
    // two uniform clouds on the unit square: mean squared distance 1/3
    expect(eps / (1e-3 / 3)).toBeGreaterThan(0.9);
    expect(eps / (1e-3 / 3)).toBeLessThan(1.1);
  });
});

describe('w2', () => {
  it('is exact for uniform clouds of equal size', () => {
    const a = uniformCloud(50, 2, 1);
    const b = uniformCloud(50, 2, 2);
    const r = w2(a, b);
    expect(r.method).toBe('exact');
    expect(r.value).toBe(exactW2(a, b));
    expect(EXACT_MAX).toBeGreaterThanOrEqual(2000);
  });

  it('uses Sinkhorn with the default eps for unequal sizes or weights', () => {
    const a = uniformCloud(30, 2, 1);
    const b = uniformCloud(40, 2, 2);
    const r = w2(a, b);
    expect(r.method).toBe('sinkhorn');
    if (r.method !== 'sinkhorn') return;
    expect(r.eps).toBe(defaultSinkhornEps(a, b));
    expect(r.iterations).toBeGreaterThan(0);
    expect(r.value).toBe(sinkhornW2(a, b, r.eps).value);

    const weighted = { ...uniformCloud(30, 2, 3), weights: new Float64Array(30).fill(1 / 30) };
    const rw = w2(a, weighted);
    expect(rw.method).toBe('sinkhorn');
    // uniform weights given explicitly: the same measure, so nearly exactW2
    const plain = exactW2(a, { ...weighted, weights: undefined });
    expect(Math.abs(rw.value - plain) / plain).toBeLessThan(0.01);
  });
});
