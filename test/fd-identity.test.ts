// The compiler's main correctness property (DESIGN.md, "The core idea"): the
// W2 velocity the compiler derives, v(x_i) = -grad_x F'(mu)(x_i), equals
// -N dF(mu_x)/dx_i, the gradient of the energy as a function of the particle
// positions. Random energies are generated as .flow source text (fast-check
// drives a small typed expression grammar), compiled, and the velocity of the
// cpu backend is compared with a finite difference of the energy that the
// same backend observes. Two cross-checks isolate a failure: the energy and
// the velocity are also evaluated by a slow tree interpreter of the IR
// (test/interpret.ts), independently of scheduling and code generation.

import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runFile } from '../src/api.js';
import { compile, type Compiled } from '../src/compiler/compile.js';
import { CpuBackend } from '../src/runtime/backend-cpu.js';
import { loadMeasures, type MeasureData } from '../src/runtime/inputs.js';
import { envOf, interpret } from './interpret.js';
import { SMALL_FLOWS, tempDir } from './helpers.js';

// ------------------------------------------------------------ harness

interface Prepared {
  compiled: Compiled;
  measures: MeasureData[];
  positions: Float64Array;
  backend: CpuBackend;
  N: number;
  dim: number;
}

function prepare(source: string, overrides?: Record<string, number[]>): Prepared {
  const r = compile(source, { file: path.join(os.tmpdir(), 'fd-identity.flow'), overrides });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (!r.compiled || errors.length)
    throw new Error(`the spec did not compile:\n${errors.map((d) => `${d.span?.line}:${d.span?.column} ${d.message}`).join('\n')}\n---\n${source}`);
  const compiled = r.compiled;
  const { measures } = loadMeasures(compiled.ir);
  const particles = measures.find((m) => m.name === compiled.ir.particles)!;
  const positions = particles.data.slice();
  const backend = new CpuBackend(compiled, measures, positions);
  backend.setup();
  return { compiled, measures, positions, backend, N: particles.size, dim: particles.dim };
}

/** The energy as the backend observes it, at the current positions. */
function energy(p: Prepared): number {
  const out = new Float64Array(p.compiled.observed.length);
  p.backend.observe(out);
  return out[0];
}

/** -N dF/dx_k by a fourth-order central difference, positions perturbed in place and restored. */
function fdVelocity(p: Prepared): Float64Array {
  const x = p.positions;
  const out = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) {
    const x0 = x[k];
    const h = 1e-4 * Math.max(1, Math.abs(x0));
    const at = (d: number) => {
      x[k] = x0 + d;
      const f = energy(p);
      x[k] = x0;
      return f;
    };
    const dF = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h);
    out[k] = -p.N * dF;
  }
  return out;
}

function velocity(p: Prepared): Float64Array {
  const v = new Float64Array(p.positions.length);
  p.backend.velocity(v);
  return v;
}

function interpreterEnv(p: Prepared) {
  const params: Record<string, number[]> = { n: [0], t: [0] };
  for (const q of p.compiled.ir.params) params[q.name] = q.value;
  for (const m of p.measures) params[`size(${m.name})`] = [m.size];
  const measures = p.measures.map((m) => (m.name === p.compiled.ir.particles ? { ...m, data: p.positions } : m));
  return envOf(params, measures);
}

/** The energy and the velocity evaluated from the IR by the tree interpreter. */
function interpreted(p: Prepared): { F: number; v: Float64Array } {
  const env = interpreterEnv(p);
  const F = interpret(p.compiled.ir.energy.node, env);
  const v = new Float64Array(p.positions.length);
  for (let i = 0; i < p.N; i++)
    p.compiled.velocity.forEach((node, c) => {
      v[i * p.dim + c] = interpret(node, env, new Map([[p.compiled.queryVar.id, { data: p.positions, offset: i * p.dim }]]));
    });
  return { F, v };
}

const maxAbs = (a: Float64Array) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const maxDiff = (a: Float64Array, b: Float64Array) => a.reduce((m, x, k) => Math.max(m, Math.abs(x - b[k])), 0);

const FD_RTOL = 1e-6;
const FD_FLOOR = 1e-2;

