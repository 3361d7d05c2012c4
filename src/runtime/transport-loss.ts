// W2² as a loss (LANGUAGE.md, "Record items"; docs/language.md): the
// `w2(a, b)^2` terms of an energy, computed on the host each time the
// measures have moved.
//
// In the compiled energy each term is a parameter P = W2²(a, b)
// (FlowIR.transportLosses). Before a program that reads the energy runs, the
// optimal assignment T between the current clouds is found (transport.ts:
// exact for two uniform clouds of the same size up to EXACT_MAX points,
// Sinkhorn's barycentric map otherwise, with the epsilon chosen at the first
// evaluation and kept for the run) and P is set to W2². By the envelope
// theorem T is held fixed when differentiating, so the term's first
// variation has the gradient 2 (x - T(x)) at a point x of the moving
// measure; the energy may use P in any way (a coefficient, a sum with other
// terms), so the gradient is scaled by c = ∂F/∂P, a closed program of the
// plan (TRANSPORT_COEFFICIENTS):
//
//   particles   v(x_i) -= c · 2 (x_i - T(x_i))                  added to the velocity program's output
//   model q     g_theta += c · (1/N) sum_n J_n^T 2 (G_n - T(G_n))  J_n = ∂G(theta, z_n)/∂theta (program jacobian:q)
//
// The wrapper below runs the backend's programs unchanged and adds these
// host terms, so every metric and scheme that reads the velocity or the
// gradient (W2, dab, jko; euclid, dab, W2natural and KL(eps) on states)
// sees the loss. No N×N array exists in a kernel; the exact solver holds one
// dense n×n cost matrix on the host (8 n² bytes), Sinkhorn O(n + m).

import type { Compiled } from '../compiler/compile.js';
import { TRANSPORT_COEFFICIENTS } from '../compiler/compile.js';
import { jacobianProgramName } from '../compiler/parametric.js';
import type { Backend } from './backend-cpu.js';
import type { CheckpointState } from './checkpoint.js';
import type { MeasureData } from './inputs.js';
import { barycentricMaps, exactPlan, sinkhornW2, w2Method, type Cloud, type SinkhornPotentials } from './transport.js';

/** Marginal error at which a loss's Sinkhorn stops (as for a recorded w2). */
const SINKHORN_LOSS_TOL = 1e-6;

/** How a loss term is computed: run.json's `transport` and the run summary. */
export type TransportMethod = { method: 'exact' } | { method: 'sinkhorn'; eps: number };

interface Term {
  key: string;
  a: string;
  b: string;
  slot: number;
  how?: TransportMethod;
  init?: SinkhornPotentials;
  /** copies of both clouds' points when T was last computed */
  seen?: [Float64Array, Float64Array];
  value2: number;
  /** T at the points of a (into b) and at the points of b (into a) */
  Ta?: Float64Array;
  Tb?: Float64Array;
}

/** Programs whose roots read the energy (and so its W2² parameters). */
const READS_ENERGY = new Set(['velocity', 'energy', 'observe', 'gradient', 'criticGradient', 'firstVariation', TRANSPORT_COEFFICIENTS]);

export interface TransportLosses {
  backend: Backend;
  /** key: `w2(a, b)^2 in F` */
  methods(): Record<string, TransportMethod>;
  register(state: CheckpointState): void;
}

