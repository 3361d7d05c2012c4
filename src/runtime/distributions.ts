// Sampling of resolved distributions. The compiler turns `normal([0, 0], 1)`,
// `sphere(1)`, `mixture(...)` and record distributions into a `Dist`; this
// module draws `count` points from it, deterministically from (seed, purpose).
//
// Streams (all at step 0 of the RNG, see rng.ts for the counter mapping):
//   normal, sphere  fillNormal(seed, purpose), flat index i * d + c
//   uniform         fillUniform(seed, purpose), flat index i * d + c
//   mixture         component choice: fillUniform(seed, subPurpose(purpose, 0)), index i;
//                   component j draws all `count` rows from subPurpose(purpose, j + 1)
//                   and point i takes row i of the component it chose
//   blocks          block j is sampled with subPurpose(purpose, j)
// So point i depends only on i (not on `count`): sampling fewer points gives
// a prefix of sampling more.

import type { Dist } from '../compiler/dist.js';
import { fillNormal, fillUniform, subPurpose } from './rng.js';

export type { Dist };

/** Dimension of the points a distribution draws. */
export function distDim(dist: Dist): number {
  switch (dist.kind) {
    case 'normal':
      return dist.mean.length;
    case 'uniform':
      return dist.low.length;
    case 'sphere':
      return dist.dim;
    case 'mixture':
      return dist.components.length > 0 ? distDim(dist.components[0]) : 0;
    case 'blocks':
      return dist.blocks.reduce((sum, b) => sum + b.dim, 0);
  }
}

/**
 * The first problem that makes `dist` unusable, as a message the compiler can
 * report at the distribution's span (e.g. `std must be >= 0, got -1`), or
 * undefined when the distribution is valid. sampleMeasure requires a valid one.
 */
export function checkDist(dist: Dist): string | undefined {
  const finite = (xs: number[]) => xs.every((x) => Number.isFinite(x));
  switch (dist.kind) {
    case 'normal': {
      if (dist.mean.length === 0) return 'normal: the mean is empty';
      if (dist.std.length !== dist.mean.length)
        return `normal: the mean has ${dist.mean.length} coordinates but the std has ${dist.std.length}`;
      if (!finite(dist.mean) || !finite(dist.std)) return 'normal: mean and std must be finite';
      const bad = dist.std.find((s) => s < 0);
      return bad === undefined ? undefined : `normal: std must be >= 0, got ${bad}`;
    }
    case 'uniform': {
      if (dist.low.length === 0) return 'uniform: the bounds are empty';
      if (dist.high.length !== dist.low.length)
        return `uniform: low has ${dist.low.length} coordinates but high has ${dist.high.length}`;
      if (!finite(dist.low) || !finite(dist.high)) return 'uniform: low and high must be finite';
      const c = dist.low.findIndex((lo, i) => lo > dist.high[i]);
      return c < 0 ? undefined : `uniform: low must be <= high, got ${dist.low[c]} > ${dist.high[c]} in coordinate ${c}`;
    }
    case 'sphere':
      if (!Number.isInteger(dist.dim) || dist.dim < 1) return `sphere: dimension must be at least 1, got ${dist.dim}`;
      if (!Number.isFinite(dist.radius) || dist.radius < 0)
        return `sphere: radius must be finite and >= 0, got ${dist.radius}`;
      return undefined;
    case 'mixture': {
      const { weights, components } = dist;
      if (components.length === 0) return 'mixture: no components';
      if (weights.length !== components.length)
        return `mixture: ${weights.length} weights for ${components.length} components`;
      if (!finite(weights) || weights.some((w) => w < 0)) return 'mixture: weights must be finite and >= 0';
      if (!weights.some((w) => w > 0)) return 'mixture: at least one weight must be positive';
      const d = distDim(components[0]);
      for (const [j, c] of components.entries()) {
        const problem = checkDist(c);
        if (problem !== undefined) return `mixture component ${j + 1}: ${problem}`;
        if (distDim(c) !== d)
          return `mixture: component ${j + 1} draws points in R^${distDim(c)}, component 1 in R^${d}`;
      }
      return undefined;
    }
    case 'blocks': {
      if (dist.blocks.length === 0) return 'record distribution: no blocks';
      let next = 0;
      for (const [j, b] of dist.blocks.entries()) {
        if (b.offset !== next) return `record distribution: block ${j + 1} starts at column ${b.offset}, expected ${next}`;
        const problem = checkDist(b.dist);
        if (problem !== undefined) return `record block ${j + 1}: ${problem}`;
        if (distDim(b.dist) !== b.dim)
          return `record block ${j + 1}: the block is R^${b.dim} but its distribution draws points in R^${distDim(b.dist)}`;
        next += b.dim;
      }
      return undefined;
    }
  }
}