/** All three checks on one spec; throws with the source in the message. */
function checkIdentity(source: string, overrides?: Record<string, number[]>): { vmax: number; ratio: number } {
  const p = prepare(source, overrides);
  const before = p.positions.slice();
  const v = velocity(p);
  const F = energy(p);
  const fd = fdVelocity(p);
  const ref = interpreted(p);
  const fail = (what: string) => {
    throw new Error(
      `${what}\nvelocity  ${Array.from(v, (x) => x.toPrecision(8)).join(' ')}\n-N dF/dx  ${Array.from(fd, (x) => x.toPrecision(8)).join(' ')}\n` +
        `interpreted v ${Array.from(ref.v, (x) => x.toPrecision(8)).join(' ')}\nF = ${F}, interpreted F = ${ref.F}\n---\n${source}` +
        (overrides ? `\n--set ${JSON.stringify(overrides)}` : ''),
    );
  };
  if (!p.positions.every((x, k) => Object.is(x, before[k]))) fail('the positions were not restored');
  if (!Number.isFinite(F) || !v.every(Number.isFinite)) fail('non-finite energy or velocity');
  if (Math.abs(F - ref.F) > 1e-9 * Math.max(1, Math.abs(ref.F))) fail('the observed energy differs from the interpreted IR');
  if (maxDiff(v, ref.v) > 1e-9 * Math.max(1, maxAbs(ref.v))) fail('the generated velocity differs from the interpreted velocity IR');
  const scale = Math.max(maxAbs(v), FD_FLOOR);
  const ratio = maxDiff(v, fd) / scale;
  if (!(ratio <= FD_RTOL)) fail(`v != -N dF/dx: max error / max(|v|, ${FD_FLOOR}) = ${ratio}`);
  return { vmax: maxAbs(v), ratio };
}

// ------------------------------------------------------------ the generator

