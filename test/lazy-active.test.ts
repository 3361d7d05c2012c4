// Chizat–Bach's lazy training, as specs/lazy-active.flow runs it: the same
// network at scale alpha. The statement under test (the talk's proposition):
// the neurons move O(1/alpha), i.e. displacement (a squared distance) scales
// as 1/alpha^2, while the training loss still goes to ~0; and the lazy regime
// generalises worse than the active one on this teacher.

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileOrThrow, runCompiled } from '../src/api.js';
import { ROOT } from './helpers.js';

const spec = path.join(ROOT, 'specs', 'lazy-active.flow');

async function final(alpha: number) {
  const { compiled } = compileOrThrow(spec, { set: { alpha: [alpha] } });
  const { trace } = (await runCompiled(compiled, { threads: 1 })).result;
  const col = (name: string) => trace.columns.indexOf(name);
  const [first, last] = [trace.rows[0], trace.rows[trace.rows.length - 1]];
  return {
    train0: first[col('train')], train: last[col('train')], test: last[col('test')], displacement: last[col('displacement(mu)')],
  };
}

describe('lazy against active training (specs/lazy-active.flow)', () => {
  it('neurons move O(1/alpha), every scale fits the data, the lazy scales generalise worse', async () => {
    const [active, lazy10, lazy100] = [await final(1), await final(10), await final(100)];
    for (const r of [active, lazy10, lazy100]) expect(r.train).toBeLessThan(0.01 * r.train0);
    // alpha^2 * displacement is the same order at alpha = 10 and 100 (lazy regime) ...
    const scaled = [lazy10.displacement * 10 ** 2, lazy100.displacement * 100 ** 2];
    expect(scaled[1] / scaled[0]).toBeGreaterThan(0.5);
    expect(scaled[1] / scaled[0]).toBeLessThan(2);
    // ... while the active network's neurons travel far further than 1/alpha^2 would say
    expect(active.displacement).toBeGreaterThan(0.2);
    expect(lazy100.test).toBeGreaterThan(2 * active.test);
    expect(lazy10.test).toBeGreaterThan(2 * active.test);
  }, 120_000);
});
