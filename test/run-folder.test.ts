// Run folders that keep what they made (issue 10): streamed records, valid
// files at every moment, interruption by SIGINT/SIGTERM, checkpoints and
// --resume bit for bit, the folder lock, --force beside the old run,
// provenance in run.json, JSON Schemas of the files flowc reads back.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../src/runtime/checkpoint.js';
import { decodeNpy } from '../src/runtime/npy.js';
import { NPY_HEADER_BYTES, NpyAppender, TraceAppender } from '../src/runtime/record-stream.js';
import { recordCount } from '../src/run-session.js';
import { BIN, flowc, ROOT, tempDir } from './helpers.js';

const SPEC = `flow stream
seed 3
particles mu in R^2: 24 ~ normal([0, 0], 1)
sample nu in R^2: 16 ~ normal([2, 0], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 0.5, steps = 3000)
noise 0.1
checkpoint every 25
record every 10: F, w2(mu, nu), positions(mu)
`;

const npy = (file: string) => decodeNpy(fs.readFileSync(file), file);
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Start `flowc run`, wait until its trace holds `rows` rows, send `signal`; resolves with the exit code and stderr. */
function interrupt(args: string[], cwd: string, trace: string | (() => string | undefined), rows: number, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const poll = setInterval(() => {
      const file = typeof trace === 'string' ? trace : trace();
      const text = file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      if (text.split('\n').length - 2 >= rows) {
        clearInterval(poll);
        child.kill(signal);
      }
    }, 20);
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve({ code, stderr });
    });
  });
}

