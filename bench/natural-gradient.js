// Steps to a loss threshold under euclid, W2natural (KWNG) and KL(eps) on
// the ill-conditioned generator of specs/kwng-*.flow (Arbel, Gretton, Li,
// Montúfar), each with the same step-size search: every step size of the
// grid runs up to a step cap, and the best (fewest steps) is reported.
// See bench/README.md.
//
//   npm run build && node bench/natural-gradient.js [THRESHOLD]   (default 0.005)
//
// stdout: one JSON document; progress goes to stderr.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../dist/src/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const threshold = Number(process.argv[2] ?? 0.005);
if (!(threshold > 0)) {
  process.stderr.write('usage: node bench/natural-gradient.js [THRESHOLD > 0]\n');
  process.exit(2);
}
const GRID = [0.3, 1, 3, 10, 30, 100];
const CAP = { euclid: 1000, W2natural: 200, fisher: 200 };

const results = {};
for (const metric of ['euclid', 'W2natural', 'fisher']) {
  const spec = path.join(ROOT, 'specs', `kwng-${metric}.flow`);
  const runs = [];
  for (const step of GRID) {
    const t0 = performance.now();
    const r = await run(spec, { set: { step }, steps: CAP[metric] });
    const hit = r.trace.step.find((_, k) => r.trace.F[k] < threshold);
    const F = r.trace.F;
    runs.push({ step, steps_to_threshold: hit ?? null, final_F: F[F.length - 1], status: r.status, seconds: (performance.now() - t0) / 1000 });
    process.stderr.write(`${metric} step ${step}: ${hit ?? `not within ${CAP[metric]}`} steps, final F ${F[F.length - 1].toPrecision(4)}\n`);
  }
  const reached = runs.filter((x) => x.steps_to_threshold !== null);
  const best = reached.sort((a, b) => a.steps_to_threshold - b.steps_to_threshold)[0] ?? null;
  results[metric] = { best_step: best?.step ?? null, steps_to_threshold: best?.steps_to_threshold ?? null, runs };
}
process.stdout.write(JSON.stringify({ bench: 'natural-gradient', threshold, grid: GRID, cap: CAP, results }, null, 2) + '\n');