/** A stream of choices drawn by fast-check; exhausted, it answers 0 (the simplest choice). */
class Choices {
  private i = 0;
  constructor(private readonly xs: readonly number[]) {}
  int(n: number): number {
    const v = this.i < this.xs.length ? this.xs[this.i++] : 0;
    return v % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

type Ty = { t: 'scalar' } | { t: 'vec'; n: number } | { t: 'record'; blocks: { name: string; ty: Ty }[] };
interface Var {
  name: string;
  ty: Ty;
}

const SCALAR: Ty = { t: 'scalar' };
const CONSTANTS = ['0.5', '1.5', '0.7', '2', '0.3', '1.2', '0.25', '0.9'];
const SIGNED = [...CONSTANTS, '-0.5', '-1.3', '-0.8', '-2'];

/** Scalar and vector leaves that a variable of type ty offers. */
function scalarLeaves(v: Var): string[] {
  const ty = v.ty;
  if (ty.t === 'scalar') return [v.name];
  if (ty.t === 'vec') return Array.from({ length: ty.n }, (_, i) => `${v.name}[${i}]`);
  return ty.blocks.flatMap((b) => scalarLeaves({ name: `${v.name}.${b.name}`, ty: b.ty }));
}
function vectorLeaves(v: Var, n: number): string[] {
  const ty = v.ty;
  if (ty.t === 'vec') return ty.n === n ? [v.name] : [];
  if (ty.t === 'record') return ty.blocks.flatMap((b) => vectorLeaves({ name: `${v.name}.${b.name}`, ty: b.ty }, n));
  return [];
}

class Gen {
  readonly features = new Set<string>();
  constructor(private readonly ch: Choices) {}

  private note(f: string) {
    this.features.add(f);
  }

  /** A smooth scalar expression over vars (let constants a: R, b: R^2 are global). */
  scalar(vars: Var[], depth: number): string {
    const ch = this.ch;
    const S = () => this.scalar(vars, depth - 1);
    const dims = [...new Set(vars.flatMap((v) => [2, 3].filter((n) => vectorLeaves(v, n).length)))];
    const n = dims.length ? ch.pick(dims) : 2;
    const V = () => this.vector(vars, n, depth - 1);
    const form = depth <= 0 ? 0 : ch.int(24);
    switch (form) {
      case 0: {
        const leaves = vars.flatMap(scalarLeaves);
        const k = ch.int(10);
        if (k < 7 && leaves.length) return ch.pick(leaves);
        if (k < 8) return ch.pick(['a', 'b[0]', 'b[1]']);
        return ch.pick(SIGNED.map((c) => (c.startsWith('-') ? `(${c})` : c)));
      }
      case 1: return `(${S()} + ${S()})`;
      case 2: return `(${S()} - ${S()})`;
      case 3: return `(${S()} * ${S()})`;
      case 4: return `(${ch.pick(SIGNED)} * ${S()})`;
      case 5: return `(${S()} / ${ch.pick(SIGNED)})`;
      // oscillating functions get a bounded argument: sin(x^9) oscillates faster
      // than a finite difference can resolve
      case 6: this.note('sin'); return `sin(2 * tanh(${S()}))`;
      case 7: this.note('cos'); return `cos(2 * tanh(${S()}))`;
      case 8: this.note('tanh'); return `tanh(${S()})`;
      case 9: this.note('sigmoid'); return `sigmoid(${S()})`;
      case 10: this.note('exp'); return `exp(-(${S()})^2)`;
      case 11: this.note('exp'); return `exp(tanh(${S()}))`;
      case 12: this.note('log'); return `log(1 + (${S()})^2)`;
      case 13: this.note('sqrt'); return `sqrt(1 + (${S()})^2)`;
      case 14: this.note('sqrt'); this.note('|v|^2'); return `sqrt(1 + |${V()}|^2)`;
      case 15: this.note('dot'); return `dot(${V()}, ${V()})`;
      case 16: this.note('|v|^2'); return `|${V()} - ${V()}|^2`;
      case 17: this.note('index'); return `(${V()})[${ch.int(n)}]`;
      case 18: return `(-${S()})`;
      case 19: this.note('div'); return `(${S()} / (2 + tanh(${S()})))`;
      case 20: this.note('pow'); return `(1 + (${S()})^2)^(-0.5)`;
      case 21: this.note('pow'); return `(${S()})^3`;
      case 22: this.note('sum'); return `sum(${V()})`;
      default: this.note('norm-smooth'); return `(${S()} * exp(-|${V()}|^2 / 4))`;
    }
  }

  vector(vars: Var[], n: number, depth: number): string {
    const ch = this.ch;
    const S = () => this.scalar(vars, depth - 1);
    const V = () => this.vector(vars, n, depth - 1);
    const form = depth <= 0 ? 0 : ch.int(8);
    switch (form) {
      case 0: {
        const leaves = [...vars.flatMap((v) => vectorLeaves(v, n)), ...(n === 2 ? ['b'] : [])];
        if (leaves.length && ch.int(4) > 0) return ch.pick(leaves);
        return `[${Array.from({ length: n }, () => this.scalar(vars, 0)).join(', ')}]`;
      }
      case 1: return `(${V()} + ${V()})`;
      case 2: return `(${V()} - ${V()})`;
      case 3: return `(${S()} * ${V()})`;
      case 4: return `(${V()} / ${ch.pick(SIGNED)})`;
      case 5: return `(-${V()})`;
      case 6: return `[${Array.from({ length: n }, () => S()).join(', ')}]`;
      default: return `(${ch.pick(SIGNED)} * ${V()})`;
    }
  }
}

interface Space {
  text: string;
  ty: Ty;
  dist: string;
}

const SPACES: Space[] = [
  { text: 'R', ty: SCALAR, dist: 'normal(0, 1)' },
  { text: 'R^2', ty: { t: 'vec', n: 2 }, dist: 'normal(0, 1)' },
  { text: 'R^3', ty: { t: 'vec', n: 3 }, dist: 'normal(0.2, 0.8)' },
  {
    text: '(w: R, theta: R^2)',
    ty: { t: 'record', blocks: [{ name: 'w', ty: SCALAR }, { name: 'theta', ty: { t: 'vec', n: 2 } }] },
    dist: '(w: normal(0, 1), theta: normal(0, 1))',
  },
  {
    text: '(p: R^2, q: R)',
    ty: { t: 'record', blocks: [{ name: 'p', ty: { t: 'vec', n: 2 } }, { name: 'q', ty: SCALAR }] },
    dist: '(p: uniform(-1, 1), q: normal(0.5, 1))',
  },
];
const DATA_SPACES: Space[] = SPACES.slice(0, 3);

interface Generated {
  source: string;
  overrides?: Record<string, number[]>;
  features: Set<string>;
}

/** The squared distance of two points of a space, as source text. */
function dist2(ty: Ty, x: string, y: string): string {
  if (ty.t !== 'record') return `|${x} - ${y}|^2`;
  return ty.blocks.map((b) => (b.ty.t === 'scalar' ? `(${x}.${b.name} - ${y}.${b.name})^2` : `|${x}.${b.name} - ${y}.${b.name}|^2`)).join(' + ');
}

/** The number of variants of each kind of term (see generate). */
const TERM_VARIANTS = [2, 3, 3, 2, 1, 4, 1, 1, 1, 1, 2, 2, 4];

/**
 * A random spec from a stream of choices. `force` fixes the space, and the
 * kind and variant of the first term (the deterministic sweep).
 */
function generate(choices: number[], force?: { space: number; kind: number; variant: number }): Generated {
  const ch = new Choices(choices);
  const g = new Gen(ch);
  const P = force ? SPACES[force.space] : ch.pick(SPACES);
  const D = ch.pick(DATA_SPACES);
  const N = 5 + ch.int(4);
  const M = 4 + ch.int(3);
  const K = 4 + ch.int(3);
  const depth = 2 + ch.int(3);
  const seed = ch.int(1000);
  g.features.add(`space ${P.text}`);
  const x = (name: string): Var => ({ name, ty: P.ty });
  const z = (name: string): Var => ({ name, ty: D.ty });
  const fns: string[] = [];
  const terms: string[] = [];

  const nTerms = 1 + ch.int(3);
  for (let i = 0; i < nTerms; i++) {
    const forced = i === 0 && force !== undefined;
    const kind = forced ? force.kind : ch.int(TERM_VARIANTS.length);
    const variant = (xs: string[]) => (forced ? xs[force.variant % xs.length] : ch.pick(xs));
    let term: string;
    switch (kind) {
      case 0: {
        fns.push(`fn V${i}(x) = ${g.scalar([x('x')], depth)}`);
        term = variant([`E[x ~ mu] V${i}(x)`, `potential(mu; V${i})`]);
        g.features.add(term.startsWith('E') ? 'potential E' : 'potential()');
        break;
      }
      case 1: {
        fns.push(`fn W${i}(x, y) = ${g.scalar([x('x'), x('y')], depth)}`);
        term = variant([`E[x ~ mu, y ~ mu] W${i}(x, y)`, `interaction(mu; W${i})`, `E[x ~ mu] E[y ~ mu] W${i}(x, y)`]);
        g.features.add(term.startsWith('E') ? 'interaction E' : 'interaction()');
        break;
      }
      case 2: {
        const body =
          ch.int(2) === 0
            ? `exp(-(${dist2(P.ty, 'x', 'y')}) / (2 * s^2))`
            : `exp(-(${dist2(P.ty, 'x', 'y')}) / 3) * (1 + 0.5 * tanh(${g.scalar([x('x'), x('y')], depth - 1)}))`;
        fns.push(`kernel k${i}(x, y) = ${body}`);
        term = variant([`mmd2(mu, nu; k${i})`, `mmd2(nu, mu; k${i})`, `E[x ~ mu, y ~ nu] k${i}(x, y)`]);
        g.features.add(term.startsWith('E') ? 'kernel cross term' : 'mmd2()');
        break;
      }
      case 3: {
        fns.push(`fn phi${i}(x, z) = ${g.scalar([x('x'), z('z')], depth)}`);
        const outer = [
          () => `(s - ${g.scalar([z('z')], 1)})^2`,
          () => `tanh(s) * ${g.scalar([z('z')], 1)}`,
          () => g.scalar([{ name: 's', ty: SCALAR }, z('z')], depth),
        ];
        fns.push(`fn g${i}(s, z) = ${ch.pick(outer)()}`);
        term = variant([
          `E[z ~ data] g${i}(E[x ~ mu] phi${i}(x, z), z)`,
          `1/2 * E[z ~ data] (E[x ~ mu] phi${i}(x, z) - E[v ~ nu] phi${i}(v, z))^2`,
        ]);
        g.features.add('nested E[z] g(E[x] phi)');
        break;
      }
      case 4: {
        fns.push(`fn h${i}(x, y, z) = ${g.scalar([x('x'), x('y'), z('z')], depth)}`);
        fns.push(`fn g${i}(s) = ${ch.pick(['sin(2 * tanh(s))', '(s - 0.3)^2', 'log(1 + s^2)', 'sigmoid(2 * s)'])}`);
        term = `E[z ~ data] g${i}(E[x ~ mu, y ~ mu] h${i}(x, y, z))`;
        g.features.add('triple nested (inline loop)');
        break;
      }
      case 5: {
        fns.push(`fn V${i}(x) = ${g.scalar([x('x')], depth)}`);
        fns.push(`fn U${i}(x) = ${g.scalar([x('x')], depth)}`);
        term = variant([
          `(E[x ~ mu] V${i}(x)) * (E[y ~ mu] U${i}(y))`,
          `sin(2 * tanh(E[x ~ mu] V${i}(x)))`,
          `log(1 + (E[x ~ mu] V${i}(x))^2) + E[y ~ mu] U${i}(y)`,
          `(E[x ~ mu] V${i}(x))^2`,
        ]);
        g.features.add('nonlinear function of expectations');
        break;
      }
      case 6: {
        fns.push(`fn h${i}(x, z, r) = ${g.scalar([x('x'), z('z'), x('r')], depth)}`);
        term = `E[z ~ data] E[r ~ nu] tanh(E[x ~ mu] h${i}(x, z, r))`;
        g.features.add('inline expectation over mu inside fixed measures');
        break;
      }
      case 7: {
        // an expectation over a fixed measure inside a function
        fns.push(`fn T${i}(x) = E[v ~ nu] ${g.scalar([x('x'), x('v')], depth - 1)}`);
        term = `E[x ~ mu] (T${i}(x) * ${g.scalar([x('x')], depth - 1)})`;
        g.features.add('expectation inside fn');
        break;
      }
      case 8: {
        if (P.ty.t === 'record') {
          const names = P.ty.blocks.map((b) => b.name);
          const blockVars = P.ty.blocks.map((b, j) => ({ name: `c${j}`, ty: b.ty }));
          fns.push(`fn Q${i}(${blockVars.map((v) => v.name).join(', ')}) = ${g.scalar(blockVars, depth)}`);
          term = `E[(${blockVars.map((v) => v.name).join(', ')}) ~ mu] Q${i}(${blockVars.map((v) => v.name).join(', ')})`;
          g.features.add(`destructured record binder (${names.join(', ')})`);
        } else {
          term = `E[x ~ mu] ${g.scalar([x('x')], depth)}`;
          g.features.add('inline body');
        }
        break;
      }
      case 9: {
        fns.push(`fn W${i}(x, y) = ${g.scalar([x('x'), x('y')], depth)}`);
        term = `E[y ~ nu, x ~ mu] W${i}(x, y)`;
        g.features.add('product binder mu after nu');
        break;
      }
      case 10: {
        // the expectation of a vector-valued function: mean matching
        fns.push(`fn m${i}(x) = ${g.vector([x('x')], 2, depth - 1)}`);
        term = variant([`|E[x ~ mu] m${i}(x) - E[y ~ nu] m${i}(y)|^2`, `dot(E[x ~ mu] m${i}(x), b + E[x ~ mu] m${i}(x))`]);
        g.features.add('vector-valued expectation');
        break;
      }
      case 12: {
        // distinct pairs: smooth bodies, and bodies infinite on the diagonal
        // (the skipped pair must not leak a NaN into the sums or the velocity)
        fns.push(`fn W${i}(x, y) = ${g.scalar([x('x'), x('y')], depth)}`);
        fns.push(`kernel k${i}(x, y) = exp(-(${dist2(P.ty, 'x', 'y')}) / (2 * s^2))`);
        term = variant([
          `E[x ~ mu, y ~ mu, x != y] W${i}(x, y)`,
          `E[x ~ mu, y ~ mu, x != y] (W${i}(x, y) - 0.2 * log(${dist2(P.ty, 'x', 'y')}))`,
          `mmd2u(mu, nu; k${i})`,
          `size(mu) / (size(mu) - 1) * E[y ~ mu, z ~ data, x ~ mu, y != x] W${i}(x, y) * exp(-(${g.scalar([z('z')], 1)})^2)`,
        ]);
        g.features.add(term.startsWith('mmd2u') ? 'mmd2u()' : term.includes('log') ? 'distinct pairs, singular' : 'distinct pairs');
        break;
      }
      default: {
        fns.push(`fn V${i}(x) = ${g.scalar([x('x')], depth)}`);
        fns.push(`fn W${i}(x, y) = ${g.scalar([x('x'), x('y')], depth)}`);
        term = variant([
          `E[x ~ mu] V${i}(x) / (1 + (E[x ~ mu, y ~ mu] W${i}(x, y))^2)`,
          `exp(-(E[x ~ mu, y ~ mu] W${i}(x, y))^2) * E[x ~ mu] V${i}(x)`,
        ]);
        g.features.add('quotient and product of expectations');
        break;
      }
    }
    const coef = ch.pick(['', '0.5 * ', 'a * ', '2 * ', '-0.3 * ', 'c * ']);
    terms.push(`${coef}(${term})`);
  }
  const energy = terms.map((t, i) => (i === 0 ? t : `${ch.int(3) === 0 ? '-' : '+'} ${t}`)).join('\n         ');
  const overrides = ch.int(3) === 0 ? { a: [Number(ch.pick(SIGNED))] } : undefined;
  if (overrides) g.features.add('--set override');
  const source = `flow generated
seed ${seed}
let a = 0.8
let b = [0.4, -0.6]
let c = a * 1.5 - 0.2
let s = 0.9
particles mu in ${P.text}: ${N} ~ ${P.dist}
sample nu in ${P.text}: ${M} ~ ${P.dist}
sample data in ${D.text}: ${K} ~ ${D.dist}
${fns.join('\n')}
energy F = ${energy}
scheme euler(step = 0.1, steps = 1)
record every 1: F
`;
  return { source, overrides, features: g.features };
}

// ------------------------------------------------------------ tests

/** A deterministic stream of choices (mulberry32), for the sweep. */
function seededChoices(seed: number, length = 400): number[] {
  let a = seed >>> 0;
  return Array.from({ length }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % 1_000_000;
  });
}

describe('v(x_i) = -N dF(mu_x)/dx_i', () => {
  it('holds for random smooth energies (fast-check, 100 specs)', () => {
    let checked = 0;
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1_000_000 }), { minLength: 200, maxLength: 500 }), (choices) => {
        const gen = generate(choices);
        checkIdentity(gen.source, gen.overrides);
        checked++;
      }),
      { numRuns: 100 },
    );
    expect(checked).toBeGreaterThanOrEqual(100);
  });

  it('holds for every kind of term in every space (a seeded sweep), which covers every construct of the generator', () => {
    const coverage = new Map<string, number>();
    let seed = 1;
    for (let space = 0; space < SPACES.length; space++)
      for (let kind = 0; kind < TERM_VARIANTS.length; kind++)
        for (let variant = 0; variant < TERM_VARIANTS[kind]; variant++) {
          const gen = generate(seededChoices(seed++), { space, kind, variant });
          checkIdentity(gen.source, gen.overrides);
          for (const f of gen.features) coverage.set(f, (coverage.get(f) ?? 0) + 1);
        }
    const required = [
      'space R', 'space R^2', 'space R^3', 'space (w: R, theta: R^2)', 'space (p: R^2, q: R)',
      'potential E', 'potential()', 'interaction E', 'interaction()', 'mmd2()', 'kernel cross term',
      'nested E[z] g(E[x] phi)', 'triple nested (inline loop)', 'nonlinear function of expectations',
      'inline expectation over mu inside fixed measures', 'expectation inside fn', 'product binder mu after nu',
      'vector-valued expectation', 'quotient and product of expectations', 'destructured record binder (w, theta)',
      'destructured record binder (p, q)',
      'sin', 'cos', 'tanh', 'sigmoid', 'exp', 'log', 'sqrt', 'dot', '|v|^2', 'index', 'pow', 'sum', 'div',
      '--set override', 'distinct pairs', 'distinct pairs, singular', 'mmd2u()',
    ];
    const missing = required.filter((f) => !coverage.has(f));
    expect(missing, `constructs never generated: ${missing.join(', ')}`).toEqual([]);
  });

  it('holds for the energies of the reference scenarios shrunk to a few particles', () => {
    for (const s of [SMALL_FLOWS.mmd, SMALL_FLOWS.potentialInteraction]) checkIdentity(s);
  });
});