describe('streamed records', () => {
  it('an .npy file is valid after every record, and counts only whole records', () => {
    const dir = tempDir();
    const f = path.join(dir, 'a.npy');
    const w = new NpyAppender(f, [3, 2]);
    expect(npy(f).shape).toEqual([0, 3, 2]);
    for (let k = 1; k <= 4; k++) {
      w.append(Float64Array.from({ length: 6 }, (_, i) => k * 10 + i));
      const { shape, data } = npy(f);
      expect(shape).toEqual([k, 3, 2]);
      expect(data[6 * (k - 1) + 5]).toBe(k * 10 + 5);
    }
    w.close();
    // reopened at 2 records (a resume): what followed is cut off
    const again = new NpyAppender(f, [3, 2], 2);
    again.append(new Float64Array(6).fill(-1));
    again.close();
    const { shape, data } = npy(f);
    expect(shape).toEqual([3, 3, 2]);
    expect(Array.from(data.subarray(0, 6))).toEqual([10, 11, 12, 13, 14, 15]);
    expect(Array.from(data.subarray(12))).toEqual(new Array(6).fill(-1));
  });

  it('writes records past 4 GiB (a sparse file: the offsets are not 32-bit)', () => {
    const dir = tempDir();
    const f = path.join(dir, 'big.npy');
    const records = 2 ** 29 + 3; // 8 bytes each: the next record starts past 4 GiB
    new NpyAppender(f, [1], 0).close();
    const w = new NpyAppender(f, [1], records);
    w.append(Float64Array.of(42.5));
    w.close();
    const fd = fs.openSync(f, 'r');
    const head = Buffer.alloc(NPY_HEADER_BYTES);
    fs.readSync(fd, head, 0, NPY_HEADER_BYTES, 0);
    const last = Buffer.alloc(8);
    const at = NPY_HEADER_BYTES + records * 8;
    expect(at).toBeGreaterThan(2 ** 32);
    fs.readSync(fd, last, 0, 8, at);
    fs.closeSync(fd);
    expect(head.toString('latin1')).toContain(`'shape': (${records + 1}, 1)`);
    expect(last.readDoubleLE(0)).toBe(42.5);
    expect(fs.statSync(f).size).toBe(at + 8);
  });

  it('trace.csv grows by whole rows and is cut back to a checkpoint on resume', () => {
    const dir = tempDir();
    const f = path.join(dir, 'trace.csv');
    const t = new TraceAppender(f, ['step', 't', 'a,b']);
    t.append([0, 0, 1.5]);
    t.append([1, 0.5, -0]);
    t.append([2, 1, NaN]);
    t.close();
    expect(fs.readFileSync(f, 'utf8')).toBe('step,t,"a,b"\n0,0,1.5\n1,0.5,-0\n2,1,NaN\n');
    const r = new TraceAppender(f, [], 1);
    r.append([7, 3.5, 2]);
    r.close();
    expect(fs.readFileSync(f, 'utf8')).toBe('step,t,"a,b"\n0,0,1.5\n7,3.5,2\n');
  });

  it('counts the records a run makes from a step', () => {
    expect(recordCount(0, 100, 10)).toBe(11);
    expect(recordCount(0, 105, 10)).toBe(12);
    expect(recordCount(50, 100, 10)).toBe(5);
    expect(recordCount(0, 7, 0)).toBe(2);
  });

  it('a checkpoint round-trips its arrays and values, infinities included', () => {
    const cp = { step: 40, records: 5, values: { eta: 0.25, worst: Infinity, firstRow: [0, 0, 1.5] }, arrays: new Map([['positions', Float64Array.of(1, -0, 3e-310)]]) };
    const back = decodeCheckpoint(encodeCheckpoint(cp), 'c');
    expect(back.step).toBe(40);
    expect(back.values).toEqual(cp.values);
    expect(Object.is(back.arrays.get('positions')![1], -0)).toBe(true);
    expect(back.arrays.get('positions')![2]).toBe(3e-310);
    expect(() => decodeCheckpoint(encodeCheckpoint(cp).subarray(0, 30), 'c')).toThrow(/not a flowc checkpoint/);
  });

  it('refuses up front a run whose records would not fit on the disk, with the figure', () => {
    const dir = tempDir({ 'big.flow': SPEC.replace('steps = 3000', 'steps = 1e12').replace('record every 10', 'record every 1') });
    const r = flowc(['run', 'big.flow', '--out', 'o', '--quiet'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^big\.flow: error: the records of this run need about [\d.]+ TB \(1000000000001 records of 384 bytes of positions or weights each, and trace rows\), but the disk of "o" has [\d.]+ [kMGT]?B free; record less often/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(path.join(dir, 'o'))).toBe(false);
  });
});

describe('interruption and resume', () => {
  it('SIGINT stops after the step, keeps valid files and a checkpoint, exits 130; --resume ends bit for bit as the uninterrupted run', async () => {
    const dir = tempDir({ 's.flow': SPEC.replace('steps = 3000', 'steps = 400') });
    expect(flowc(['run', 's.flow', '--out', 'full', '--quiet'], { cwd: dir }).code).toBe(0);
    const r = await interrupt(['run', 's.flow', '--out', 'cut', '--quiet'], dir, path.join(dir, 'cut', 'trace.csv'), 3, 'SIGINT');
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/flowc: interrupted by SIGINT after step \d+ of 400: "cut" holds \d+ records and a checkpoint; continue with: flowc run s\.flow --resume cut/);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'cut', 'run.json'), 'utf8'));
    expect(meta.status).toBe('interrupted');
    const rows = fs.readFileSync(path.join(dir, 'cut', 'trace.csv'), 'utf8').trimEnd().split('\n');
    expect(npy(path.join(dir, 'cut', 'mu.npy')).shape).toEqual([rows.length - 1, 24, 2]);
    expect(meta.records).toBe(rows.length - 1);
    expect(fs.readdirSync(path.join(dir, 'cut')).filter((f) => f.startsWith('.') || f.endsWith('.tmp'))).toEqual([]);

    const resumed = flowc(['run', 's.flow', '--resume', 'cut', '--quiet'], { cwd: dir });
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'cut', 'mu.npy'))).toEqual(fs.readFileSync(path.join(dir, 'full', 'mu.npy')));
    expect(fs.readFileSync(path.join(dir, 'cut', 'trace.csv'), 'utf8')).toBe(fs.readFileSync(path.join(dir, 'full', 'trace.csv'), 'utf8'));
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'cut', 'run.json'), 'utf8')).status).toBe('ok');
    expect(fs.existsSync(path.join(dir, 'cut', 'checkpoint.bin'))).toBe(false);
  });

  it('after a SIGKILL, the run.json left (status running) is valid and --resume continues from the checkpoint, bit for bit', async () => {
    const dir = tempDir({ 's.flow': SPEC.replace('steps = 3000', 'steps = 200') });
    expect(flowc(['run', 's.flow', '--out', 'full', '--quiet'], { cwd: dir }).code).toBe(0);
    const killed = await new Promise<number | null>((resolve) => {
      const c = spawn(process.execPath, [BIN, 'run', 's.flow', '--out', 'cut', '--quiet'], { cwd: dir });
      const poll = setInterval(() => {
        if (fs.existsSync(path.join(dir, 'cut', 'checkpoint.bin'))) {
          clearInterval(poll);
          c.kill('SIGKILL');
        }
      }, 10);
      c.on('exit', (code) => (clearInterval(poll), resolve(code)));
    });
    expect(killed).toBe(null);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'cut', 'run.json'), 'utf8')).status).toBe('running');
    const r = flowc(['run', 's.flow', '--resume', 'cut', '--quiet'], { cwd: dir });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(fs.readFileSync(path.join(dir, 'cut', 'mu.npy'))).toEqual(fs.readFileSync(path.join(dir, 'full', 'mu.npy')));
    expect(fs.readFileSync(path.join(dir, 'cut', 'trace.csv'), 'utf8')).toBe(fs.readFileSync(path.join(dir, 'full', 'trace.csv'), 'utf8'));
    expect(fs.readdirSync(path.join(dir, 'cut')).filter((f) => f.startsWith('.') || f.endsWith('.tmp'))).toEqual([]);
  });

  it('a parametric flow (states and a critic) resumes bit for bit too', async () => {
    const dir = tempDir({ 'g.flow': fs.readFileSync(path.join(ROOT, 'specs', 'mmd-gan-critic-dab.flow'), 'utf8') });
    expect(flowc(['run', 'g.flow', '--out', 'full', '--quiet', '--steps', '30'], { cwd: dir }).code).toBe(0);
    const cut = await new Promise<number | null>((resolve) => {
      const c = spawn(process.execPath, [BIN, 'run', 'g.flow', '--out', 'cut', '--quiet', '--steps', '30', '--checkpoint-every', '3'], { cwd: dir });
      const poll = setInterval(() => {
        if (fs.existsSync(path.join(dir, 'cut', 'checkpoint.bin'))) {
          clearInterval(poll);
          c.kill('SIGINT');
        }
      }, 20);
      c.on('exit', (code) => (clearInterval(poll), resolve(code)));
    });
    expect(cut).toBe(130);
    expect(flowc(['run', 'g.flow', '--resume', 'cut', '--quiet'], { cwd: dir }).code).toBe(0);
    for (const f of ['trace.csv', 'theta.npy', 'psi.npy', 'q.npy']) expect(fs.readFileSync(path.join(dir, 'cut', f))).toEqual(fs.readFileSync(path.join(dir, 'full', f)));
  });

  it('a signal while flowc starts (its title set, the compiler still loading) ends in valid files and 130 / 143, never in death by the signal', async () => {
    const dir = tempDir({ 's.flow': SPEC.replace('steps = 3000', 'steps = 40') });
    /** Start flowc, send `signal` as soon as bin/flowc.js has its handler in place (it sets the process title then). */
    const early = (args: string[], signal: NodeJS.Signals, env: Record<string, string> = {}) =>
      new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, ...env } });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        const poll = setInterval(() => {
          let title = '';
          try {
            title = fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
          } catch {}
          if (title.startsWith('flowc ')) {
            clearInterval(poll);
            child.kill(signal);
          }
        }, 1);
        child.on('exit', (code, sig) => (clearInterval(poll), resolve({ code, signal: sig, stderr })));
      });
    const run = await early(['run', 's.flow', '--out', 'o', '--quiet'], 'SIGINT');
    expect(run).toMatchObject({ code: 130, signal: null });
    expect(run.stderr).toMatch(/interrupted by SIGINT after step 1 of 40: "o" holds 1 record and a checkpoint/);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'o', 'run.json'), 'utf8')).status).toBe('interrupted');
    expect(decodeCheckpoint(fs.readFileSync(path.join(dir, 'o', 'checkpoint.bin')), 'checkpoint.bin').step).toBe(1);
    // the whole command line loads for 0.2 s or more, so the signal lands while it loads; check's start-up
    // path (dist/front.cjs) is loaded in a few ms, and a signal after that meets the default action (below)
    expect(await early(['check', 's.flow'], 'SIGTERM', { FLOWC_START: 'full' })).toMatchObject({ code: 143, signal: null });
  });

  it('Ctrl-C stops a long check at once, inside its synchronous compile (the default action once flowc has loaded)', async () => {
    // ½MMD² in R^2000 compiles for several seconds
    const dir = tempDir({
      'big.flow': `flow big
particles mu in R^2000: 4 ~ normal(0, 1)
sample nu in R^2000: 4 ~ normal(1, 1)
kernel k(x, y) = exp(-|x - y|^2 / 4000)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 1, steps = 1)
`,
    });
    const r = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'check', 'big.flow'], { cwd: dir });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      const timer = setTimeout(() => child.kill('SIGINT'), 500);
      child.on('exit', (code, signal) => (clearTimeout(timer), resolve({ code, signal, stdout })));
    });
    // ended by the signal (or with 130 had flowc still been loading), before the compile finished
    expect(r.signal === 'SIGINT' || r.code === 130, JSON.stringify(r)).toBe(true);
    expect(r.stdout).toBe('');
  });

  it('SIGTERM exits 143; a second resume of a complete run is refused', async () => {
    const dir = tempDir({ 's.flow': SPEC.replace('steps = 3000', 'steps = 200') });
    const r = await interrupt(['run', 's.flow', '--out', 'o', '--quiet'], dir, path.join(dir, 'o', 'trace.csv'), 2, 'SIGTERM');
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('interrupted by SIGTERM');
    expect(flowc(['run', 's.flow', '--resume', 'o', '--quiet'], { cwd: dir }).code).toBe(0);
    const again = flowc(['run', 's.flow', '--resume', 'o'], { cwd: dir });
    expect(again).toMatchObject({ code: 1, stderr: 'o: error: the run in "o" is complete (status ok): there is nothing to resume\n' });
  });

  it('--resume refuses another spec, --set, and a data file that changed', async () => {
    const dir = tempDir({
      's.flow': SPEC.replace('steps = 3000', 'steps = 300').replace('sample nu in R^2: 16 ~ normal([2, 0], 0.5)', 'sample nu in R^2 from "nu.csv"'),
      'nu.csv': '2,0\n2.5,0.5\n1.5,-0.5\n',
    });
    const r = await interrupt(['run', 's.flow', '--out', 'o', '--quiet', '--checkpoint-every', '5'], dir, path.join(dir, 'o', 'trace.csv'), 2, 'SIGINT');
    expect(r.code).toBe(130);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'o', 'run.json'), 'utf8'));
    expect(meta.data).toEqual([{ measure: 'nu', file: 'nu.csv', sha256: sha(fs.readFileSync(path.join(dir, 'nu.csv'))) }]);
    expect(meta.checkpoint_every).toBe(5);
    expect(npy(path.join(dir, 'o', 'nu.input.npy')).shape).toEqual([3, 2]);

    expect(flowc(['run', 's.flow', '--resume', 'o', '--set', 'x=1'], { cwd: dir }).stderr).toBe(
      'o: error: --resume continues a run with its own constants, seed, steps and checkpoints (run.json): drop --set, --seed, --steps and --checkpoint-every\n',
    );
    fs.writeFileSync(path.join(dir, 't.flow'), fs.readFileSync(path.join(dir, 's.flow'), 'utf8') + '# edited\n');
    expect(flowc(['run', 't.flow', '--resume', 'o'], { cwd: dir }).stderr).toBe(
      `t.flow: error: this is not the spec the run in "o" ran (its sha256 differs from run.json's): --resume continues a run with the same spec\n`,
    );
    fs.appendFileSync(path.join(dir, 'nu.csv'), '2,1\n');
    expect(flowc(['run', 's.flow', '--resume', 'o'], { cwd: dir }).stderr).toBe(
      `nu.csv: error: this data file has changed since the run in "o" read it (sha256 differs from run.json's): --resume needs the same data\n`,
    );
  });
});

