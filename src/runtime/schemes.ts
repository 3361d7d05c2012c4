// One time step of a particle flow, for every metric and scheme of
// LANGUAGE.md on particles (formulas: DESIGN.md, "Exact finite-sample
// formulas"). The backend evaluates the plan's programs (velocity, first
// variation, energy, dab's products: reduction stages); everything here is
// O(N·d) host work between them: the updates, noise, the proximal inner loop
// and the conjugate gradients.
//
//   W2, euler       x_i <- x_i + γ v(x_i)
//   noise β_n       v evaluated at x_i + β_n u_i, u_i ~ N(0, I) fresh each step
//   diffusion τ_n   + sqrt(2 τ_n γ) ξ_i after the move
//   jko             x^{k+1} = argmin_y F(y) + (1/(2γ)) Σ_i w_i |y_i - x_i^k|^2,
//                   by gradient steps on that objective (step η ≤ γ, halved
//                   until it decreases: η = γ is the fixed point iteration
//                   y <- x^k + γ v(y)), until the largest change is < tol
//   KL              w_i <- w_i exp(-γ (F'(x_i) - Σ_j w_j F'(x_j))), renormalised
//   WFR(a, b)       positions with a γ v, weights with b γ
//   dab(α, β; k)    v solves (β I + (α/N) H) v = -∇F', H(x,x')_ab = ∂²k/∂x_a∂x'_b,
//                   by conjugate gradients (each product one reduction stage)
//
// The noise draws come from the counter-based RNG on the host (purposes
// "noise" and "diffusion", counter = step): every backend sees the same
// numbers, and the same seed gives the same run.

import type { CheckpointState } from './checkpoint.js';
import type { Compiled } from '../compiler/compile.js';
import type { Node } from '../compiler/ir.js';
import type { MetricIR } from '../compiler/lower.js';
import { OPS } from '../compiler/ops.js';
import type { Backend } from './backend-cpu.js';
import { fillNormal, purposeId } from './rng.js';

/** Conjugate-gradient settings of dab: relative residual by precision, and an iteration cap. */
export const CG_TOL = { float64: 1e-10, float32: 1e-5 } as const;
export const CG_MAX_ITERATIONS = 1000;

/** Halvings of the jko inner step before the step counts as converged at working precision. */
const JKO_BACKTRACKS = 40;
/** Armijo constant of the jko inner line search. */
const ARMIJO = 1e-4;

export interface InnerReport {
  /** iterations of the latest step (jko inner iterations or CG iterations) */
  last: number;
  max: number;
  total: number;
  /** steps that ended without meeting the tolerance */
  unconverged: number;
  /** first such step, and what was left (largest change or relative residual) */
  firstUnconverged?: { step: number; left: number };
  /** worst relative residual (CG) or final largest change (jko) seen */
  worst: number;
}

/** Evaluate a schedule (noise, diffusion): a scalar IR expression in n and t. */
export function evalSchedule(node: Node, n: number, t: number): number {
  const memo = new Map<number, number>();
  const go = (x: Node): number => {
    const hit = memo.get(x.id);
    if (hit !== undefined) return hit;
    let v: number;
    switch (x.kind) {
      case 'num':
        v = x.value;
        break;
      case 'param':
        if (x.name === 'n') v = n;
        else if (x.name === 't') v = t;
        else throw new Error(`internal: schedule reads parameter ${x.name}`);
        break;
      case 'op':
        v = OPS[x.op].evaluate(x.args.map(go));
        break;
      default:
        throw new Error(`internal: schedule node ${x.kind}`);
    }
    memo.set(x.id, v);
    return v;
  };
  return go(node);
}

/**
 * The level of a noise or diffusion schedule at step n (0 when the flow has
 * none). A level below 0 (or NaN) counts as 0, and the first such step is
 * kept in `owner.negativeSchedule` for the run's warning.
 */