describe('regressions found by the generator', () => {
  const head = `flow regression
seed 3
let b = [0.4, -0.6]
particles mu in R^2: 6 ~ normal(0, 1)
sample nu in R^2: 5 ~ normal(0.5, 1)
sample data in R^2: 4 ~ normal(0, 1)
scheme euler(step = 0.1, steps = 1)
`;
  it('a closed buffer of the same level as the query stage is reduced before the velocity reads it', () => {
    checkIdentity(`${head}fn V(x) = sin(x[0]) + x[1]^2
kernel k(x, y) = exp(-|x - y - [0.3, 0.1]|^2)
energy F = E[x ~ mu, y ~ mu] k(x, y) + (E[x ~ mu] V(x))^2
`);
  });

  it('a reduction over fixed measures with an inline loop over the particles is not hoisted', () => {
    checkIdentity(`${head}fn h(x, z, r) = sin(x[0] * z[1] + r[0]) + x[1] * r[1]
energy F = E[z ~ data] E[r ~ nu] (E[x ~ mu] h(x, z, r))^2
`);
  });

  it('an expectation that the smart constructors rebuild as -E[...] is still scheduled', () => {
    checkIdentity(`${head}fn g(s, z) = (b + (-[s, s]))[0]
energy F = 0.5 * (E[z ~ data] g(E[x ~ mu] x[0], z)) + E[x ~ mu] |x|^2
`);
  });
});

