// A bounded run of the fuzzer (fuzz/): mutated specs and language examples
// through compile, input loading and a few steps, in process. None may end
// in an exception that is not a diagnostic, or in a diagnostic that says
// "internal". The long run is `npx tsx fuzz/run.ts --count 100000` (README).

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fuzzOne } from '../fuzz/harness.js';
import { fuzzInput } from '../fuzz/inputs.js';
import { mutate, rng } from '../fuzz/mutate.js';
import { ROOT } from './helpers.js';

describe('fuzzer', () => {
  it('mutations are reproducible from their seed', () => {
    expect(fuzzInput(ROOT, 17)).toEqual(fuzzInput(ROOT, 17));
    const r1 = rng(5);
    const r2 = rng(5);
    expect(mutate('flow a\nlet x = 1\n', r1)).toBe(mutate('flow a\nlet x = 1\n', r2));
  });

  it('80 fuzzed inputs end in a result or a diagnostic, never a crash', async () => {
    const crashes: string[] = [];
    const kinds = new Set<string>();
    for (let k = 900_001; k <= 900_080; k++) {
      const { text, file } = fuzzInput(ROOT, k);
      const o = await fuzzOne(text, file);
      kinds.add(o.kind);
      if (o.kind === 'crash') crashes.push(`input ${k}: ${o.message}`);
    }
    expect(crashes).toEqual([]);
    // the mutations reach both ends: some specs still run, some are rejected
    expect(kinds).toContain('ok');
    expect(kinds).toContain('diagnostic');
  }, 300_000);
});

describe('inputs that crashed the long run', () => {
  // fuzz/run.ts saves each one (crash-K.flow); they are kept here, since input K changes with the seed texts
  const dir = path.join(ROOT, 'test', 'fuzz-regressions');
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.flow')).sort())
    it(`${f}: a result or a diagnostic`, async () => {
      const o = await fuzzOne(fs.readFileSync(path.join(dir, f), 'utf8'), path.join(ROOT, 'specs', f));
      expect(o.kind === 'crash' ? o.message : o.kind).toMatch(/^(ok|diagnostic|skipped)$/);
    }, 120_000);
});
