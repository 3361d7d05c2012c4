// Programs that must fail (test/errors/): each NAME.flow is a small bad spec,
// and NAME.expected is the exact output the real `flowc` binary must give for
// it: the command, the exit code, stdout and stderr.
//
// The command is `flowc check NAME.flow`, unless the spec's first line says
// otherwise, as in `# flowc run NAME.flow --quiet --out {out}` (`{out}` is a
// fresh temporary folder, written back as `{out}` in the expected text).
// Commands run with the working folder test/errors and the spec's relative
// name, so the expected files hold no absolute path.
//
// To regenerate the expected files after a deliberate change of a message:
//
//   UPDATE_ERRORS=1 npx vitest run test/errors.test.ts
//
// then read every changed .expected file (git diff test/errors) before
// committing: they are the reviewed wording of flowc's diagnostics.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNpy } from '../src/runtime/npy.js';
import { ROOT, flowcAsync, tempDir } from './helpers.js';

const DIR = path.join(ROOT, 'test', 'errors');
const UPDATE = process.env.UPDATE_ERRORS === '1';

const specs = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.flow'))
  .sort();

/** The arguments of a case: its `# flowc ...` first line, or `check NAME.flow`. */
function commandOf(spec: string): string[] {
  const first = fs.readFileSync(path.join(DIR, spec), 'utf8').split('\n')[0];
  const m = /^#\s*flowc\s+(.*)$/.exec(first);
  return m ? m[1].trim().split(/\s+/) : ['check', spec];
}

interface Outcome {
  text: string;
  code: number | null;
  stderr: string;
  out?: string;
}

async function runCase(spec: string): Promise<Outcome> {
  const args = commandOf(spec);
  const out = args.includes('{out}') ? path.join(tempDir(), 'out') : undefined;
  const r = await flowcAsync(
    args.map((a) => (out ? a.replaceAll('{out}', out) : a)),
    { cwd: DIR },
  );
  const norm = (s: string) => (out ? s.replaceAll(out, '{out}') : s);
  const text = [`$ flowc ${args.join(' ')}`, `exit ${r.code}`, '--- stdout', norm(r.stdout), '--- stderr', norm(r.stderr)].join('\n');
  return { text, code: r.code, stderr: r.stderr, out };
}

describe.concurrent('test/errors: bad specs and their exact diagnostics', () => {
  it('has a case for each kind of mistake, each with its expected output', () => {
    expect(specs.length).toBeGreaterThanOrEqual(24);
    expect(specs.filter((s) => commandOf(s).includes('{out}'))).toEqual(['diverges-growth.flow', 'diverges-step.flow', 'diverges.flow']);
    if (UPDATE) return;
    const expected = fs.readdirSync(DIR).filter((f) => f.endsWith('.expected'));
    expect(specs.filter((s) => !expected.includes(s.replace(/\.flow$/, '.expected')))).toEqual([]);
    expect(expected.filter((e) => !specs.includes(e.replace(/\.expected$/, '.flow')))).toEqual([]);
  });

  for (const spec of specs) {
    it(spec, async () => {
      const r = await runCase(spec);
      const file = path.join(DIR, spec.replace(/\.flow$/, '.expected'));
      if (UPDATE) fs.writeFileSync(file, r.text);
      else {
        if (!fs.existsSync(file)) throw new Error(`${file} is missing; create it with UPDATE_ERRORS=1 and review it`);
        expect(r.text).toBe(fs.readFileSync(file, 'utf8'));
      }
      // every bad input is a diagnostic and a non-zero exit, never a crash
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/: error: /);
      expect(r.stderr).not.toContain('    at ');
      expect(r.stderr).not.toContain('internal error');
      // the cases with an output folder are runs that diverge: what they wrote stays valid
      if (r.out) checkPartialOutputs(r.out, r.stderr);
    });
  }
});

/** The outputs of a diverged run: run.json says so, trace.csv and the .npy files parse and agree. */
function checkPartialOutputs(out: string, stderr: string): void {
  // a NaN or an infinity, or an energy that grew more than 10^6-fold (stopped before it overflows)
  expect(stderr).toMatch(/the run diverged at step \d+: .+ is (NaN|-?Infinity|\d\S* \(up from \S+ at step 0, a rise of more than 10\^6)/);
  expect(fs.readdirSync(out).sort()).toEqual(['mu.npy', 'run.json', 'trace.csv']);

  const run = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'));
  expect(run.status).toBe('diverged');
  expect(run.divergence.step).toBe(run.steps);
  expect(typeof run.divergence.quantity).toBe('string');
  if (typeof run.divergence.value === 'number') expect(run.divergence.note).toMatch(/a rise of more than 10\^6/);
  else expect(['NaN', 'Infinity', '-Infinity']).toContain(run.divergence.value);

  const lines = fs.readFileSync(path.join(out, 'trace.csv'), 'utf8').trimEnd().split('\n');
  const columns = lines[0].split(',');
  expect(columns.slice(0, 3)).toEqual(['step', 't', 'F']);
  const fields = lines.slice(1).map((l) => l.split(','));
  expect(fields.length).toBeGreaterThanOrEqual(1);
  for (const row of fields) {
    expect(row).toHaveLength(columns.length);
    // numbers as JS and numpy read them; a diverged value is NaN, Infinity or -Infinity
    for (const f of row) expect(f).toMatch(/^(-?\d+(\.\d+)?(e[+-]\d+)?|NaN|-?Infinity)$/);
  }
  const rows = fields.map((row) => row.map(Number));
  expect(rows[0][0]).toBe(0);
  expect(rows.every((row) => row[0] <= run.divergence.step)).toBe(true);

  const npy = decodeNpy(fs.readFileSync(path.join(out, 'mu.npy')), 'mu.npy');
  expect(npy.shape).toEqual([rows.length, 10, 2]);
  expect(npy.data.every((v) => Number.isFinite(v))).toBe(true);
}