export function scheduleLevel(
  compiled: Compiled,
  owner: { negativeSchedule?: { what: string; step: number; value: number } },
  what: 'noise' | 'diffusion',
  n: number,
  gamma: number,
): number {
  const s = compiled.ir[what];
  if (!s) return 0;
  const v = evalSchedule(s.node, n, n * gamma);
  if (!(v >= 0)) {
    owner.negativeSchedule ??= { what, step: n, value: v };
    return 0;
  }
  return v;
}

export class Stepper {
  readonly inner: InnerReport = { last: 0, max: 0, total: 0, unconverged: 0, worst: 0 };
  /** where the schedules were last seen negative (a warning) */
  negativeSchedule?: { what: string; step: number; value: number };
  get metric(): MetricIR {
    return this.compiled.ir.metric;
  }
  private readonly x: Float64Array;
  private readonly q: Float64Array;
  private readonly w: Float64Array | null;
  private readonly N: number;
  private readonly d: number;
  private readonly gamma: number;
  private readonly v: Float64Array;
  private readonly g: Float64Array;
  private readonly fv: Float64Array;
  private readonly draws: Float64Array;
  private readonly scratch: Float64Array[];
  private readonly one = new Float64Array(1);
  private readonly seed: number;
  private readonly nIndex: number;
  private readonly tIndex: number;
  private eta: number;

  constructor(
    private readonly compiled: Compiled,
    private readonly backend: Backend,
  ) {
    const flow = compiled.ir;
    const st = backend.state;
    this.x = st.positions;
    this.q = st.query;
    this.w = st.weights;
    this.d = flow.measures.find((m) => m.name === flow.particles)!.dim;
    this.N = this.x.length / this.d;
    this.gamma = flow.scheme.step;
    this.eta = this.gamma;
    this.seed = flow.seed;
    this.nIndex = compiled.layout.param.get('n:0')!;
    this.tIndex = compiled.layout.param.get('t:0')!;
    const len = this.x.length;
    this.v = new Float64Array(len);
    this.g = new Float64Array(len);
    this.fv = new Float64Array(this.N);
    this.draws = new Float64Array(len);
    this.scratch = [0, 1, 2, 3].map(() => new Float64Array(len));
  }

  /** What a checkpoint saves of the stepper (checkpoint.ts): the jko step size, the inner-iteration report, the schedule warning. */
  register(state: CheckpointState): void {
    state.value('stepper.eta', () => this.eta, (v) => (this.eta = v as number));
    state.value('stepper.inner', () => ({ ...this.inner }), (v) => Object.assign(this.inner, v));
    state.value('stepper.negativeSchedule', () => this.negativeSchedule ?? null, (v) => (this.negativeSchedule = (v as Stepper['negativeSchedule']) ?? undefined));
  }

  private setTime(n: number): void {
    this.backend.params[this.nIndex] = n;
    this.backend.params[this.tIndex] = n * this.gamma;
  }

  private schedule(what: 'noise' | 'diffusion', n: number): number {
    return scheduleLevel(this.compiled, this, what, n, this.gamma);
  }

  /** Point the query at the positions (after a noisy evaluation moved it). */
  private queryAtPositions(): void {
    if (this.q !== this.x) this.q.set(this.x);
  }

  /**
   * The metric's position velocity at the current state into `out`, evaluated
   * at x + beta u when beta > 0 (noise injection). Returns CG iterations (dab) or 0.
   */
  async positionVelocity(out: Float64Array, n: number, beta: number): Promise<void> {
    const flow = this.compiled.ir;
    if (beta > 0) {
      fillNormal(this.draws, this.seed, purposeId('noise'), n);
      for (let k = 0; k < this.x.length; k++) this.q[k] = this.x[k] + beta * this.draws[k];
    } else this.queryAtPositions();
    await this.backend.run('velocity', out);
    this.queryAtPositions();
    await PARTICLE_METRICS[flow.metric.name]!.solve?.(this, out, n);
  }

