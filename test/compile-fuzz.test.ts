// The front end and the checker never throw: random edits of valid specs and
// random token soup all end in diagnostics (or a compiled flow), and every
// diagnostic with a span points inside the text.

import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile.js';
import { ROOT } from './helpers.js';

const specs = fs
  .readdirSync(path.join(ROOT, 'specs'))
  .filter((f) => f.endsWith('.flow'))
  .map((f) => fs.readFileSync(path.join(ROOT, 'specs', f), 'utf8'));

const TOKENS = [
  'flow', 'let', 'seed', 'particles', 'sample', 'state', 'model', 'fn', 'kernel', 'energy', 'metric', 'scheme',
  'noise', 'diffusion', 'record', 'every', 'in', 'from', 'E', 'R', 'R^2', 'mu', 'nu', 'x', 'y', 'k', 'F', '(', ')',
  '[', ']', '|', ',', ':', ';', '~', '=', '=>', '+', '-', '*', '/', '^', '.', '0', '1.5', '"f.csv"', 'exp', 'mmd2',
  'normal', 'sphere', 'positions', '\n',
];

function compileNeverThrows(text: string): void {
  const r = compile(text, { file: 'fuzz.flow' });
  for (const d of r.diagnostics) {
    expect(typeof d.message).toBe('string');
    if (d.span && d.file === 'fuzz.flow') {
      expect(d.span.start).toBeGreaterThanOrEqual(0);
      expect(d.span.start).toBeLessThanOrEqual(text.length);
      expect(d.span.line).toBeGreaterThanOrEqual(1);
    }
  }
  if (r.compiled) expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
}

describe('compile never throws', () => {
  it('on random edits of the example specs', () => {
    const edit = fc.record({
      spec: fc.integer({ min: 0, max: specs.length - 1 }),
      at: fc.nat(),
      cut: fc.integer({ min: 0, max: 12 }),
      insert: fc.array(fc.constantFrom(...TOKENS), { maxLength: 4 }),
    });
    fc.assert(
      fc.property(edit, ({ spec, at, cut, insert }) => {
        const text = specs[spec];
        const i = at % (text.length + 1);
        compileNeverThrows(text.slice(0, i) + insert.join(' ') + text.slice(i + cut));
      }),
      { numRuns: 400 },
    );
  });

  it('on token soup', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }), (toks) => compileNeverThrows('flow f\n' + toks.join(' '))),
      { numRuns: 400 },
    );
  });
});
