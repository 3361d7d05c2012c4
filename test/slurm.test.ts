// flowc sweep --slurm on a real single-node Slurm cluster (Debian's slurmctld,
// slurmd and munge, started by test/slurm/cluster.sh): the same runs as a
// job array, collected into the same summary as the local sweep. This test
// fails, never skips, where Slurm cannot be brought up.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, flowc, tempDir } from './helpers.js';

const CLUSTER = path.join(ROOT, 'test', 'slurm', 'cluster.sh');

beforeAll(() => {
  const r = spawnSync('bash', [CLUSTER, 'start'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`a Slurm cluster could not be started on this machine (test/slurm/cluster.sh start): ${r.stderr || r.stdout}`);
}, 120_000);

afterAll(() => {
  spawnSync('bash', [CLUSTER, 'stop']);
});

const spec = `flow tiny_slurm
let sigma = 1
particles mu in R^2: 16 ~ normal([0, 0], 1)
sample nu in R^2: 12 ~ normal([1, 0.5], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / (2 * sigma^2))
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 0.5, steps = 10)
record every 5: F, positions(mu)
`;

/** summary.csv without its wall-time column */
function summaryWithoutTimes(dir: string): string[] {
  const lines = fs.readFileSync(path.join(dir, 'summary.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
  const k = lines[0].indexOf('wall_s');
  return lines.map((l) => l.filter((_, i) => i !== k).join(','));
}

describe('flowc sweep --slurm', () => {
  it('runs a sweep as a Slurm job array; --collect gives the local sweep\'s summary', async () => {
    const dir = tempDir({ 'tiny.flow': spec });
    const local = flowc(['sweep', 'tiny.flow', '--grid', 'sigma=0.5,1', '--seeds', '1..2', '--out', 'local', '--quiet'], { cwd: dir });
    expect(local.code).toBe(0);
    const sub = flowc(['sweep', 'tiny.flow', '--grid', 'sigma=0.5,1', '--seeds', '1..2', '--out', 'cluster', '--slurm', '--time', '00:05:00'], { cwd: dir });
    expect(sub.stderr).toBe('');
    expect(sub.code).toBe(0);
    const job = fs.readFileSync(path.join(dir, 'cluster', 'slurm', 'job'), 'utf8').trim();
    expect(job).toMatch(/^\d+$/);
    // wait for the array to leave the queue
    for (let k = 0; k < 240; k++) {
      const q = execFileSync('squeue', ['-h', '-j', job], { encoding: 'utf8' }).trim();
      if (!q) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const c = flowc(['sweep', 'cluster', '--collect'], { cwd: dir });
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    expect(c.stdout).toContain('4 runs · 4 ok');
    expect(summaryWithoutTimes(path.join(dir, 'cluster'))).toEqual(summaryWithoutTimes(path.join(dir, 'local')));
    // the run folders are the same files
    for (const run of ['sigma=0.5,seed=1', 'sigma=1,seed=2'])
      for (const f of ['trace.csv', 'mu.npy'])
        expect(fs.readFileSync(path.join(dir, 'cluster', 'tiny', run, f)).equals(fs.readFileSync(path.join(dir, 'local', 'tiny', run, f)))).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'cluster', 'slurm')).filter((f) => f.endsWith('.out'))).toHaveLength(4);
  }, 300_000);
});
