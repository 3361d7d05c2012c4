// `flowc check` and `flowc compile` (summary) start from dist/front.cjs with
// V8's code cache (src/cli/fast-start.ts). They must answer exactly as the
// full command line does (FLOWC_START=full), hand every argument list they do
// not take to the full command line, and never trust a cache of another
// bundle. (test/errors also runs its `flowc check` cases through this path,
// against their reviewed expected outputs.)

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, flowc, flowcAsync, tempDir } from './helpers.js';

const BAD = tempDir({
  'syntax.flow': 'flow bad\nparticles mu in R^2: 10 ~ normal(0, 1)\nenergy F = E[x ~ mu] (|x|^2\n',
  'type.flow': 'flow bad\nparticles mu in R^2: 10 ~ normal(0, 1)\nenergy F = E[x ~ mu] x\nscheme euler(step = 0.1, steps = 10)\n',
  'warn.flow': 'flow warn\nlet unused = 3\nparticles mu in R^2: 10 ~ normal(0, 1)\nenergy F = E[x ~ mu] |x|^2 / 2\nscheme euler(step = 0.1, steps = 10)\nrecord every 5: F, inner\n',
});

/** Argument lists, each answered the same by both paths. */
const CASES: string[][] = [
  ...fs
    .readdirSync(path.join(ROOT, 'specs'))
    .filter((f) => f.endsWith('.flow'))
    .sort()
    .map((f) => ['check', `specs/${f}`]),
  ['check', path.join(BAD, 'syntax.flow')],
  ['check', path.join(BAD, 'type.flow')],
  ['check', path.join(BAD, 'warn.flow')],
  ['check', 'specs/no-such-file.flow'],
  ['check', 'specs'],
  ['check', 'specs/mmd-three-modes.flow', '--set', 'sigma=0.5'],
  ['check', '--set=sigma=[1, 2]', 'specs/mmd-three-modes.flow'],
  ['check', 'specs/mmd-three-modes.flow', '--set', 'nosuch=1'],
  // the full command line's answers: usage errors, help
  ['check', 'specs/mmd-three-modes.flow', '--set', 'sigma'],
  ['check', 'specs/mmd-three-modes.flow', '--set', 'sigma=1e999'],
  ['check', 'specs/mmd-three-modes.flow', '--set'],
  ['check', 'specs/mmd-three-modes.flow', 'specs/mmd-stall.flow'],
  ['check', 'specs/mmd-three-modes.flow', '--steps', '3'],
  ['check'],
  ['check', '--help'],
  ['check', '-h'],
  // compile: the summary takes the start-up path, --emit the full command line
  ...['mmd-three-modes', 'relu-teacher', 'kwng-euclid', 'mmd-gan-critic-dab'].map((s) => ['compile', `specs/${s}.flow`]),
  ['compile', 'specs/mmd-three-modes.flow', '--timings'],
  ['compile', 'specs/mmd-three-modes.flow', '--set', 'sigma=2', '--timings'],
  ['compile', path.join(BAD, 'type.flow')],
  ['compile', path.join(BAD, 'warn.flow')],
  ['compile', 'specs/mmd-three-modes.flow', '--emit', 'ir-text'],
  ['compile', 'specs/mmd-three-modes.flow', '--emit', 'nonsense'],
  ['compile', 'specs/mmd-three-modes.flow', '--steps', '3'],
  ['compile', '--help'],
];
/** The summary's last line holds the compiler's own times, which differ from run to run. */
const timeless = (r: { code: number | null; stdout: string; stderr: string }) => ({ ...r, stdout: r.stdout.replace(/^ {2}time .*$/m, '  time ...') });