/** A backend that adds the flow's W2² loss terms to what it computes; undefined when the energy has none. */
export function transportLosses(compiled: Compiled, measures: MeasureData[], inner: Backend): TransportLosses | undefined {
  const flow = compiled.ir;
  const losses = flow.transportLosses ?? [];
  if (!losses.length) return undefined;
  const terms: Term[] = losses.map((l) => ({ key: `${l.text} in ${flow.energy.name}`, a: l.a, b: l.b, slot: compiled.layout.param.get(`${l.param}:0`)!, value2: NaN }));
  const measure = (name: string) => measures.find((m) => m.name === name)!;
  const pointsOf = (name: string): Float64Array =>
    name === flow.particles ? inner.state.positions : (inner.state.extra.get(name)?.data ?? measure(name).data);
  const cloud = (name: string): Cloud => ({ points: pointsOf(name), n: measure(name).size, d: measure(name).dim });
  const coefficients = new Float64Array(terms.length);
  const states = flow.states.filter((v) => v.role === 'state');
  const p = states.reduce((s, v) => s + v.dim, 0);
  const jacobians = new Map(flow.models.filter((q) => terms.some((t) => t.a === q.name || t.b === q.name)).map((q) => [q.name, new Float64Array(measure(q.name).size * q.dim * p)]));

  const solve = (t: Term): void => {
    const a = cloud(t.a);
    const b = cloud(t.b);
    if (t.seen && same(t.seen[0], a.points) && same(t.seen[1], b.points)) return;
    t.how ??= w2Method(a, b);
    if (t.how.method === 'exact') {
      const r = exactPlan(a, b);
      t.value2 = r.value2;
      const { d } = a;
      const Ta = new Float64Array(a.n * d);
      const Tb = new Float64Array(b.n * d);
      if (r.perm)
        for (let i = 0; i < a.n; i++) {
          const j = r.perm[i];
          for (let k = 0; k < d; k++) {
            Ta[i * d + k] = b.points[j * d + k];
            Tb[j * d + k] = a.points[i * d + k];
          }
        }
      else (Ta.fill(NaN), Tb.fill(NaN));
      [t.Ta, t.Tb] = [Ta, Tb];
    } else {
      const eps = t.how.eps;
      if (!(eps > 0 && Number.isFinite(eps))) {
        // clouds so far apart that the mean squared distance overflows
        t.value2 = Infinity;
        t.Ta = new Float64Array(a.n * a.d).fill(NaN);
        t.Tb = new Float64Array(b.n * b.d).fill(NaN);
      } else {
        const r = sinkhornW2(a, b, eps, { tol: SINKHORN_LOSS_TOL, init: t.init });
        t.init = r.potentials;
        t.value2 = r.value * r.value;
        ({ Ta: t.Ta, Tb: t.Tb } = barycentricMaps(a, b, eps, r.potentials));
      }
    }
    t.seen = [a.points.slice(), b.points.slice()];
  };

  /** W2² of every term into the parameters. */
  const prepare = (): void => {
    for (const t of terms) {
      solve(t);
      inner.params[t.slot] = t.value2;
    }
  };

  /** out -= c · 2 (x - T x) at the particles (out: the velocity, N × d). */
  const addToVelocity = async (out: Float64Array): Promise<void> => {
    await inner.run(TRANSPORT_COEFFICIENTS, coefficients);
    const x = inner.state.positions;
    terms.forEach((t, k) => {
      const T = t.a === flow.particles ? t.Ta! : t.b === flow.particles ? t.Tb! : undefined;
      if (!T) return;
      const c = 2 * coefficients[k];
      for (let i = 0; i < x.length; i++) out[i] -= c * (x[i] - T[i]);
    });
  };

  /** g += c · (1/N) sum_n J_n^T 2 (G_n - T(G_n)) for each model a term moves (g: the states' gradient). */
  const addToGradient = async (g: Float64Array): Promise<void> => {
    await inner.run(TRANSPORT_COEFFICIENTS, coefficients);
    for (const [q, J] of jacobians) {
      const used = terms.map((t, k) => ({ t, k })).filter(({ t }) => t.a === q || t.b === q);
      if (!used.length) continue;
      await inner.run(jacobianProgramName(q), J);
      const G = pointsOf(q);
      const { size: N, dim: d } = measure(q);
      for (const { t, k } of used) {
        const T = t.a === q ? t.Ta! : t.Tb!;
        const c = (2 * coefficients[k]) / N;
        for (let n = 0; n < N; n++)
          for (let a = 0; a < d; a++) {
            const r = c * (G[n * d + a] - T[n * d + a]);
            const row = (n * d + a) * p;
            for (let j = 0; j < p; j++) g[j] += J[row + j] * r;
          }
      }
    }
  };

  const run = async (program: string, out: Float64Array): Promise<void> => {
    if (READS_ENERGY.has(program)) prepare();
    await inner.run(program, out);
    if (program === 'velocity') await addToVelocity(out);
    else if (program === 'gradient') await addToGradient(out);
  };

  // everything else passes through; no device steps (the host adds to each velocity)
  const backend: Backend = {
    get name() {
      return inner.name;
    },
    precision: inner.precision,
    params: inner.params,
    state: inner.state,
    setup: () => inner.setup(),
    run,
    velocity: (out) => run('velocity', out),
    observe: async (out) => {
      prepare();
      await inner.observe(out);
    },
    ...(inner.sync ? { sync: () => inner.sync!() } : {}),
    ...(inner.describe ? { describe: () => inner.describe!() } : {}),
    ...(inner.dispose ? { dispose: () => inner.dispose!() } : {}),
  };
  return {
    backend,
    methods: () => Object.fromEntries(terms.flatMap((t) => (t.how ? [[t.key, t.how]] : []))),
    register: (state) => {
      for (const t of terms)
        state.value(
          `w2loss.potentials:${t.key}`,
          () => (t.init ? { f: Array.from(t.init.f), g: Array.from(t.init.g), how: t.how ?? null } : t.how ? { how: t.how } : null),
          (v) => {
            const s = v as { f?: number[]; g?: number[]; how?: TransportMethod | null } | null;
            t.init = s?.f && s.g ? { f: Float64Array.from(s.f), g: Float64Array.from(s.g) } : undefined;
            t.how = s?.how ?? undefined;
            t.seen = undefined;
          },
        );
    },
  };
}

function same(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}