describe('the output folder', () => {
  it('one run per folder: a folder locked by a live run is refused, a stale lock is taken over', () => {
    const dir = tempDir({ 's.flow': SPEC.replace('steps = 3000', 'steps = 20') });
    fs.mkdirSync(path.join(dir, 'o', '.flowc.lock'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'o', '.flowc.lock', 'pid'), `${process.pid}\n`);
    expect(flowc(['run', 's.flow', '--out', 'o', '--quiet'], { cwd: dir })).toMatchObject({
      code: 1,
      stderr: `o: error: another flowc run (pid ${process.pid}) is writing into "o"; wait for it to end or choose another --out\n`,
    });
    // a pid that cannot be alive: the lock is stale
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    fs.writeFileSync(path.join(dir, 'o', '.flowc.lock', 'pid'), `${dead}\n`);
    // and a lock that a killed run was making (not yet renamed into place) is removed, not taken for a file of the user's
    fs.mkdirSync(path.join(dir, 'o', `.flowc.lock.${dead}`));
    fs.writeFileSync(path.join(dir, 'o', `.flowc.lock.${dead}`, 'pid'), `${dead}\n`);
    expect(flowc(['run', 's.flow', '--out', 'o', '--quiet'], { cwd: dir }).code).toBe(0);
    expect(fs.readdirSync(path.join(dir, 'o')).sort()).toEqual(['mu.npy', 'run.json', 'trace.csv']);
  });

  it('two runs started at once into one folder: one runs, the other is refused, nothing mixed', async () => {
    const dir = tempDir({ 's.flow': SPEC.replace('steps = 3000', 'steps = 40') });
    const run = () =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [BIN, 'run', 's.flow', '--out', 'o', '--quiet'], { cwd: dir });
        let stderr = '';
        c.stderr.on('data', (d) => (stderr += d));
        c.on('exit', (code) => resolve({ code, stderr }));
      });
    const [a, b] = await Promise.all([run(), run()]);
    expect([a.code, b.code].sort()).toEqual([0, 1]);
    expect((a.code ? a : b).stderr).toMatch(/another flowc run \(pid \d+\) is writing into "o"|output folder "o" exists/);
    expect(fs.readdirSync(path.join(dir, 'o')).sort()).toEqual(['mu.npy', 'run.json', 'trace.csv']);
    expect(npy(path.join(dir, 'o', 'mu.npy')).shape).toEqual([5, 24, 2]);
  });

  it('--force keeps every file flowc did not write, even .npy files, and replaces the previous run at the end', async () => {
    const dir = tempDir({ 's.flow': SPEC.replace('steps = 3000', 'steps = 30'), 'mine.npy': 'not numpy', 'notes.txt': 'keep' });
    expect(flowc(['run', 's.flow', '--out', '.', '--quiet'], { cwd: dir }).code).toBe(1);
    expect(flowc(['run', 's.flow', '--out', '.', '--quiet', '--force'], { cwd: dir }).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'mine.npy'), 'utf8')).toBe('not numpy');
    // a second --force run that records other things: the first run's mu.npy goes, the user's files stay
    fs.writeFileSync(path.join(dir, 's.flow'), SPEC.replace('steps = 3000', 'steps = 30').replace(', positions(mu)', ''));
    expect(flowc(['run', 's.flow', '--out', '.', '--quiet', '--force'], { cwd: dir }).code).toBe(0);
    expect(fs.readdirSync(dir).sort()).toEqual(['mine.npy', 'notes.txt', 'run.json', 's.flow', 'trace.csv']);

    // a --force run killed outright leaves the previous run as it was; the next run clears what it left
    fs.writeFileSync(path.join(dir, 's.flow'), SPEC);
    const before = fs.readFileSync(path.join(dir, 'trace.csv'), 'utf8');
    const staging = () => {
      const f = fs.readdirSync(dir).find((e) => e.startsWith('.flowc-new'));
      return f && path.join(dir, f, 'trace.csv');
    };
    const killed = await interrupt(['run', 's.flow', '--out', '.', '--quiet', '--force'], dir, staging, 1, 'SIGKILL');
    expect(killed.code).toBe(null);
    expect(fs.readFileSync(path.join(dir, 'trace.csv'), 'utf8')).toBe(before);
    fs.writeFileSync(path.join(dir, 's.flow'), SPEC.replace('steps = 3000', 'steps = 10'));
    expect(flowc(['run', 's.flow', '--out', '.', '--quiet', '--force'], { cwd: dir }).code).toBe(0);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});

