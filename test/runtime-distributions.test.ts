import { describe, expect, it } from 'vitest';
import { checkDist, distDim, sampleMeasure, type Dist } from '../src/runtime/distributions.js';
import { purposeId } from '../src/runtime/rng.js';

const P = purposeId('init:mu');

/** Mean and standard deviation of column c of a row-major count×dim array. */
function columnStats(xs: Float64Array, dim: number, c: number): { mean: number; std: number } {
  const n = xs.length / dim;
  let s = 0;
  for (let i = 0; i < n; i++) s += xs[i * dim + c];
  const mean = s / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (xs[i * dim + c] - mean) ** 2;
  return { mean, std: Math.sqrt(v / (n - 1)) };
}

function rowNorm(xs: Float64Array, dim: number, i: number): number {
  let s = 0;
  for (let c = 0; c < dim; c++) s += xs[i * dim + c] ** 2;
  return Math.sqrt(s);
}

describe('distDim', () => {
  it('gives the dimension of each kind', () => {
    expect(distDim({ kind: 'normal', mean: [0, 0], std: [1, 1] })).toBe(2);
    expect(distDim({ kind: 'uniform', low: [0], high: [1] })).toBe(1);
    expect(distDim({ kind: 'sphere', radius: 1, dim: 4 })).toBe(4);
    expect(
      distDim({ kind: 'mixture', weights: [1], components: [{ kind: 'sphere', radius: 1, dim: 3 }] }),
    ).toBe(3);
    expect(
      distDim({
        kind: 'blocks',
        blocks: [
          { offset: 0, dim: 1, dist: { kind: 'normal', mean: [0], std: [1] } },
          { offset: 1, dim: 2, dist: { kind: 'sphere', radius: 1, dim: 2 } },
        ],
      }),
    ).toBe(3);
  });
});

describe('checkDist', () => {
  it('accepts valid distributions, including degenerate ones', () => {
    expect(checkDist({ kind: 'normal', mean: [1, 2], std: [0, 0] })).toBeUndefined();
    expect(checkDist({ kind: 'uniform', low: [1], high: [1] })).toBeUndefined();
    expect(checkDist({ kind: 'sphere', radius: 0, dim: 1 })).toBeUndefined();
  });

  it('names the problem', () => {
    expect(checkDist({ kind: 'normal', mean: [0, 0], std: [1] })).toBe(
      'normal: the mean has 2 coordinates but the std has 1',
    );
    expect(checkDist({ kind: 'normal', mean: [0], std: [-1] })).toBe('normal: std must be >= 0, got -1');
    expect(checkDist({ kind: 'normal', mean: [NaN], std: [1] })).toBe('normal: mean and std must be finite');
    expect(checkDist({ kind: 'uniform', low: [0, 2], high: [1, 1] })).toBe(
      'uniform: low must be <= high, got 2 > 1 in coordinate 1',
    );
    expect(checkDist({ kind: 'sphere', radius: -1, dim: 2 })).toBe('sphere: radius must be finite and >= 0, got -1');
    expect(checkDist({ kind: 'sphere', radius: 1, dim: 0 })).toBe('sphere: dimension must be at least 1, got 0');
    const n1: Dist = { kind: 'normal', mean: [0], std: [1] };
    const n2: Dist = { kind: 'normal', mean: [0, 0], std: [1, 1] };
    expect(checkDist({ kind: 'mixture', weights: [0, 0], components: [n1, n1] })).toBe(
      'mixture: at least one weight must be positive',
    );
    expect(checkDist({ kind: 'mixture', weights: [1, -1], components: [n1, n1] })).toBe(
      'mixture: weights must be finite and >= 0',
    );
    expect(checkDist({ kind: 'mixture', weights: [1], components: [n1, n1] })).toBe(
      'mixture: 1 weights for 2 components',
    );
    expect(checkDist({ kind: 'mixture', weights: [1, 1], components: [n1, n2] })).toBe(
      'mixture: component 2 draws points in R^2, component 1 in R^1',
    );
    expect(
      checkDist({
        kind: 'mixture',
        weights: [1, 1],
        components: [n1, { kind: 'normal', mean: [0], std: [-2] }],
      }),
    ).toBe('mixture component 2: normal: std must be >= 0, got -2');
    expect(checkDist({ kind: 'blocks', blocks: [{ offset: 1, dim: 1, dist: n1 }] })).toBe(
      'record distribution: block 1 starts at column 1, expected 0',
    );
    expect(checkDist({ kind: 'blocks', blocks: [{ offset: 0, dim: 1, dist: n2 }] })).toBe(
      'record block 1: the block is R^1 but its distribution draws points in R^2',
    );
  });
});