describe('flowc check and flowc compile from the bundle', () => {
  it('answers every spec, error and argument list exactly as the full command line', async () => {
    const pairs = await Promise.all(CASES.map(async (args) => [await flowcAsync(args), await flowcAsync(args, { env: { FLOWC_START: 'full' } })] as const));
    pairs.forEach(([fast, full], i) => expect(timeless(fast), CASES[i].join(' ')).toEqual(timeless(full)));
    // the cases cover success, diagnostics (1) and usage errors (2)
    expect(new Set(pairs.map(([f]) => f.code))).toEqual(new Set([0, 1, 2]));
  }, 300_000);

  it('runs check and compile without loading the full command line, from the cache the build wrote', () => {
    flowc(['check', 'specs/mmd-three-modes.flow']);
    const r = flowc(['check', 'specs/mmd-three-modes.flow'], { env: { FLOWC_START: 'verbose' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('flowc: check from front.cjs, code cache accepted\n');
    const c = flowc(['compile', 'specs/mmd-three-modes.flow'], { env: { FLOWC_START: 'verbose' } });
    expect([c.code, c.stderr]).toEqual([0, 'flowc: compile from front.cjs, code cache accepted\n']);
    expect(c.stdout).toContain('flowc mmd_three_modes');
    // arguments it does not take go to commander, which the bundle does not contain
    const help = flowc(['check', '--help'], { env: { FLOWC_START: 'verbose' } });
    expect(help.stdout).toContain('Usage: flowc check [options] <spec>');
    expect(fs.readFileSync(path.join(ROOT, 'dist', 'front.cjs'), 'utf8')).not.toMatch(/commander/);
  });
});

describe('loadWithCodeCache (src/cli/fast-start.ts)', () => {
  const bundleText = (value: number) => `exports.value = () => ${value};\n`;
  /** A fresh process each time, as each `flowc check` is (V8 reuses a script compiled earlier in the same process and never reads the cache then). */
  function loadInChild(bundle: string, dirs: string[]): { result: number; cache: string } {
    const code = `import { loadWithCodeCache } from ${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'fast-start.js'))};
const [bundle, ...dirs] = process.argv.slice(1);
process.stdout.write(JSON.stringify(loadWithCodeCache(bundle, (m) => m.value(), dirs)));`;
    return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code, bundle, ...dirs], { encoding: 'utf8' }));
  }

  it('writes a cache, accepts it, and rewrites one that V8 rejects', () => {
    const dir = tempDir({ 'b.cjs': bundleText(41) });
    const bundle = path.join(dir, 'b.cjs');
    const run = () => loadInChild(bundle, [dir]);
    expect(run()).toEqual({ result: 41, cache: 'written' });
    expect(run()).toEqual({ result: 41, cache: 'accepted' });
    const [cacheFile] = fs.readdirSync(dir).filter((f) => f.endsWith('.v8cache'));
    fs.writeFileSync(path.join(dir, cacheFile), Buffer.alloc(64, 7));
    expect(run()).toEqual({ result: 41, cache: 'rejected' });
    expect(run()).toEqual({ result: 41, cache: 'accepted' });
  });

  it('never runs the cache of another bundle of the same length, and removes it', () => {
    const dir = tempDir({ 'b.cjs': bundleText(41) });
    const bundle = path.join(dir, 'b.cjs');
    const run = () => loadInChild(bundle, [dir]);
    expect(run().result).toBe(41);
    fs.writeFileSync(bundle, bundleText(42));
    expect(run()).toEqual({ result: 42, cache: 'written' });
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.v8cache'))).toHaveLength(1);
  });

  it('falls back to the next folder where the first cannot take a file, and runs without a cache where none can', () => {
    const dir = tempDir({ 'b.cjs': bundleText(7), 'not-a-folder': 'x' });
    const bundle = path.join(dir, 'b.cjs');
    const blocked = path.join(dir, 'not-a-folder');
    const second = path.join(dir, 'cache');
    expect(loadInChild(bundle, [blocked, second])).toEqual({ result: 7, cache: 'written' });
    expect(fs.readdirSync(second).filter((f) => f.endsWith('.v8cache'))).toHaveLength(1);
    expect(loadInChild(bundle, [blocked, second]).cache).toBe('accepted');
    expect(loadInChild(bundle, [blocked])).toEqual({ result: 7, cache: 'unwritable' });
    expect(fs.readFileSync(blocked, 'utf8')).toBe('x');
  });
});
