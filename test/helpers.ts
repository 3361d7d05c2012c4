// Shared helpers of the test suite.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin', 'flowc.js');

/** The reference scenarios; the suite fails loudly when the folder is missing. */
export const REFERENCE = path.resolve(ROOT, '..', 'shared', 'reference');

/** Spawn the real flowc binary. */
export function flowc(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, spawned asynchronously so that several run side by side. */
export function flowcAsync(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, encoding: 'utf8', env: { ...process.env, ...opts.env } }, (e, stdout, stderr) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr });
    });
  });
}

const made: string[] = [];
process.on('exit', () => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, with optional files; removed when the test process exits. */
export function tempDir(files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowc-test-'));
  made.push(dir);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** The reference energies with a few particles drawn from a seed: small flows for derivative checks. */
export const SMALL_FLOWS = {
  mmd: `flow mmd
let sigma = 1.0
particles mu in R^2: 7 ~ normal(0, 1)
sample nu in R^2: 5 ~ mixture([1, 1], normal([2, 0], 0.3), normal([-1, 1], 0.3))
kernel k(x, y) = exp(-|x - y|^2 / (2 * sigma^2))
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 1, steps = 1)
`,
  potentialInteraction: `flow potential_interaction
let c = 2.0
let a = [0.5, 0.0]
particles mu in R^2: 6 ~ normal(0, 1)
fn V(x) = |x|^2 / 2
fn W(x, y) = exp(-|x - y - a|^2)
energy F = E[x ~ mu] V(x) + c/2 * E[x ~ mu, y ~ mu] W(x, y)
scheme euler(step = 0.05, steps = 1)
`,
};