/**
 * Draw `count` independent points of R^dim from `dist`, row-major count×dim.
 * Deterministic in (seed, purpose); see the stream layout at the top of the file.
 * A `dist` that fails checkDist, or whose dimension is not `dim`, is a
 * compiler bug and throws a plain Error.
 */
export function sampleMeasure(dist: Dist, count: number, dim: number, seed: number, purpose: number): Float64Array {
  const problem = checkDist(dist);
  if (problem !== undefined) throw new Error(`internal: invalid distribution: ${problem}`);
  if (distDim(dist) !== dim) throw new Error(`internal: distribution draws R^${distDim(dist)} points, expected R^${dim}`);
  if (!Number.isInteger(count) || count < 0) throw new Error(`internal: invalid point count ${count}`);
  const out = new Float64Array(count * dim);
  sampleInto(dist, count, out, dim, 0, seed, purpose);
  return out;
}

/** Write point i of `dist` to out[i * stride + col + c], c < distDim(dist). */
function sampleInto(
  dist: Dist,
  count: number,
  out: Float64Array,
  stride: number,
  col: number,
  seed: number,
  purpose: number,
): void {
  const d = distDim(dist);
  switch (dist.kind) {
    case 'normal': {
      const z = new Float64Array(count * d);
      fillNormal(z, seed, purpose, 0);
      for (let i = 0; i < count; i++)
        for (let c = 0; c < d; c++) out[i * stride + col + c] = dist.mean[c] + dist.std[c] * z[i * d + c];
      return;
    }
    case 'uniform': {
      const u = new Float64Array(count * d);
      fillUniform(u, seed, purpose, 0);
      for (let i = 0; i < count; i++)
        for (let c = 0; c < d; c++) {
          const lo = dist.low[c];
          out[i * stride + col + c] = lo + (dist.high[c] - lo) * u[i * d + c];
        }
      return;
    }
    case 'sphere': {
      // A standard normal vector is rotation invariant, so its direction is
      // uniform on the sphere.
      const z = new Float64Array(count * d);
      fillNormal(z, seed, purpose, 0);
      for (let i = 0; i < count; i++) {
        let norm2 = 0;
        for (let c = 0; c < d; c++) norm2 += z[i * d + c] ** 2;
        const base = i * stride + col;
        if (norm2 === 0) {
          // Probability ~2^-53 per point (Box–Muller with u1 = 0): take the
          // first axis rather than divide by zero.
          for (let c = 0; c < d; c++) out[base + c] = c === 0 ? dist.radius : 0;
          continue;
        }
        // Divide before scaling, so that in R^1 the points are exactly ±radius.
        const norm = Math.sqrt(norm2);
        for (let c = 0; c < d; c++) out[base + c] = dist.radius * (z[i * d + c] / norm);
      }
      return;
    }
    case 'mixture': {
      const choice = chooseComponents(dist.weights, count, seed, subPurpose(purpose, 0));
      const rows = new Float64Array(count * d);
      for (let j = 0; j < dist.components.length; j++) {
        if (!choice.includes(j)) continue;
        sampleInto(dist.components[j], count, rows, d, 0, seed, subPurpose(purpose, j + 1));
        for (let i = 0; i < count; i++) {
          if (choice[i] !== j) continue;
          for (let c = 0; c < d; c++) out[i * stride + col + c] = rows[i * d + c];
        }
      }
      return;
    }
    case 'blocks':
      for (const [j, b] of dist.blocks.entries())
        sampleInto(b.dist, count, out, stride, col + b.offset, seed, subPurpose(purpose, j));
      return;
  }
}

/**
 * Component index of each point: the first j with u * W < cumulative weight
 * through j, W the total. Zero-weight components are never chosen; if
 * rounding makes u * W reach W, the last positive-weight component is taken.
 */
function chooseComponents(weights: number[], count: number, seed: number, purpose: number): Int32Array {
  const cum: number[] = [];
  let total = 0;
  for (const w of weights) cum.push((total += w));
  let last = weights.length - 1;
  while (weights[last] === 0) last--;
  const u = new Float64Array(count);
  fillUniform(u, seed, purpose, 0);
  const choice = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const x = u[i] * total;
    let j = 0;
    while (j < last && x >= cum[j]) j++;
    choice[i] = j;
  }
  return choice;
}
