// One fuzzed input through the whole path a user's spec takes: compile,
// input loading (sampling, CSV files), and a few steps on the cpu backend,
// in process. A crash is an exception that is not a diagnostic (FlowError),
// or a diagnostic that says "internal". Hangs are caught by fuzz/run.ts,
// which runs this in a child process under a watchdog.

import { runCompiled } from '../src/api.js';
import { compile } from '../src/compiler/compile.js';
import { FlowError } from '../src/compiler/diagnostics.js';

export type Outcome = { kind: 'ok' | 'diagnostic' | 'skipped' } | { kind: 'crash'; message: string };

/** Work above which an input is compiled and loaded but not stepped (a fuzzer must not spend minutes on one valid spec). */
const MAX_POINTS = 1200;
const MAX_COORDS = 6000;
const MAX_INNER = 1000;

export async function fuzzOne(text: string, file: string, steps = 2): Promise<Outcome> {
  try {
    const r = compile(text, { file, steps });
    const internal = r.diagnostics.find((d) => /internal/i.test(d.message));
    if (internal) return { kind: 'crash', message: `diagnostic: ${internal.message}` };
    if (!r.compiled || r.diagnostics.some((d) => d.severity === 'error')) return { kind: 'diagnostic' };
    const ms = r.compiled.ir.measures;
    const points = ms.map((m) => (m.source.kind === 'dist' ? m.source.count : 200));
    const total = points.reduce((a, b) => a + b, 0);
    const coords = ms.reduce((a, m, i) => a + points[i] * m.dim, 0);
    // a critic's ascent runs `inner` rounds a step: 1e6 rounds are a valid spec, but minutes of work, not a hang
    const inner = Math.max(1, ...r.compiled.ir.states.map((v) => v.ascent?.inner ?? 1));
    if (total > MAX_POINTS || coords > MAX_COORDS || inner > MAX_INNER) return { kind: 'skipped' };
    await runCompiled(r.compiled, { threads: 1 });
    return { kind: 'ok' };
  } catch (e) {
    if (e instanceof FlowError) {
      const internal = e.diagnostics.find((d) => /internal/i.test(d.message));
      return internal ? { kind: 'crash', message: `diagnostic: ${internal.message}` } : { kind: 'diagnostic' };
    }
    return { kind: 'crash', message: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack?.split('\n').slice(1, 6).join('\n')}` : String(e) };
  }
}
