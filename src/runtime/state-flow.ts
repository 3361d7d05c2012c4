// One time step of a parametric flow (LANGUAGE.md, "Parametric flows";
// DESIGN.md, "Parametric states"): the states theta move in the flow's
// metric (state-metrics.ts), the critics psi ascend the energy after each
// step. The backend evaluates the plan's programs (the push of each model,
// the gradients, the metric's matrices: reduction stages); the host writes
// the vectors into the parameters and does the O(p) updates and the dense
// p×p or M×M solves.
//
//   euler       theta <- theta - γ u(g)
//   jko         theta_{k+1} = argmin F(theta) + |theta - theta_k|^2 / (2γ), gradient steps with
//               Armijo backtracking (step η ≤ γ) until the largest change is < tol (metric euclid)
//   diffusion   + sqrt(2 τ_n γ) ξ after the move (Langevin in parameter space; metric euclid)
//   critic      psi <- psi + η ∇_psi F, `inner` times after every step

import type { Compiled } from '../compiler/compile.js';
import type { StateIR } from '../compiler/lower.js';
import { pushProgram } from '../compiler/parametric.js';
import type { Backend } from './backend-cpu.js';
import type { CheckpointState } from './checkpoint.js';
import { fillNormal, purposeId } from './rng.js';
import { scheduleLevel, type InnerReport } from './schemes.js';
import { STATE_METRIC_STEPS } from './state-metrics.js';

/** One evolving parameter vector and where its coordinates live in the backend's parameters. */
export interface Vector {
  ir: StateIR;
  data: Float64Array;
  slots: number[];
}

const JKO_BACKTRACKS = 40;
const ARMIJO = 1e-4;

export class StateStepper {
  readonly inner: InnerReport = { last: 0, max: 0, total: 0, unconverged: 0, worst: 0 };
  negativeSchedule?: { what: string; step: number; value: number };
  readonly vectors: Vector[];
  private readonly states: Vector[];
  private readonly critics: Vector[];
  /** number of state coordinates (all states, in declaration order) */
  readonly p: number;
  private readonly g: Float64Array;
  private readonly gPsi: Float64Array;
  /** the diffusion draws of one step (allocated once) */
  private readonly xi: Float64Array;
  private readonly gamma: number;
  private readonly nIndex: number;
  private readonly tIndex: number;
  private readonly one = new Float64Array(1);
  private eta: number;

  constructor(
    private readonly compiled: Compiled,
    private readonly backend: Backend,
  ) {
    const flow = compiled.ir;
    this.vectors = flow.states.map((v) => ({
      ir: v,
      data: Float64Array.from(v.init),
      slots: v.init.map((_, c) => compiled.layout.param.get(`${v.name}:${c}`)!),
    }));
    this.states = this.vectors.filter((v) => v.ir.role === 'state');
    this.critics = this.vectors.filter((v) => v.ir.role === 'critic');
    this.p = this.states.reduce((s, v) => s + v.ir.dim, 0);
    this.g = new Float64Array(this.p);
    this.xi = new Float64Array(this.p);
    this.gPsi = new Float64Array(this.critics.reduce((s, v) => s + v.ir.dim, 0));
    this.gamma = flow.scheme.step;
    this.eta = this.gamma;
    this.nIndex = compiled.layout.param.get('n:0')!;
    this.tIndex = compiled.layout.param.get('t:0')!;
  }

  /** What a checkpoint saves of the states and critics (checkpoint.ts): their coordinates, the jko step size, the inner report, the schedule warning. */
  register(state: CheckpointState): void {
    for (const v of this.vectors) state.array(`state:${v.ir.name}`, v.data);
    state.value('vectors.eta', () => this.eta, (v) => (this.eta = v as number));
    state.value('vectors.inner', () => ({ ...this.inner }), (v) => Object.assign(this.inner, v));
    state.value('vectors.negativeSchedule', () => this.negativeSchedule ?? null, (v) => (this.negativeSchedule = (v as StateStepper['negativeSchedule']) ?? undefined));
  }

  private setTime(n: number): void {
    this.backend.params[this.nIndex] = n;
    this.backend.params[this.tIndex] = n * this.gamma;
  }

  /** Write the vectors into the parameters and recompute every model's points from them. */
  async refresh(): Promise<void> {
    for (const v of this.vectors) v.slots.forEach((k, c) => (this.backend.params[k] = v.data[c]));
    for (const q of this.compiled.ir.models) await this.backend.run(pushProgram(q.name), this.backend.state.extra.get(q.name)!.data);
  }

  private get theta(): Float64Array {
    // the states' coordinates, concatenated (one state: its own array)
    if (this.states.length === 1) return this.states[0].data;
    const out = new Float64Array(this.p);
    let o = 0;
    for (const v of this.states) {
      out.set(v.data, o);
      o += v.ir.dim;
    }
    return out;
  }

  private setTheta(x: Float64Array): void {
    let o = 0;
    for (const v of this.states) {
      if (v.data !== x) v.data.set(x.subarray(o, o + v.ir.dim));
      o += v.ir.dim;
    }
  }

  /** ∇_theta F at the current (refreshed) state into this.g. */
  private async gradient(): Promise<Float64Array> {
    if (this.p) await this.backend.run('gradient', this.g);
    return this.g;
  }

