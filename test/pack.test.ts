// The package as users get it: `npm pack` (its files list: the built
// output, no tests, benches or CI), installed globally into a temporary
// prefix from the tarball, then `flowc run` on a spec outside the
// repository. The gpu backend's packages are an extra install: the default
// install stays small, and --backend gpu says how to add them.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers.js';

// npm run by `npm test` (or npx) hands its settings down as npm_* variables (the prefix among them): not to this npm
const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))), npm_config_update_notifier: 'false' };
const npm = (args: string[], cwd: string) => {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** Bytes under a folder (files only, symlinks not followed). */
function sizeOf(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += sizeOf(p);
    else if (e.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

const SPEC = `flow outside
seed 2
particles mu in R^2: 30 ~ normal([0, 0], 1)
sample nu in R^2: 20 ~ normal([2, 0], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 1, steps = 20)
record every 10: F, positions(mu)
`;

describe('npm pack, then a global install from the tarball', () => {
  it('packs the built output, installs without the gpu extra, and runs a spec outside the repository', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    // npm pack builds first (the test suite's global setup has just built dist/, so it packs with --ignore-scripts)
    expect(pkg.scripts.prepack).toBe('npm run build');
    expect(Object.keys(pkg.dependencies)).not.toContain('webgpu');
    expect(Object.keys(pkg.dependencies)).not.toContain('gpu.js');

    const work = tempDir();
    const packed = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT);
    expect(packed.code, packed.stderr).toBe(0);
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    const files = info.files.map((f) => f.path);
    for (const f of ['bin/flowc.js', 'dist/src/cli/main.js', 'dist/front.cjs', 'dist/src/index.js', 'dist/src/index.d.ts', 'package.json', 'README.md', 'docs/language.md'])
      expect(files, f).toContain(f);
    for (const prefix of ['test/', 'bench/', '.ci/', 'src/', 'scripts/', 'node_modules/'])
      expect(files.filter((f) => f.startsWith(prefix)), prefix).toEqual([]);

    const prefix = path.join(work, 'prefix');
    const installed = npm(['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', path.join(work, info.filename)], work);
    expect(installed.code, installed.stderr).toBe(0);
    const home = path.join(prefix, 'lib', 'node_modules', 'flowc');
    expect(fs.existsSync(path.join(home, 'node_modules', 'webgpu'))).toBe(false);
    expect(fs.existsSync(path.join(home, 'node_modules', 'gpu.js'))).toBe(false);
    // about 42 MB here (262 MB with the gpu packages); a regression would bring Dawn's 100+ MB back
    expect(sizeOf(home)).toBeLessThan(80e6);

    const dir = tempDir({ 'outside.flow': SPEC });
    const flowc = (args: string[]) => spawnSync(path.join(prefix, 'bin', 'flowc'), args, { cwd: dir, encoding: 'utf8' });
    const run = flowc(['run', 'outside.flow']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('flowc outside');
    expect(fs.readdirSync(path.join(dir, 'runs', 'outside')).sort()).toEqual(['mu.npy', 'run.json', 'trace.csv']);
    expect(flowc(['-v']).stdout).toBe(`${pkg.version}\n`);
    // check starts from the bundle; its code cache (node-specific, so not packed) is written on first use
    expect(files.filter((f) => f.endsWith('.v8cache'))).toEqual([]);
    const checks = [1, 2].map(() => spawnSync(path.join(prefix, 'bin', 'flowc'), ['check', 'outside.flow'], { cwd: dir, encoding: 'utf8', env: { ...env, FLOWC_START: 'verbose' } }));
    expect(checks.map((c) => c.stdout)).toEqual(['outside.flow: ok (mu: 30 × 2, nu: 20 × 2)\n', 'outside.flow: ok (mu: 30 × 2, nu: 20 × 2)\n']);
    expect(checks.map((c) => c.stderr)).toEqual(['flowc: check from front.cjs, code cache written\n', 'flowc: check from front.cjs, code cache accepted\n']);
    // a damaged bundle: the whole command line answers, the same
    fs.writeFileSync(path.join(home, 'dist', 'front.cjs'), 'this is not JavaScript (');
    const damaged = spawnSync(path.join(prefix, 'bin', 'flowc'), ['check', 'outside.flow'], { cwd: dir, encoding: 'utf8', env: { ...env, FLOWC_START: 'verbose' } });
    expect([damaged.status, damaged.stdout, damaged.stderr]).toEqual([0, checks[0].stdout, '']);

    const gpu = flowc(['run', 'outside.flow', '--force', '--backend', 'gpu']);
    expect(gpu.status).toBe(1);
    expect(gpu.stderr).toContain('the gpu backend is an extra install');
    expect(gpu.stderr).toContain('npm install -g gpu.js@2.24.1 webgpu@0.6.2');
    const doctor = flowc(['doctor']);
    expect(doctor.stdout).toContain('gpu.js is not installed');
  }, 600_000);
});