  /**
   * dab on particles: overwrite b (= -∇F' at the particles) with the solution
   * v of (β I + (α/N) H) v = b by conjugate gradients, H applied matrix-free
   * (the dabProduct program reads the rows (x_j, p_j) of state.cg).
   */
  async dabSolve(b: Float64Array, n: number): Promise<void> {
    const m = this.compiled.ir.metric;
    if (m.name !== 'dab') return;
    const [v, r, p, Ap] = this.scratch;
    const cg = this.backend.state.cg!;
    const { N, d } = this;
    for (let i = 0; i < N; i++) for (let c = 0; c < d; c++) cg[i * 2 * d + c] = this.x[i * d + c];
    const tol = CG_TOL[this.backend.precision];
    v.fill(0);
    r.set(b);
    p.set(b);
    let rr = dot(r, r);
    const bNorm = Math.sqrt(rr);
    let it = 0;
    let rel = 0;
    if (bNorm > 0)
      for (; it < CG_MAX_ITERATIONS; ) {
        for (let i = 0; i < N; i++) for (let c = 0; c < d; c++) cg[i * 2 * d + d + c] = p[i * d + c];
        await this.backend.run('dabProduct', Ap);
        for (let k = 0; k < Ap.length; k++) Ap[k] += m.beta * p[k];
        const pAp = dot(p, Ap);
        if (!(pAp > 0)) break; // breakdown: p is 0 to working precision
        const a = rr / pAp;
        for (let k = 0; k < v.length; k++) {
          v[k] += a * p[k];
          r[k] -= a * Ap[k];
        }
        it++;
        const rr1 = dot(r, r);
        rel = Math.sqrt(rr1) / bNorm;
        if (rel <= tol) break;
        const beta = rr1 / rr;
        rr = rr1;
        for (let k = 0; k < p.length; k++) p[k] = r[k] + beta * p[k];
      }
    this.noteInner(n, it, rel, rel > tol && bNorm > 0);
    b.set(v);
  }

  private noteInner(n: number, iterations: number, left: number, unconverged: boolean): void {
    const r = this.inner;
    r.last = iterations;
    r.max = Math.max(r.max, iterations);
    r.total += iterations;
    r.worst = Math.max(r.worst, left);
    if (unconverged) {
      r.unconverged++;
      r.firstUnconverged ??= { step: n, left };
    }
  }

  /** F'(mu)(x_i) at the particles into fv; returns its weighted mean. */
  async firstVariation(): Promise<number> {
    this.queryAtPositions();
    await this.backend.run('firstVariation', this.fv);
    let mean = 0;
    const w = this.w!;
    for (let i = 0; i < this.N; i++) mean += w[i] * this.fv[i];
    return mean;
  }

  /**
   * Fisher–Rao update of the weights with rate `rate` (KL: 1; WFR: b). The
   * exponents are shifted by their largest value before exp (the shift cancels
   * in the renormalisation), so a large step cannot overflow to ∞/∞.
   */
  updateWeights(mean: number, rate: number): void {
    const w = this.w!;
    const c = -this.gamma * rate;
    let top = -Infinity;
    for (let i = 0; i < this.N; i++) if (w[i] > 0) top = Math.max(top, c * (this.fv[i] - mean));
    let total = 0;
    for (let i = 0; i < this.N; i++) {
      // a weight that reached 0 stays 0 (and 0 · ∞ must not make a NaN)
      if (w[i] > 0) w[i] *= Math.exp(c * (this.fv[i] - mean) - top);
      total += w[i];
    }
    for (let i = 0; i < this.N; i++) w[i] /= total;
  }

  /**
   * One step n → n + 1. Returns false when the step ran on the backend's
   * device (Backend.deviceStep): the host positions are then stale until
   * the backend's sync().
   */
  async step(n: number): Promise<boolean> {
    const flow = this.compiled.ir;
    this.setTime(n);
    // the backend offers device steps only for flows they can run (explicit W2 Euler, no noise or diffusion)
    if (this.backend.deviceStep) {
      await this.backend.deviceStep(this.gamma);
      return false;
    }
    const beta = this.schedule('noise', n);
    const metric = PARTICLE_METRICS[flow.metric.name]!;
    if (flow.scheme.name === 'jko') await this.jko(n);
    else await metric.euler(this, n, beta);
    const tau = this.schedule('diffusion', n);
    if (tau > 0 && metric.movesPositions) {
      fillNormal(this.draws, this.seed, purposeId('diffusion'), n);
      const s = Math.sqrt(2 * tau * this.gamma);
      for (let k = 0; k < this.x.length; k++) this.x[k] += s * this.draws[k];
    }
    return true;
  }