describe('sampleMeasure', () => {
  const n = 20_000;

  it('draws normals with the given per-coordinate mean and std', () => {
    const dist: Dist = { kind: 'normal', mean: [1, -2, 0], std: [0.5, 2, 1] };
    const xs = sampleMeasure(dist, n, 3, 7, P);
    expect(xs.length).toBe(3 * n);
    for (let c = 0; c < 3; c++) {
      const { mean, std } = columnStats(xs, 3, c);
      expect(Math.abs(mean - dist.mean[c])).toBeLessThan((5 * dist.std[c]) / Math.sqrt(n));
      expect(Math.abs(std - dist.std[c])).toBeLessThan((5 * dist.std[c]) / Math.sqrt(2 * n));
    }
  });

  it('a zero std puts every point at the mean exactly', () => {
    const xs = sampleMeasure({ kind: 'normal', mean: [0.3, -1], std: [0, 0] }, 10, 2, 1, P);
    for (let i = 0; i < 10; i++) expect([xs[2 * i], xs[2 * i + 1]]).toEqual([0.3, -1]);
  });

  it('draws uniforms inside the box with the right mean and spread', () => {
    const low = [-1, 2];
    const high = [1, 5];
    const xs = sampleMeasure({ kind: 'uniform', low, high }, n, 2, 7, P);
    for (let c = 0; c < 2; c++) {
      const width = high[c] - low[c];
      expect(xs.every((x, k) => k % 2 !== c || (x >= low[c] && x < high[c]))).toBe(true);
      const { mean, std } = columnStats(xs, 2, c);
      expect(Math.abs(mean - (low[c] + high[c]) / 2)).toBeLessThan((5 * width) / Math.sqrt(12 * n));
      expect(Math.abs(std - width / Math.sqrt(12))).toBeLessThan(0.02 * width);
    }
  });

  it('draws on the sphere: every norm is the radius, the mean is 0', () => {
    const xs = sampleMeasure({ kind: 'sphere', radius: 2.5, dim: 3 }, n, 3, 7, P);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(rowNorm(xs, 3, i) - 2.5));
    expect(worst).toBeLessThan(1e-14);
    // each coordinate has variance r^2 / d
    for (let c = 0; c < 3; c++) {
      const { mean, std } = columnStats(xs, 3, c);
      expect(Math.abs(mean)).toBeLessThan((5 * 2.5) / Math.sqrt(3 * n));
      expect(std).toBeCloseTo(2.5 / Math.sqrt(3), 1);
    }
  });

  it('the sphere in R^1 is {-r, r}, each half the time', () => {
    const xs = sampleMeasure({ kind: 'sphere', radius: 3, dim: 1 }, n, 1, 7, P);
    let plus = 0;
    expect(xs.every((x) => Math.abs(x) === 3)).toBe(true);
    for (const x of xs) if (x > 0) plus++;
    expect(Math.abs(plus - n / 2)).toBeLessThan(5 * Math.sqrt(n / 4));
  });

  it('draws mixture components in proportion to the (unnormalised) weights', () => {
    const at = (m: number): Dist => ({ kind: 'normal', mean: [m], std: [0.01] });
    const dist: Dist = { kind: 'mixture', weights: [1, 0, 3], components: [at(-10), at(0), at(10)] };
    const xs = sampleMeasure(dist, n, 1, 7, P);
    let right = 0;
    // the zero-weight component (at 0) never appears
    expect(xs.every((x) => Math.abs(Math.abs(x) - 10) < 0.1)).toBe(true);
    for (const x of xs) if (x > 0) right++;
    expect(Math.abs(right - 0.75 * n)).toBeLessThan(5 * Math.sqrt(n * 0.75 * 0.25));
    // within a component, the points are its own distribution
    const left = xs.filter((x) => x < 0);
    const { mean, std } = columnStats(left, 1, 0);
    expect(Math.abs(mean + 10)).toBeLessThan((5 * 0.01) / Math.sqrt(left.length));
    expect(std).toBeCloseTo(0.01, 3);
  });

  it('lays out record blocks in their columns, each drawn independently', () => {
    const dist: Dist = {
      kind: 'blocks',
      blocks: [
        { offset: 0, dim: 1, dist: { kind: 'normal', mean: [0], std: [1] } },
        { offset: 1, dim: 2, dist: { kind: 'sphere', radius: 1, dim: 2 } },
        { offset: 3, dim: 1, dist: { kind: 'normal', mean: [0], std: [1] } },
      ],
    };
    const xs = sampleMeasure(dist, n, 4, 7, P);
    let cross = 0;
    let worst = 0;
    for (let i = 0; i < n; i++) {
      worst = Math.max(worst, Math.abs(Math.hypot(xs[4 * i + 1], xs[4 * i + 2]) - 1));
      cross += xs[4 * i] * xs[4 * i + 3];
    }
    expect(worst).toBeLessThan(1e-14);
    // two blocks with the same distribution are different draws: uncorrelated
    expect(Math.abs(cross / n)).toBeLessThan(5 / Math.sqrt(n));
    for (const c of [0, 3]) expect(columnStats(xs, 4, c).std).toBeCloseTo(1, 1);
  });

  it('samples nested distributions (a mixture of records)', () => {
    const rec = (w: number): Dist => ({
      kind: 'blocks',
      blocks: [
        { offset: 0, dim: 1, dist: { kind: 'normal', mean: [w], std: [0] } },
        { offset: 1, dim: 2, dist: { kind: 'uniform', low: [0, 0], high: [1, 1] } },
      ],
    });
    const xs = sampleMeasure({ kind: 'mixture', weights: [1, 1], components: [rec(-1), rec(1)] }, 1000, 3, 2, P);
    for (let i = 0; i < 1000; i++) {
      expect(Math.abs(xs[3 * i])).toBe(1);
      for (const c of [1, 2]) expect(xs[3 * i + c] >= 0 && xs[3 * i + c] < 1).toBe(true);
    }
  });

  const all: Dist = {
    kind: 'mixture',
    weights: [1, 2],
    components: [
      { kind: 'normal', mean: [0, 0], std: [1, 1] },
      {
        kind: 'blocks',
        blocks: [
          { offset: 0, dim: 1, dist: { kind: 'uniform', low: [0], high: [1] } },
          { offset: 1, dim: 1, dist: { kind: 'sphere', radius: 1, dim: 1 } },
        ],
      },
    ],
  };

  it('is deterministic in (seed, purpose) and changes with either', () => {
    const a = sampleMeasure(all, 200, 2, 11, P);
    expect(sampleMeasure(all, 200, 2, 11, P)).toEqual(a);
    expect(sampleMeasure(all, 200, 2, 12, P)).not.toEqual(a);
    expect(sampleMeasure(all, 200, 2, 11, purposeId('init:nu'))).not.toEqual(a);
  });

  it('point i does not depend on the number of points drawn', () => {
    const long = sampleMeasure(all, 300, 2, 5, P);
    expect(sampleMeasure(all, 37, 2, 5, P)).toEqual(long.subarray(0, 74));
  });

  it('rejects invalid input as an internal error', () => {
    expect(() => sampleMeasure({ kind: 'normal', mean: [0], std: [-1] }, 3, 1, 0, P)).toThrow(
      'internal: invalid distribution: normal: std must be >= 0, got -1',
    );
    expect(() => sampleMeasure({ kind: 'normal', mean: [0], std: [1] }, 3, 2, 0, P)).toThrow(
      'internal: distribution draws R^1 points, expected R^2',
    );
    expect(() => sampleMeasure({ kind: 'normal', mean: [0], std: [1] }, 2.5, 1, 0, P)).toThrow(
      'internal: invalid point count 2.5',
    );
  });
});
