// `flowc init NAME`: a commented starter spec that checks and runs as is,
// named after the file, and never written over an existing file.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { flowName } from '../src/cli/init.js';
import { flowc, tempDir } from './helpers.js';

describe('flowc init', () => {
  it('writes a commented spec that runs as is, with data of its own', () => {
    const dir = tempDir();
    const r = flowc(['init', 'first'], { cwd: dir });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('wrote first.flow; run it with: flowc run first.flow --plot --report\n');
    const spec = fs.readFileSync(path.join(dir, 'first.flow'), 'utf8');
    expect(spec.startsWith('flow first "')).toBe(true);
    expect(spec.split('\n').filter((l) => l.trim().startsWith('#')).length).toBeGreaterThan(8);
    expect(fs.readdirSync(dir)).toEqual(['first.flow']);

    const run = flowc(['run', 'first.flow', '--plot'], { cwd: dir });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(fs.readdirSync(path.join(dir, 'runs', 'first')).sort()).toEqual(['mu.npy', 'nu.npy', 'plot.svg', 'run.json', 'trace.csv']);
    const trace = fs.readFileSync(path.join(dir, 'runs', 'first', 'trace.csv'), 'utf8').trim().split('\n');
    expect(trace[0]).toBe('step,t,F,m2');
    const F = trace.slice(1).map((l) => Number(l.split(',')[2]));
    expect(F[F.length - 1]).toBeLessThan(F[0] / 10);
  });

  it('never overwrites a file', () => {
    const dir = tempDir({ 'mine.flow': 'my work\n' });
    const r = flowc(['init', 'mine.flow'], { cwd: dir });
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'mine.flow: error: already exists; flowc init never overwrites a file\n' });
    expect(fs.readFileSync(path.join(dir, 'mine.flow'), 'utf8')).toBe('my work\n');
  });

  it('makes a flow name of any file name', () => {
    expect(flowName('runs/my-flow.flow')).toBe('my_flow');
    expect(flowName('2d')).toBe('flow_2d');
    expect(flowName('étude')).toBe('étude');
  });
});
