// Identifiers that mean something to JavaScript (constructor, __proto__,
// process, require, toString, eval, Function, globalThis, this, ...) are
// ordinary names in a .flow file. One template gives two specs, one with
// plain names and one with hostile names in every role (let constants, fn and
// kernel names, parameters, measures, binders, record blocks, the energy,
// record columns): both must compile and run to the same numbers, and no
// hostile name may reach the generated code (DESIGN.md: "never a user string
// spliced into code").

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile.js';
import { kernelsText } from '../src/compiler/emit.js';
import { decodeNpy } from '../src/runtime/npy.js';
import { BIN, tempDir } from './helpers.js';

const TEMPLATE = `flow {flow}

let {sigma} = 0.8
let {a} = [0.5, -0.25]
let {c} = 0.1

particles {mu} in ({w}: R, {theta}: R^2) from "init.csv"
sample {nu} in R^2 from "data.csv"

fn {phi}({u}, {y}) = {u}.{w} * exp(-|{u}.{theta} - {y} - {a}|^2 / (2 * {sigma}^2))
kernel {k}({p}, {q}) = exp(-|{p} - {q}|^2)
fn {V}({z}) = {c} * {z}.{w}^2 + 0.01 * |{z}.{theta}|^2
fn {W}({p}, {q}) = {k}({p}.{theta}, {q}.{theta}) * {p}.{w} * {q}.{w}

energy {F} = 1/2 * E[{b1} ~ {nu}] (E[{b2} ~ {mu}] {phi}({b2}, {b1}) - 1)^2
           + {c} * E[{b3} ~ {mu}, {b4} ~ {mu}] {k}({b3}.{theta}, {b4}.{theta})
           + E[{b5} ~ {mu}] {V}({b5})
           + interaction({mu}; {W})

scheme euler(step = 0.2, steps = 12)
record every 4: {F}, {g} = E[{b6} ~ {mu}] |{b6}.{theta}|^2, {h} = E[{b7} ~ {nu}, {b8} ~ {mu}] {b7}[0] * {b8}.{w}, {P} = positions({mu}), positions({nu})
`;

const PLAIN: Record<string, string> = {
  flow: 'plain',
  sigma: 'sigma', a: 'shift', c: 'c',
  mu: 'mu', nu: 'nu', w: 'w', theta: 'theta',
  phi: 'phi', u: 'u', y: 'y', k: 'k', p: 'p', q: 'q', V: 'V', z: 'z', W: 'W',
  F: 'F', b1: 'x1', b2: 'x2', b3: 'x3', b4: 'x4', b5: 'x5', b6: 'x6', b7: 'x7', b8: 'x8',
  g: 'g', h: 'h', P: 'pos',
};

/** JavaScript's own names, in every role; all are legal .flow identifiers. */
const HOSTILE: Record<string, string> = {
  flow: 'constructor',
  sigma: 'constructor', a: '__proto__', c: 'Math',
  mu: 'process', nu: 'require', w: 'constructor', theta: '__proto__',
  phi: 'toString', u: 'this', y: 'arguments', k: 'eval', p: 'globalThis', q: 'undefined', V: 'hasOwnProperty', z: 'valueOf', W: 'Function_',
  F: 'Function', b1: 'this', b2: 'new', b3: 'return', b4: "this'", b5: 'NaN', b6: 'Infinity', b7: 'var', b8: 'function',
  g: 'globalThis', h: '__defineGetter__', P: 'prototype',
};

/** Names of the generated code itself (D, S, P, B, t0, i, j, ...): used as user names, they must not collide. */
const CODEGEN_LIKE: Record<string, string> = {
  ...HOSTILE,
  sigma: 'P', a: 'D', c: 'S', mu: 'B', nu: 'i', phi: 't0', u: 'j', y: 'n1', k: 'io', p: 'a8', q: 'jo', z: 'out', W: 'Math',
  b1: 'i', b2: 'j', b3: 't1', b4: 't2', b5: 'n0', b6: 'D0', b7: 'P0', b8: 'B0', g: 'x', h: 'y',
};

function fill(names: Record<string, string>): string {
  return TEMPLATE.replace(/\{(\w+)\}/g, (_, k: string) => {
    if (!(k in names)) throw new Error(`no name for {${k}}`);
    return names[k];
  });
}

