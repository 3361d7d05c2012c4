// The reference scenarios (../shared/reference, README.md there): each folder
// holds a spec, its inputs, and the trace and final positions computed by an
// independent float64 implementation. flowc on the cpu backend must match
// every recorded F and the final positions to the tolerance of expected.json:
//   F:         |v - r| <= atol + rtol |r|
//   positions: max |x - x_ref| <= atol + rtol max |x_ref|
// A missing reference folder is a failure, never a skip.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFile } from '../src/api.js';
import { REFERENCE } from './helpers.js';

const SCENARIOS = ['mmd-three-modes', 'potential-interaction', 'relu-teacher'];

interface Expected {
  tolerance: { rtol: number; atol: number };
  trace: { step: number; t: number; F: number }[];
  final_positions: number[][];
}

function readExpected(dir: string): Expected {
  const file = path.join(dir, 'expected.json');
  if (!fs.existsSync(file)) throw new Error(`reference file missing: ${file}`);
  const e = JSON.parse(fs.readFileSync(file, 'utf8')) as Expected;
  if (!e.tolerance || !Array.isArray(e.trace) || !e.trace.length || !Array.isArray(e.final_positions) || !e.final_positions.length)
    throw new Error(`${file}: expected 'tolerance', a non-empty 'trace' and 'final_positions'`);
  return e;
}

describe('reference scenarios', () => {
  it('the reference folder is present', () => {
    expect(
      fs.existsSync(REFERENCE),
      `the reference scenarios are missing: expected the folder ${REFERENCE} (../shared/reference next to the repository)`,
    ).toBe(true);
    for (const name of SCENARIOS)
      expect(fs.existsSync(path.join(REFERENCE, name, 'spec.flow')), `missing ${path.join(REFERENCE, name, 'spec.flow')}`).toBe(true);
  });

  for (const name of SCENARIOS) {
    describe(name, () => {
      const dir = path.join(REFERENCE, name);

      it('matches every recorded F and the final positions', async () => {
        if (!fs.existsSync(dir)) throw new Error(`reference scenario missing: ${dir}`);
        const expected = readExpected(dir);
        const { rtol, atol } = expected.tolerance;
        expect(rtol).toBeGreaterThan(0);
        expect(atol).toBeGreaterThanOrEqual(0);

        const run = await runFile(path.join(dir, 'spec.flow'));
        expect(run.result.status, run.result.divergence ? JSON.stringify(run.result.divergence) : '').toBe('ok');

        // the trace: every reference row is recorded, at the same step and time
        const { columns, rows } = run.result.trace;
        const F = columns.indexOf('F');
        expect(F, `no F column in ${columns.join(', ')}`).toBeGreaterThanOrEqual(0);
        expect(rows.map((r) => r[0])).toEqual(expected.trace.map((r) => r.step));
        const lastStep = expected.trace[expected.trace.length - 1].step;
        expect(run.result.steps).toBe(lastStep);
        expected.trace.forEach((ref, k) => {
          const row = rows[k];
          expect(row[1], `t at step ${ref.step}`).toBeCloseTo(ref.t, 12);
          const v = row[F];
          const err = Math.abs(v - ref.F);
          expect(err, `F at step ${ref.step}: flowc ${v}, reference ${ref.F}`).toBeLessThanOrEqual(atol + rtol * Math.abs(ref.F));
        });

        // the final positions
        const ref = expected.final_positions;
        const d = ref[0].length;
        const particles = run.measures.find((m) => m.name === run.compiled.ir.particles)!;
        expect(particles.size).toBe(ref.length);
        expect(particles.dim).toBe(d);
        const x = run.result.positions;
        expect(x.length).toBe(ref.length * d);
        let maxErr = 0;
        let maxRef = 0;
        ref.forEach((row, i) => {
          expect(row.length).toBe(d);
          row.forEach((r, c) => {
            maxErr = Math.max(maxErr, Math.abs(x[i * d + c] - r));
            maxRef = Math.max(maxRef, Math.abs(r));
          });
        });
        expect(Number.isFinite(maxErr)).toBe(true);
        expect(maxErr, `max |x - x_ref| = ${maxErr} (max |x_ref| = ${maxRef})`).toBeLessThanOrEqual(atol + rtol * maxRef);
      });
    });
  }
});
