// The record item displacement(mu) (LANGUAGE.md, "Record items"): how far the
// particles moved since step 0, (1/N) sum_i |x_i(t) - x_i(0)|^2, or
// sum_i w_i |x_i(t) - x_i(0)|^2 with the current weights when the metric
// moves them. Lazy vs active training is read from it.

/** A recorder of displacement: it keeps a copy of the positions at step 0 (its first call). */
export function displacementRecorder(positions: Float64Array, dim: number, weights: Float64Array | null): () => number {
  let start: Float64Array | undefined;
  return () => {
    if (!start) start = positions.slice();
    const n = positions.length / dim;
    let s = 0;
    for (let i = 0; i < n; i++) {
      let d2 = 0;
      for (let c = 0; c < dim; c++) {
        const d = positions[i * dim + c] - start[i * dim + c];
        d2 += d * d;
      }
      s += weights ? weights[i] * d2 : d2;
    }
    return weights ? s : s / n;
  };
}
