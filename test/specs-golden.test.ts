// Every spec in specs/ has a golden file and still matches it (what
// `flowc test specs` checks, through the API).

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileOrThrow, runCompiled } from '../src/api.js';
import { compareGolden, goldenPath, readGolden } from '../src/cli/golden.js';
import { ROOT } from './helpers.js';

const dir = path.join(ROOT, 'specs');
const specs = fs.readdirSync(dir).filter((f) => f.endsWith('.flow')).sort();

describe('specs/ match their golden files', () => {
  it('there are specs, at least one drawn from distributions with a seed', () => {
    expect(specs.length).toBeGreaterThanOrEqual(4);
    expect(specs.some((f) => /^seed\s+\d+/m.test(fs.readFileSync(path.join(dir, f), 'utf8')))).toBe(true);
  });
  for (const f of specs)
    it(f, async () => {
      const spec = path.join(dir, f);
      expect(fs.existsSync(goldenPath(spec)), `${f} has no golden file`).toBe(true);
      const golden = readGolden(goldenPath(spec));
      const { compiled } = compileOrThrow(spec, { set: golden.set, steps: golden.steps });
      expect(compareGolden(golden, await runCompiled(compiled))).toEqual([]);
    }, 300_000); // the whole run of each spec: the learned-kernel GANs take up to a minute on a quiet 2-core machine
});