  /** x += rate γ v, with v the metric's position velocity (noise injection at level beta). */
  async movePositions(n: number, beta: number, rate: number): Promise<void> {
    await this.positionVelocity(this.v, n, beta);
    for (let k = 0; k < this.x.length; k++) this.x[k] += this.gamma * rate * this.v[k];
  }

  /** The proximal objective G(y) = F(y) + (1/(2γ)) Σ_i w_i |y_i - x0_i|^2 at y = the positions. */
  private async proximal(x0: Float64Array): Promise<number> {
    await this.backend.run('energy', this.one);
    let s = 0;
    for (let k = 0; k < x0.length; k++) {
      const e = this.x[k] - x0[k];
      s += e * e;
    }
    return this.one[0] + s / (2 * this.gamma * this.N);
  }

  /** g = N ∂G/∂y at y = the positions: (y - x0)/γ - v(y); returns |g|^2. */
  private async proximalGradient(x0: Float64Array): Promise<number> {
    await this.backend.run('velocity', this.v);
    const { x, g, gamma } = this;
    let gg = 0;
    for (let k = 0; k < x.length; k++) {
      g[k] = (x[k] - x0[k]) / gamma - this.v[k];
      gg += g[k] * g[k];
    }
    return gg;
  }

  /**
   * The JKO step by gradient descent on G with step η ≤ γ (η = γ is the fixed
   * point iteration). A step is accepted when G decreases enough (Armijo);
   * where that decrease is below G's rounding error, when the gradient
   * shrinks instead (G cannot resolve it, its gradient can). Ends when the
   * largest change is below tol, or when no step size makes progress.
   */
  private async jko(n: number): Promise<void> {
    const { inner } = this.compiled.ir.scheme as { tol: number; inner: number };
    const [x0, prev, gPrev] = this.scratch;
    const { x, g, gamma, N } = this;
    x0.set(x);
    const tol = this.jkoTolerance(x0);
    let G = await this.proximal(x0);
    let gg = await this.proximalGradient(x0);
    let it = 0;
    let change = Infinity;
    while (it < inner && change >= tol) {
      prev.set(x);
      gPrev.set(g);
      const ggPrev = gg;
      let accepted = false;
      let fresh = false; // g holds the gradient at the accepted point
      for (let tries = 0; tries < JKO_BACKTRACKS && !accepted; tries++) {
        for (let k = 0; k < x.length; k++) x[k] = prev[k] - this.eta * gPrev[k];
        const wanted = (ARMIJO * this.eta * ggPrev) / N;
        if (wanted > 64 * Number.EPSILON * Math.abs(G)) {
          const G1 = await this.proximal(x0);
          if (G1 <= G - wanted) {
            G = G1;
            accepted = true;
          }
        } else {
          gg = await this.proximalGradient(x0);
          if (gg <= ggPrev) {
            accepted = fresh = true;
            G = await this.proximal(x0);
          }
        }
        if (!accepted) this.eta /= 2;
      }
      it++;
      if (!accepted) {
        // no step size makes progress: stationary to working precision
        x.set(prev);
        change = 0;
        break;
      }
      change = 0;
      for (let k = 0; k < x.length; k++) change = Math.max(change, Math.abs(x[k] - prev[k]));
      if (change >= tol && !fresh) gg = await this.proximalGradient(x0);
      this.eta = Math.min(gamma, 2 * this.eta);
    }
    this.noteInner(n, it, change, change >= tol);
  }

  /**
   * The jko tolerance on the largest change: the spec's tol, but on a float32
   * backend no smaller than 8 ulp of the largest coordinate (changes below
   * that are rounding, and the inner loop would run out chasing them).
   */
  jkoTolerance(x: Float64Array): number {
    const tol = this.compiled.ir.scheme.tol!;
    if (this.backend.precision === 'float64') return tol;
    let top = 0;
    for (let k = 0; k < x.length; k++) top = Math.max(top, Math.abs(x[k]));
    return Math.max(tol, 8 * 2 ** -24 * top);
  }