describe('files flowc reads back', () => {
  it('a golden file with a wrong type is a located diagnostic (not "override.map is not a function")', () => {
    const dir = tempDir({ 's.flow': SPEC.replace('steps = 3000', 'steps = 10') });
    expect(flowc(['golden', 's.flow'], { cwd: dir }).code).toBe(0);
    const g = JSON.parse(fs.readFileSync(path.join(dir, 's.golden.json'), 'utf8'));
    g.set = { sigma: '1' };
    fs.writeFileSync(path.join(dir, 's.golden.json'), JSON.stringify(g, null, 1));
    const r = flowc(['test', 's.flow'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^s\.golden\.json:\d+:\d+: error: not a valid golden file: \/set\/sigma: must be array; recreate it with: flowc golden s\.flow/m);
  });

  it('plot and report of a crafted run.json: a located diagnostic, and no file outside the folder is read', () => {
    const dir = tempDir({ 's.flow': SPEC.replace('steps = 3000', 'steps = 10') });
    expect(flowc(['run', 's.flow', '--out', 'o', '--quiet'], { cwd: dir }).code).toBe(0);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'o', 'run.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'o', 'run.json'), JSON.stringify({ ...meta, set: { sigma: ['0x10'] } }, null, 2));
    const bad = flowc(['plot', 'o'], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^o\/run\.json:\d+:\d+: error: not a valid run\.json: \/set\/sigma\/0: must be number\n/);
    // a spec path pointing elsewhere is never opened: the report shows the text run.json holds
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'SECRET');
    fs.writeFileSync(path.join(dir, 'o', 'run.json'), JSON.stringify({ ...meta, spec: { ...meta.spec, file: path.join(dir, 'secret.txt') } }, null, 2));
    expect(flowc(['report', 'o'], { cwd: dir }).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'o', 'report.html'), 'utf8')).not.toContain('SECRET');
  });

  it('a data file that is a FIFO is refused, not waited on forever', () => {
    const dir = tempDir({ 's.flow': SPEC.replace('sample nu in R^2: 16 ~ normal([2, 0], 0.5)', 'sample nu in R^2 from "nu.csv"') });
    expect(spawnSync('mkfifo', [path.join(dir, 'nu.csv')]).status).toBe(0);
    const r = flowc(['check', 's.flow'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^s\.flow:4:\d+: error: data file "nu\.csv" is not a regular file \(a FIFO, socket or device\); flowc reads data from regular files only/);
  });

  it('--set with a number beyond float64 (1e400) is refused, not run as Infinity', () => {
    const dir = tempDir({ 's.flow': SPEC.replace('seed 3', 'seed 3\nlet s = 1') });
    const r = flowc(['check', 's.flow', '--set', 's=1e400'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("the value of s must be a finite number, got '1e400'");
  });
});
