// flowc sweep: every combination of a grid, every seed and every spec as
// run folders identical to separate `flowc run` calls; summaries; --resume
// after an interrupted sweep runs only what is missing; --seed.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGrid, parseSeeds } from '../src/study/sweep.js';
import { BIN, flowc, tempDir } from './helpers.js';

const spec = (metric: string) => `flow tiny
let sigma = 1
seed 7
particles mu in R^2: 24 ~ normal([0, 0], 1)
sample nu in R^2: 20 ~ normal([1, 0.5], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / (2 * sigma^2))
energy F = 1/2 * mmd2(mu, nu; k)
metric ${metric}
scheme euler(step = 0.5, steps = 15)
record every 5: F, m = E[x ~ mu] x[0], positions(mu)
`;

function files(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f !== 'run.json' && !f.startsWith('.')).sort();
}

describe('flowc sweep', () => {
  it('2 grid values × 3 seeds × 2 specs: 12 run folders identical to 12 separate flowc run calls, and the summaries', () => {
    const dir = tempDir({ 'w2.flow': spec('W2'), 'dab.flow': spec('dab(alpha = 1, beta = 1; k)') });
    const out = path.join(dir, 'study');
    const r = flowc(['sweep', 'w2.flow', 'dab.flow', '--grid', 'sigma=0.5,2', '--seeds', '1..3', '--jobs', '2', '--out', out], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('12 runs · 12 ok');
    const runs = fs.readdirSync(path.join(out, 'w2')).sort();
    expect(runs).toEqual(['sigma=0.5,seed=1', 'sigma=0.5,seed=2', 'sigma=0.5,seed=3', 'sigma=2,seed=1', 'sigma=2,seed=2', 'sigma=2,seed=3']);
    for (const s of ['w2', 'dab'])
      for (const run of runs) {
        const [sigma, seed] = run.split(',').map((kv) => kv.split('=')[1]);
        const single = path.join(dir, 'single', s, run);
        const one = flowc(['run', `${s}.flow`, '--set', `sigma=${sigma}`, '--seed', seed, '--out', single, '--quiet'], { cwd: dir });
        expect(one.code).toBe(0);
        const swept = path.join(out, s, run);
        expect(files(swept)).toEqual(files(single));
        for (const f of files(single)) expect(fs.readFileSync(path.join(swept, f)).equals(fs.readFileSync(path.join(single, f))), `${s}/${run}/${f}`).toBe(true);
        const json = JSON.parse(fs.readFileSync(path.join(swept, 'run.json'), 'utf8'));
        expect(json.seed).toBe(Number(seed));
        expect(json.constants.sigma).toBe(Number(sigma));
      }
    // different seeds draw different particles
    const t1 = fs.readFileSync(path.join(out, 'w2', 'sigma=2,seed=1', 'trace.csv'), 'utf8');
    const t2 = fs.readFileSync(path.join(out, 'w2', 'sigma=2,seed=2', 'trace.csv'), 'utf8');
    expect(t1).not.toBe(t2);
    // summary.csv: one row per run; aggregate.csv: one row per grid point, median/min/max over seeds
    const summary = fs.readFileSync(path.join(out, 'summary.csv'), 'utf8').trim().split('\n');
    expect(summary[0]).toBe('spec,sigma,seed,status,steps,wall_s,final_step,F,m');
    expect(summary.length).toBe(13);
    const rows = summary.slice(1).map((l) => l.split(','));
    const lastF = (s: string, sg: string, sd: string) => {
      const t = fs.readFileSync(path.join(out, s, `sigma=${sg},seed=${sd}`, 'trace.csv'), 'utf8').trim().split('\n');
      return Number(t[t.length - 1].split(',')[2]);
    };
    for (const row of rows) expect(Number(row[7])).toBe(lastF(row[0], row[1], row[2]));
    const agg = fs.readFileSync(path.join(out, 'aggregate.csv'), 'utf8').trim().split('\n');
    expect(agg[0]).toBe('spec,sigma,runs,ok,F_median,F_min,F_max,m_median,m_min,m_max');
    const fs3 = [1, 2, 3].map((sd) => lastF('dab', '0.5', String(sd))).sort((a, b) => a - b);
    const dabRow = agg.find((l) => l.startsWith('dab,0.5,'))!.split(',').map(Number);
    expect(dabRow.slice(2, 7)).toEqual([3, 3, fs3[1], fs3[0], fs3[2]]);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(json.runs).toHaveLength(12);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'sweep.json'), 'utf8')).specs[0].text).toBe(spec('W2'));
  }, 600_000);

  it('--resume after the sweep was killed runs only the missing runs', async () => {
    // checkpoints every 20 steps: the run the kill interrupts continues from its last one
    const dir = tempDir({ 'w2.flow': spec('W2').replace('steps = 15', 'steps = 400') + 'checkpoint every 20\n' });
    const out = path.join(dir, 'study');
    const args = [BIN, 'sweep', 'w2.flow', '--seeds', '1..6', '--jobs', '1', '--out', out, '--quiet'];
    // its own process group, killed whole (as a cluster's time limit kills a job)
    const child = spawn(process.execPath, args, { cwd: dir, stdio: 'ignore', detached: true });
    // kill the sweep once two runs are complete (run.json is written when a run starts, status "running", and again at its end)
    const finished = (r: string) => {
      try {
        return JSON.parse(fs.readFileSync(path.join(out, 'w2', r, 'run.json'), 'utf8')).status === 'ok';
      } catch {
        return false;
      }
    };
    const complete = () => (fs.existsSync(path.join(out, 'w2')) ? fs.readdirSync(path.join(out, 'w2')).filter(finished).length : 0);
    for (let k = 0; k < 600 && complete() < 2; k++) await new Promise((r) => setTimeout(r, 100));
    const closed = new Promise((r) => child.on('close', r));
    process.kill(-child.pid!, 'SIGKILL');
    await closed;
    const done = fs.readdirSync(path.join(out, 'w2')).filter(finished);
    expect(done.length).toBeGreaterThanOrEqual(2);
    expect(done.length).toBeLessThan(6);
    const before = new Map(done.map((r) => [r, fs.statSync(path.join(out, 'w2', r, 'run.json')).mtimeMs]));
    // runs the kill interrupted after a checkpoint continue from it
    const interrupted = fs.readdirSync(path.join(out, 'w2')).filter((run) => {
      try {
        const json = JSON.parse(fs.readFileSync(path.join(out, 'w2', run, 'run.json'), 'utf8'));
        return json.status === 'running' && json.checkpoint !== undefined;
      } catch {
        return false;
      }
    });
    const r = flowc(['sweep', out, '--resume', '--jobs', '2'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('6 runs · 6 ok');
    for (const [run, t] of before) expect(fs.statSync(path.join(out, 'w2', run, 'run.json')).mtimeMs).toBe(t);
    for (const run of interrupted) {
      const single = path.join(dir, 'single', run);
      expect(flowc(['run', 'w2.flow', '--seed', run.split('=')[1], '--out', single, '--quiet'], { cwd: dir }).code).toBe(0);
      expect(fs.readFileSync(path.join(out, 'w2', run, 'mu.npy')).equals(fs.readFileSync(path.join(single, 'mu.npy'))), run).toBe(true);
    }
    // the same study again without --resume is refused: it would overwrite it
    const again = flowc(['sweep', 'w2.flow', '--seeds', '1..6', '--out', out], { cwd: dir });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('--resume');
  }, 300_000);

  it('--collect says which tasks are missing; bad grids and seeds are usage errors', () => {
    const dir = tempDir({ 'w2.flow': spec('W2') });
    const out = path.join(dir, 'study');
    const r = flowc(['sweep', 'w2.flow', '--grid', 'sigma=1,2', '--slurm', '--dry-run', '--out', out], { cwd: dir });
    expect(r.code).toBe(0);
    const sbatch = fs.readFileSync(path.join(out, 'sweep.sbatch'), 'utf8');
    expect(sbatch).toContain('#SBATCH --array=0-1');
    expect(sbatch).toContain(`sweep ${JSON.stringify(path.resolve(out))} --task "$SLURM_ARRAY_TASK_ID"`);
    const task = flowc(['sweep', out, '--task', '1'], { cwd: dir });
    expect(task.code).toBe(0);
    const c = flowc(['sweep', out, '--collect'], { cwd: dir });
    expect(c.code).toBe(1);
    expect(c.stdout).toContain('2 runs · 1 ok · 0 diverged · 0 failed · 1 missing');
    expect(c.stderr).toContain('task 0 (w2/sigma=1) is missing');
    expect(() => parseGrid('sigma=1,x')).toThrow(/'x' is not a finite number/);
    expect(() => parseSeeds('3..a')).toThrow(/--seeds/);
    expect(parseSeeds('2..4')).toEqual([2, 3, 4]);
    const bad = flowc(['sweep', 'w2.flow', '--grid', 'sigma'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('NAME=V1,V2');
  }, 300_000);

  it('a diverged run is recorded as such and does not stop the sweep', () => {
    const dir = tempDir({
      'w2.flow': spec('W2').replace('let sigma = 1', 'let sigma = 1\nlet g = 0.5').replace('step = 0.5', 'step = g').replace('energy F = 1/2 * mmd2(mu, nu; k)', 'energy F = 1/2 * mmd2(mu, nu; k) + E[x ~ mu] |x|^2 / 2'),
    });
    const out = path.join(dir, 'study');
    const r = flowc(['sweep', 'w2.flow', '--grid', 'g=0.5,1e30', '--out', out], { cwd: dir });
    expect(r.stdout).toContain('2 runs · 1 ok · 1 diverged');
    const summary = fs.readFileSync(path.join(out, 'summary.csv'), 'utf8');
    expect(summary).toMatch(/\nw2,1e\+30,7,diverged,/);
  }, 300_000);

  it('flowc plot and flowc report on a sweep folder: curves per grid point, final values against the grid, the aggregate table', () => {
    const dir = tempDir({ 'w2.flow': spec('W2') });
    const out = path.join(dir, 'study');
    expect(flowc(['sweep', 'w2.flow', '--grid', 'sigma=0.5,2', '--seeds', '1..2', '--out', out, '--quiet'], { cwd: dir }).code).toBe(0);
    const p = flowc(['plot', out, '--columns', 'm'], { cwd: dir });
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    const svg = fs.readFileSync(path.join(out, 'plot.svg'), 'utf8');
    expect(svg).toContain('m over the steps (median over seeds, min–max band)');
    expect(svg).toContain('final m against sigma');
    expect(svg).toContain('w2 sigma=0.5');
    const bad = flowc(['plot', out, '--by', 'nope'], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("--by nope: the sweep's grid has sigma");
    const r = flowc(['report', out], { cwd: dir });
    expect(r.code).toBe(0);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('<th>F (median [min, max])</th>');
    expect((html.match(/<tr><td>w2<\/td>/g) ?? []).length).toBe(2);
    expect(html).not.toMatch(/<script[^>]*src=|https?:\/\/(?!www\.w3\.org|vega)/);
  }, 300_000);

  it('flowc plot on a grid spanning decades: log axes, and nothing printed but the file written', () => {
    const dir = tempDir({ 'w2.flow': spec('W2') });
    const out = path.join(dir, 'study');
    expect(flowc(['sweep', 'w2.flow', '--grid', 'sigma=0.1,100', '--out', out, '--quiet'], { cwd: dir }).code).toBe(0);
    const p = flowc(['plot', out, '--by', 'sigma'], { cwd: dir });
    expect(p.stderr).toBe(''); // vega-lite warned here when a log scale was also given zero: false
    expect(p.code).toBe(0);
  }, 300_000);
});