/** Deterministic data: 10 neurons (w, theta) and 8 data points in R^2. */
const INIT = Array.from({ length: 10 }, (_, i) => [Math.sin(i + 1) * 0.7, Math.cos(2 * i) * 1.3, Math.sin(3 * i + 0.5)].join(',')).join('\n') + '\n';
const DATA = Array.from({ length: 8 }, (_, i) => [Math.cos(i) * 0.9 + 0.3, Math.sin(1.7 * i) - 0.2].join(',')).join('\n') + '\n';

function flowc(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8' }, (e, stdout, stderr) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr });
    });
  });
}

function traceOf(dir: string): { columns: string[]; rows: number[][] } {
  const lines = fs.readFileSync(path.join(dir, 'trace.csv'), 'utf8').trimEnd().split('\n');
  return { columns: lines[0].split(','), rows: lines.slice(1).map((l) => l.split(',').map(Number)) };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `name` as a whole identifier in JS source ($ and ' count as identifier characters here). */
const asWord = (name: string) => new RegExp(`(?<![\\w$'])${escape(name)}(?![\\w$'])`);

describe.concurrent('hostile identifiers', () => {
  it('compile and run to the very numbers of the plain spec, through the CLI', async () => {
    const dir = tempDir({ 'plain.flow': fill(PLAIN), 'hostile.flow': fill(HOSTILE), 'codegen.flow': fill(CODEGEN_LIKE), 'init.csv': INIT, 'data.csv': DATA });
    const [plain, hostile, codegen] = await Promise.all(
      ['plain', 'hostile', 'codegen'].map((name) => flowc(['run', `${name}.flow`, '--out', name, '--quiet'], dir)),
    );
    for (const r of [plain, hostile, codegen]) expect(r).toEqual({ code: 0, stdout: '', stderr: '' });

    const tp = traceOf(path.join(dir, 'plain'));
    const th = traceOf(path.join(dir, 'hostile'));
    const tc = traceOf(path.join(dir, 'codegen'));
    expect(tp.columns).toEqual(['step', 't', 'F', 'g', 'h']);
    expect(th.columns).toEqual(['step', 't', 'Function', 'globalThis', '__defineGetter__']);
    expect(tc.columns).toEqual(['step', 't', 'Function', 'x', 'y']);
    expect(tp.rows.map((r) => r[0])).toEqual([0, 4, 8, 12]);
    for (const row of tp.rows) expect(row.every(Number.isFinite)).toBe(true);
    // the energy moves, so the comparison means something
    expect(tp.rows[3][2]).toBeLessThan(tp.rows[0][2]);
    expect(th.rows).toEqual(tp.rows);
    expect(tc.rows).toEqual(tp.rows);

    // positions: same bytes, files named after the columns
    // (and the copy of the data file the sample was read from: NAME.input.npy)
    expect(fs.readdirSync(path.join(dir, 'hostile')).sort()).toEqual(['prototype.npy', 'require.input.npy', 'require.npy', 'run.json', 'trace.csv']);
    expect(fs.readdirSync(path.join(dir, 'codegen')).sort()).toEqual(['i.input.npy', 'i.npy', 'prototype.npy', 'run.json', 'trace.csv']);
    const npy = (d: string, f: string) => fs.readFileSync(path.join(dir, d, f));
    expect(decodeNpy(npy('plain', 'pos.npy')).shape).toEqual([4, 10, 3]);
    expect(npy('hostile', 'prototype.npy').equals(npy('plain', 'pos.npy'))).toBe(true);
    expect(npy('hostile', 'require.npy').equals(npy('plain', 'nu.npy'))).toBe(true);
    expect(npy('codegen', 'prototype.npy').equals(npy('plain', 'pos.npy'))).toBe(true);
    expect(npy('hostile', 'require.input.npy').equals(npy('plain', 'nu.input.npy'))).toBe(true);

    // run.json keeps hostile keys as plain data
    const run = JSON.parse(fs.readFileSync(path.join(dir, 'hostile', 'run.json'), 'utf8'));
    expect(run.flow.name).toBe('constructor');
    expect(Object.keys(run.constants)).toEqual(['constructor', '__proto__', 'Math']);
    expect(run.constants.constructor).toBe(0.8);
    expect(Object.getOwnPropertyDescriptor(run.constants, '__proto__')?.value).toEqual([0.5, -0.25]);
    expect(Object.keys(run.final)).toEqual(['step', 't', 'Function', 'globalThis', '__defineGetter__']);
    expect(run.final.Function).toBe(tp.rows[3][2]);
  });

  it('--set works on constants named constructor, __proto__ and Math', async () => {
    const dir = tempDir({ 'plain.flow': fill(PLAIN), 'hostile.flow': fill(HOSTILE), 'init.csv': INIT, 'data.csv': DATA });
    const [plain, hostile] = await Promise.all([
      flowc(['run', 'plain.flow', '--out', 'plain', '--quiet', '--set', 'sigma=0.6', '--set', 'shift=[0,1]', '--set', 'c=0.3'], dir),
      flowc(['run', 'hostile.flow', '--out', 'hostile', '--quiet', '--set', 'constructor=0.6', '--set', '__proto__=[0,1]', '--set', 'Math=0.3'], dir),
    ]);
    expect(plain).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(hostile).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(traceOf(path.join(dir, 'hostile')).rows).toEqual(traceOf(path.join(dir, 'plain')).rows);
    const run = JSON.parse(fs.readFileSync(path.join(dir, 'hostile', 'run.json'), 'utf8'));
    expect(Object.keys(run.set)).toEqual(['constructor', '__proto__', 'Math']);
    expect(Object.getOwnPropertyDescriptor(run.set, '__proto__')?.value).toEqual([0, 1]);
    expect(run.constants.Math).toBe(0.3);
    // a --set of a name the spec lacks is still an error, even one every object has
    const bad = await flowc(['check', 'hostile.flow', '--set', 'isPrototypeOf=1'], dir);
    expect(bad).toEqual({ code: 1, stdout: '', stderr: "hostile.flow: error: --set isPrototypeOf: no let constant named 'isPrototypeOf' in this spec\n" });
    const fn = await flowc(['check', 'hostile.flow', '--set', 'toString=1'], dir);
    expect(fn).toEqual({ code: 1, stdout: '', stderr: "hostile.flow: error: --set toString: 'toString' is not a let constant\n" });
  });

  it('never reach the generated kernels', async () => {
    const dir = tempDir({ 'hostile.flow': fill(HOSTILE), 'init.csv': INIT, 'data.csv': DATA });
    const file = path.join(dir, 'hostile.flow');
    const r = compile(fs.readFileSync(file, 'utf8'), { file });
    expect(r.diagnostics).toEqual([]);
    const c = r.compiled!;
    const sources = [...c.kernels.setup, ...Object.values(c.kernels.programs).flat()];
    expect(sources.length).toBeGreaterThan(2);
    const names = [...new Set(Object.values(HOSTILE))].filter((n) => n !== 'Math'); // Math.exp is the codegen's own
    for (const src of [...sources, kernelsText(c)])
      for (const name of names) expect(asWord(name).test(src), `'${name}' in:\n${src}`).toBe(false);
    // and Math is only ever Math.<function>
    for (const src of sources) expect(src.replace(/\bMath\.[a-z]\w*\(/g, '')).not.toMatch(/\bMath\b/);

    // the CLI prints the same kernels
    const emitted = await flowc(['compile', 'hostile.flow', '--emit', 'kernels'], dir);
    expect(emitted.code).toBe(0);
    expect(emitted.stdout).toBe(kernelsText(c));
  });

  it('check and compile --emit ir accept them too', async () => {
    const dir = tempDir({ 'hostile.flow': fill(HOSTILE), 'init.csv': INIT, 'data.csv': DATA });
    const [check, ir] = await Promise.all([flowc(['check', 'hostile.flow'], dir), flowc(['compile', 'hostile.flow', '--emit', 'ir'], dir)]);
    expect(check).toEqual({ code: 0, stdout: 'hostile.flow: ok (process: 10 × 3, require: 8 × 2)\n', stderr: '' });
    expect(ir.code).toBe(0);
    const json = JSON.parse(ir.stdout);
    expect(json.particles).toBe('process');
    expect(json.energy.name).toBe('Function');
  });
});
