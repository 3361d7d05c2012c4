// Watching the energy at the records (docs/language.md, "Diagnostics"). A
// deterministic descent (no noise, diffusion or critic; not W2natural, whose
// basis is random) should not raise its energy. When it rises between two
// records, the run says so once, with the first step where it happened (the
// usual cause is a step too large for the scheme). A run whose energy has risen by more than
// DIVERGENCE_FACTOR times its size at step 0 is stopped as diverged before
// its numbers overflow (the NaN/Inf checks stay as the last resort).

import type { Divergence } from './simulate.js';

/** A run stops when F(n) - F(0) > DIVERGENCE_FACTOR · max(|F(0)|, DIVERGENCE_FLOOR). */
export const DIVERGENCE_FACTOR = 1e6;
export const DIVERGENCE_FLOOR = 1e-6;

/** A rise smaller than this times the energy's scale is rounding, not a rise (float64; float32 sums are coarser). */
const RISE_RTOL = { float64: 1e-9, float32: 1e-4 };

export class EnergyWatch {
  private first?: { n: number; F: number };
  private prev?: { n: number; F: number };
  private rise?: { from: { n: number; F: number }; to: { n: number; F: number } };

  constructor(
    private readonly name: string,
    /** no noise, no diffusion: the energy should decrease */
    private readonly dissipative: boolean,
    private readonly precision: 'float64' | 'float32',
  ) {}

  /** Look at the energy F recorded at step n; a Divergence when it has grown past the limit. */
  check(n: number, F: number): Divergence | undefined {
    if (!Number.isFinite(F)) return undefined; // the NaN/Inf checks report it
    const prev = this.prev;
    this.prev = { n, F };
    if (!this.first) {
      this.first = { n, F };
      return undefined;
    }
    const F0 = this.first.F;
    if (this.dissipative && prev && !this.rise) {
      const scale = Math.max(Math.abs(prev.F), Math.abs(F), Math.abs(F0));
      if (F - prev.F > RISE_RTOL[this.precision] * scale) this.rise = { from: prev, to: { n, F } };
    }
    const limit = DIVERGENCE_FACTOR * Math.max(Math.abs(F0), DIVERGENCE_FLOOR);
    if (F - F0 > limit)
      return {
        step: n,
        quantity: this.name,
        value: F,
        note: `up from ${short(F0)} at step ${this.first.n}, a rise of more than 10^6 times max(|${this.name}(0)|, 1e-6)`,
      };
    return undefined;
  }

  /** The warning about the first rise, once per run. */
  warning(): string | undefined {
    const r = this.rise;
    if (!r) return undefined;
    return `${this.name} rose from ${short(r.from.F)} at step ${r.from.n} to ${short(r.to.F)} at step ${r.to.n} (the first rise between two records): a flow without noise or diffusion should not raise its energy; the step is probably too large, try a smaller step`;
  }
}

/** Six significant digits: enough to see a rise, short enough to read. */
function short(x: number): string {
  return String(Number(x.toPrecision(6)));
}