describe('nonsmooth functions at generic points (subgradient code paths)', () => {
  const source = `flow nonsmooth
seed 11
let lambda = 0.05
particles mu in (w: R, theta: R^2): 7 ~ (w: normal(0, 1), theta: normal(0, 1))
sample teacher in (w: R, theta: R^2): 3 ~ (w: normal(0, 1), theta: normal(0, 1))
sample data in R^2: 6 ~ normal(0, 1)
fn phi(u, x) = u.w * relu(dot(u.theta, x))
fn target(x) = E[v ~ teacher] phi(v, x)
energy F = 1/2 * E[x ~ data] (E[u ~ mu] phi(u, x) - target(x))^2
         + lambda * E[u ~ mu] |u.w| * |u.theta|
         + 0.1 * E[u ~ mu] max(u.w, u.theta[0]) * min(u.theta[1], 0.2)
         + 0.2 * E[u ~ mu, v ~ mu] abs(u.w - 2 * v.theta[1]) * norm(u.theta - v.theta + [0.1, 0.2])
         + 0.3 * E[u ~ mu] (sign(u.w) + floor(2 * u.theta[0])) * u.theta[1]
scheme euler(step = 0.1, steps = 1)
`;

  it('the kink arguments are away from their kinks at these points', () => {
    const p = prepare(source);
    const u = p.positions;
    const data = p.measures.find((m) => m.name === 'data')!.data;
    const rows = Array.from({ length: p.N }, (_, i) => [u[3 * i], u[3 * i + 1], u[3 * i + 2]]);
    const gaps: number[] = [];
    for (const [w, t0, t1] of rows) {
      gaps.push(Math.abs(w), Math.hypot(t0, t1), Math.abs(w - t0), Math.abs(t1 - 0.2));
      gaps.push(Math.abs(2 * t0 - Math.round(2 * t0)) / 2); // floor(2 t0) jumps at half-integers of t0
      for (let j = 0; j < data.length / 2; j++) gaps.push(Math.abs(t0 * data[2 * j] + t1 * data[2 * j + 1]));
      for (const [, v0, v1] of rows) gaps.push(Math.abs(w - 2 * v1), Math.hypot(t0 - v0 + 0.1, t1 - v1 + 0.2));
    }
    expect(Math.min(...gaps)).toBeGreaterThan(1e-3);
  });

  it('relu, abs, |theta|, max, min, sign and floor differentiate by the subgradient conventions', () => {
    const { ratio } = checkIdentity(source);
    expect(ratio).toBeLessThanOrEqual(FD_RTOL);
  });

  it('at the kinks the velocity follows d|s|/ds = sign(s), sign(0) = 0, relu\'(0) = 0, grad |v| = 0 at v = 0', () => {
    const rows = [
      [0, 0, 0],
      [1.5, 0, 0],
      [-2, 0, 0],
      [0, 0.6, -0.8],
      [0.5, 3, 4],
    ];
    const dir = tempDir({
      'kinks.flow': `flow kinks
particles mu in (w: R, theta: R^2) from "init.csv"
energy F = E[u ~ mu] |u.w| * |u.theta| + E[u ~ mu] relu(u.w) + E[u ~ mu] abs(u.theta[0])
scheme euler(step = 0.1, steps = 1)
`,
      'init.csv': rows.map((r) => r.join(',')).join('\n') + '\n',
    });
    const source = fs.readFileSync(path.join(dir, 'kinks.flow'), 'utf8');
    const r = compile(source, { file: path.join(dir, 'kinks.flow') });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const compiled = r.compiled!;
    const { measures } = loadMeasures(compiled.ir);
    const positions = measures[0].data.slice();
    const backend = new CpuBackend(compiled, measures, positions);
    backend.setup();
    const v = new Float64Array(positions.length);
    backend.velocity(v);
    // the conventions of DESIGN.md, written out
    const sign = (s: number) => (s > 0 ? 1 : s < 0 ? -1 : 0);
    const relu1 = (s: number) => (s > 0 ? 1 : 0);
    const gradNorm = (a: number, b: number) => {
      const n = Math.hypot(a, b);
      return n === 0 ? [0, 0] : [a / n, b / n];
    };
    rows.forEach(([w, t0, t1], i) => {
      const n = Math.hypot(t0, t1);
      const [g0, g1] = gradNorm(t0, t1);
      const expected = [-(sign(w) * n + relu1(w)), -(Math.abs(w) * g0 + sign(t0)), -(Math.abs(w) * g1)];
      expected.forEach((e, c) => expect(v[3 * i + c], `particle ${i}, coordinate ${c}`).toBeCloseTo(e, 14));
    });
  });
});

