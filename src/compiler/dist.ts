// A resolved distribution: what the compiler makes of `normal([0, 0], 1)`,
// `sphere(1)`, `mixture(...)` and record distributions, and what the
// runtime samples (runtime/distributions.ts). It lives in the compiler so
// that the layers depend one way (compiler ← runtime).

export type Dist =
  | { kind: 'normal'; mean: number[]; std: number[] } // per coordinate, length = dim
  | { kind: 'uniform'; low: number[]; high: number[] } // per coordinate
  | { kind: 'sphere'; radius: number; dim: number } // uniform on the sphere of radius r in R^dim
  | { kind: 'mixture'; weights: number[]; components: Dist[] } // weights not necessarily normalised
  | { kind: 'blocks'; blocks: { offset: number; dim: number; dist: Dist }[] }; // record space: block j fills columns [offset, offset + dim)