  /**
   * -dF/dt along the flow at the current state (noise and diffusion left out):
   * W2/jko E_w |v|^2; dab E[(-∇F')·v]; KL Var_w F'; WFR a E_w |v|^2 + b Var_w F'.
   */
  async dissipation(n: number): Promise<number> {
    this.setTime(n);
    return PARTICLE_METRICS[this.compiled.ir.metric.name]!.dissipation(this, n);
  }

  /** Var_w F' at the particles: the Fisher–Rao part of -dF/dt. */
  async weightDissipation(): Promise<number> {
    const mean = await this.firstVariation();
    let s = 0;
    for (let i = 0; i < this.N; i++) s += this.w![i] * (this.fv[i] - mean) ** 2;
    return s;
  }

  /**
   * E_w[(-∇F') · u] with u the metric's position velocity (u = -∇F' in W2):
   * the transport part of -dF/dt. A dab solve made here is not counted as a step's.
   */
  async positionDissipation(n: number): Promise<number> {
    this.queryAtPositions();
    await this.backend.run('velocity', this.g);
    this.v.set(this.g);
    const solve = PARTICLE_METRICS[this.compiled.ir.metric.name]!.solve;
    if (solve) {
      const saved = { ...this.inner };
      await solve(this, this.v, n);
      Object.assign(this.inner, saved);
    }
    let s = 0;
    for (let i = 0; i < this.N; i++) {
      const wi = this.w ? this.w[i] : 1 / this.N;
      let dot = 0;
      for (let c = 0; c < this.d; c++) dot += this.g[i * this.d + c] * this.v[i * this.d + c];
      s += wi * dot;
    }
    return s;
  }
}

/**
 * The metrics on particles, one entry each (DESIGN.md, "Metrics and schemes
 * are tables"; their programs: compiler/metrics.ts). `euler` is one explicit
 * step; `solve` turns -∇F' into the metric's position velocity in place;
 * `dissipation` is -dF/dt at the current state; `movesPositions` says whether
 * diffusion applies.
 */
interface ParticleMetric {
  euler(s: Stepper, n: number, beta: number): Promise<void>;
  solve?(s: Stepper, v: Float64Array, n: number): Promise<void>;
  dissipation(s: Stepper, n: number): Promise<number>;
  movesPositions: boolean;
}

export const PARTICLE_METRICS: Partial<Record<MetricIR['name'], ParticleMetric>> = {
  // x += γ v, v = -∇F'
  W2: {
    euler: (s, n, beta) => s.movePositions(n, beta, 1),
    dissipation: (s, n) => s.positionDissipation(n),
    movesPositions: true,
  },
  // w_i *= exp(-γ (F'_i - Σ_j w_j F'_j)), renormalised; positions fixed
  KL: {
    euler: async (s) => s.updateWeights(await s.firstVariation(), 1),
    dissipation: (s) => s.weightDissipation(),
    movesPositions: false,
  },
  // positions with rate a, weights with rate b, both from the same state
  WFR: {
    euler: async (s, n, beta) => {
      const m = s.metric as Extract<MetricIR, { name: 'WFR' }>;
      const mean = await s.firstVariation();
      await s.movePositions(n, beta, m.a);
      s.updateWeights(mean, m.b);
    },
    dissipation: async (s, n) => {
      const m = s.metric as Extract<MetricIR, { name: 'WFR' }>;
      return m.b * (await s.weightDissipation()) + m.a * (await s.positionDissipation(n));
    },
    movesPositions: true,
  },
  // v solves (β I + (α/N) H) v = -∇F' by conjugate gradients
  dab: {
    euler: (s, n, beta) => s.movePositions(n, beta, 1),
    solve: (s, v, n) => s.dabSolve(v, n),
    dissipation: (s, n) => s.positionDissipation(n),
    movesPositions: true,
  },
};

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k] * b[k];
  return s;
}