describe('particles started at one point stay together under the plain flow', () => {
  it('bit for bit, under ½MMD² with a Gaussian kernel', async () => {
    const init = [
      [0.3, -0.2],
      [0.3, -0.2],
      [1.1, 0.4],
      [0.3, -0.2],
      [-0.7, 0.9],
      [1.1, 0.4],
      [0.1234567890123, -1.987654321],
      [0.1234567890123, -1.987654321],
    ];
    const target = [
      [2, 0],
      [-1, 1.7],
      [-1, -1.7],
      [1.5, 0.3],
      [-0.4, 1.2],
    ];
    const csv = (rows: number[][]) => rows.map((r) => r.join(',')).join('\n') + '\n';
    const dir = tempDir({
      'together.flow': `flow together
let sigma = 0.8
particles mu in R^2 from "init.csv"
sample nu in R^2 from "target.csv"
kernel k(x, y) = exp(-|x - y|^2 / (2 * sigma^2))
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 0.5, steps = 40)
record every 10: F, positions(mu)
`,
      'init.csv': csv(init),
      'target.csv': csv(target),
    });
    const run = await runFile(path.join(dir, 'together.flow'));
    expect(run.result.status).toBe('ok');
    const x = run.result.positions;
    const groups = new Map<string, number[]>();
    init.forEach((r, i) => groups.set(r.join(','), [...(groups.get(r.join(',')) ?? []), i]));
    for (const [start, members] of groups) {
      const first = members[0];
      // the flow moved them
      expect(Math.hypot(x[2 * first] - init[first][0], x[2 * first + 1] - init[first][1]), `group ${start}`).toBeGreaterThan(1e-3);
      for (const i of members.slice(1))
        for (let c = 0; c < 2; c++) expect(Object.is(x[2 * i + c], x[2 * first + c]), `particles ${first} and ${i} from ${start}`).toBe(true);
    }
    // and at every record, not only at the end
    for (const snap of run.result.snapshots[0].records)
      for (const members of groups.values())
        for (const i of members.slice(1)) for (let c = 0; c < 2; c++) expect(Object.is(snap[2 * i + c], snap[2 * members[0] + c])).toBe(true);
  });
});