  /** The metric's direction u at the current state (u = g in euclid). */
  private async direction(n: number): Promise<Float64Array> {
    const g = await this.gradient();
    const step = STATE_METRIC_STEPS[this.compiled.ir.metric.name];
    if (!step) throw new Error(`internal: no state metric ${this.compiled.ir.metric.name}`);
    return step({ compiled: this.compiled, backend: this.backend, p: this.p, seed: this.compiled.ir.seed }, g, n);
  }

  async step(n: number): Promise<boolean> {
    const flow = this.compiled.ir;
    this.setTime(n);
    if (this.p) {
      if (flow.scheme.name === 'jko') await this.jko(n);
      else {
        const u = await this.direction(n);
        const theta = this.theta;
        for (let c = 0; c < this.p; c++) theta[c] -= this.gamma * u[c];
        this.setTheta(theta);
      }
      const tau = this.schedule('diffusion', n);
      if (tau > 0) {
        const xi = this.xi;
        fillNormal(xi, flow.seed, purposeId('diffusion'), n);
        const theta = this.theta;
        const s = Math.sqrt(2 * tau * this.gamma);
        for (let c = 0; c < this.p; c++) theta[c] += s * xi[c];
        this.setTheta(theta);
      }
      await this.refresh();
    }
    await this.ascend();
    return true;
  }

  /** The critics' Euclidean ascent after a step: psi <- psi + η ∇_psi F, `inner` times. */
  async ascend(): Promise<void> {
    if (!this.critics.length) return;
    const rounds = Math.max(...this.critics.map((v) => v.ir.ascent!.inner));
    for (let k = 0; k < rounds; k++) {
      await this.backend.run('criticGradient', this.gPsi);
      let o = 0;
      for (const v of this.critics) {
        const { step, inner } = v.ir.ascent!;
        if (k < inner) for (let c = 0; c < v.ir.dim; c++) v.data[c] += step * this.gPsi[o + c];
        o += v.ir.dim;
      }
      await this.refresh();
    }
  }

  private schedule(what: 'diffusion', n: number): number {
    return scheduleLevel(this.compiled, this, what, n, this.gamma);
  }

  /** The energy at the current (refreshed) state. */
  private async energy(): Promise<number> {
    await this.backend.run('energy', this.one);
    return this.one[0];
  }

  /**
   * The proximal step in theta: gradient descent on G(y) = F(y) + |y - theta_k|^2/(2γ)
   * with step η ≤ γ, halved until G decreases enough (Armijo).
   */
  private async jko(n: number): Promise<void> {
    const { inner, tol } = this.compiled.ir.scheme as { inner: number; tol: number };
    const x0 = this.theta.slice();
    const y = x0.slice();
    const G = async () => {
      this.setTheta(y);
      await this.refresh();
      let s = 0;
      for (let c = 0; c < this.p; c++) s += (y[c] - x0[c]) ** 2;
      return (await this.energy()) + s / (2 * this.gamma);
    };
    let Gy = await G();
    let it = 0;
    let change = Infinity;
    const grad = new Float64Array(this.p);
    while (it < inner && change >= tol) {
      const g = await this.gradient();
      let gg = 0;
      for (let c = 0; c < this.p; c++) {
        grad[c] = g[c] + (y[c] - x0[c]) / this.gamma;
        gg += grad[c] * grad[c];
      }
      const prev = y.slice();
      let accepted = false;
      for (let tries = 0; tries < JKO_BACKTRACKS && !accepted; tries++) {
        for (let c = 0; c < this.p; c++) y[c] = prev[c] - this.eta * grad[c];
        const G1 = await G();
        if (G1 <= Gy - ARMIJO * this.eta * gg || ARMIJO * this.eta * gg <= 64 * Number.EPSILON * Math.abs(Gy)) {
          Gy = G1;
          accepted = true;
        } else this.eta /= 2;
      }
      it++;
      change = 0;
      for (let c = 0; c < this.p; c++) change = Math.max(change, Math.abs(y[c] - prev[c]));
      if (!accepted) {
        y.set(prev);
        change = 0;
      }
      this.eta = Math.min(this.gamma, 2 * this.eta);
    }
    this.setTheta(y);
    const r = this.inner;
    r.last = it;
    r.max = Math.max(r.max, it);
    r.total += it;
    r.worst = Math.max(r.worst, change);
    if (change >= tol) {
      r.unconverged++;
      r.firstUnconverged ??= { step: n, left: change };
    }
  }

  /** -dF/dt along the flow at the current state: gᵀ u (critics and diffusion left out). */
  async dissipation(n: number): Promise<number> {
    if (!this.p) return 0;
    this.setTime(n);
    const g = (await this.gradient()).slice();
    const u = this.compiled.ir.scheme.name === 'jko' ? g : await this.direction(n);
    let s = 0;
    for (let c = 0; c < this.p; c++) s += g[c] * u[c];
    return s;
  }

  /** The first coordinate that is NaN or infinite, named. */
  check(step: number): { step: number; quantity: string; value: number } | undefined {
    for (const v of this.vectors)
      for (let c = 0; c < v.data.length; c++)
        if (!Number.isFinite(v.data[c])) return { step, quantity: `${v.ir.name}[${c}] (the ${v.ir.role} '${v.ir.name}')`, value: v.data[c] };
    return undefined;
  }
}
