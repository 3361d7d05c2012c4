// Golden-output files: `flowc golden SPEC` writes SPEC.golden.json from a run;
// `flowc test` re-runs every spec that has one and compares within the
// golden's tolerances (DESIGN.md, "Golden files are JSON: selected trace rows
// and summary figures with their tolerances").

import path from 'node:path';
import type { FlowRun } from '../api.js';
import { GOLDEN_SCHEMA, readJsonFile } from '../runtime/schemas.js';

export interface Golden {
  flowc: string;
  spec: string;
  backend: string;
  /** |v - r| <= atol + rtol |r| */
  tolerance: { rtol: number; atol: number };
  set: Record<string, number[]>;
  status: string;
  steps: number;
  trace: { columns: string[]; rows: number[][] };
  /** per recorded measure: statistics of the final positions */
  final: Record<string, { mean: number[]; std: number[]; first: number[][] }>;
}

export const DEFAULT_TOLERANCE = { rtol: 1e-9, atol: 1e-12 };

export function goldenPath(spec: string): string {
  return spec.replace(/\.flow$/, '') + '.golden.json';
}

/** At most ~25 trace rows: all of a short trace, else an even selection plus the last. */
function selectRows(rows: number[][]): number[][] {
  if (rows.length <= 25) return rows;
  const stride = Math.ceil(rows.length / 24);
  return rows.filter((_, i) => i % stride === 0 || i === rows.length - 1);
}

function finalStats(run: FlowRun): Golden['final'] {
  // entries, then fromEntries: a measure may be called '__proto__', which an assignment would not store
  const out: [string, Golden['final'][string]][] = [];
  for (const s of run.result.snapshots) {
    const last = s.records[s.records.length - 1];
    if (!last) continue;
    const mean = Array(s.dim).fill(0);
    const sq = Array(s.dim).fill(0);
    for (let i = 0; i < s.size; i++) for (let c = 0; c < s.dim; c++) mean[c] += last[i * s.dim + c] / s.size;
    for (let i = 0; i < s.size; i++) for (let c = 0; c < s.dim; c++) sq[c] += (last[i * s.dim + c] - mean[c]) ** 2 / s.size;
    const first = Array.from({ length: Math.min(3, s.size) }, (_, i) => Array.from(last.subarray(i * s.dim, (i + 1) * s.dim)));
    out.push([s.column, { mean, std: sq.map(Math.sqrt), first }]);
  }
  return Object.fromEntries(out);
}

export function makeGolden(spec: string, run: FlowRun, version: string, set: Record<string, number[]>, tolerance = DEFAULT_TOLERANCE): Golden {
  return {
    flowc: version,
    spec: path.basename(spec),
    backend: run.backend.name,
    tolerance,
    set,
    status: run.result.status,
    steps: run.result.steps,
    trace: { columns: run.result.trace.columns, rows: selectRows(run.result.trace.rows) },
    final: finalStats(run),
  };
}

/** Read a golden file, validated against its JSON Schema (schemas.ts); a file that is not one is a located diagnostic, not a crash. */
export function readGolden(file: string): Golden {
  return readJsonFile<Golden>(file, GOLDEN_SCHEMA, 'a valid golden file', `; recreate it with: flowc golden ${file.replace(/\.golden\.json$/, '.flow')}`);
}

/** Differences between a golden and a fresh run, as readable lines (empty: match). */
export function compareGolden(golden: Golden, run: FlowRun): string[] {
  const { rtol, atol } = golden.tolerance;
  const diffs: string[] = [];
  const close = (v: number, r: number) => v === r || Math.abs(v - r) <= atol + rtol * Math.abs(r);
  const show = (where: string, v: number, r: number) => {
    const rel = Math.abs(v - r) / Math.max(Math.abs(r), Number.MIN_VALUE);
    diffs.push(`${where}: expected ${r}, got ${v} (relative difference ${rel.toExponential(2)}; tolerance rtol ${rtol}, atol ${atol})`);
  };
  if (run.result.status !== golden.status) diffs.push(`status: expected ${golden.status}, got ${run.result.status}`);
  if (run.result.steps !== golden.steps) diffs.push(`steps: expected ${golden.steps}, got ${run.result.steps}`);
  const cols = run.result.trace.columns;
  if (cols.join(',') !== golden.trace.columns.join(','))
    diffs.push(`trace columns: expected ${golden.trace.columns.join(', ')}, got ${cols.join(', ')}`);
  const byStep = new Map(run.result.trace.rows.map((r) => [r[0], r]));
  for (const row of golden.trace.rows) {
    const got = byStep.get(row[0]);
    if (!got) {
      diffs.push(`trace: no row for step ${row[0]}`);
      continue;
    }
    golden.trace.columns.forEach((c, k) => {
      const j = cols.indexOf(c);
      if (j >= 0 && !close(got[j], row[k])) show(`trace step ${row[0]}, ${c}`, got[j], row[k]);
    });
  }
  const fin = finalStats(run);
  for (const [name, g] of Object.entries(golden.final)) {
    const f = Object.hasOwn(fin, name) ? fin[name] : undefined;
    if (!f) {
      diffs.push(`final: no recorded measure ${name}`);
      continue;
    }
    const scale = Math.max(...g.mean.map(Math.abs), ...g.std, ...g.first.flat().map(Math.abs));
    const closeX = (v: number, r: number) => Math.abs(v - r) <= atol + rtol * scale;
    g.mean.forEach((r, c) => !closeX(f.mean[c], r) && show(`final ${name} mean[${c}]`, f.mean[c], r));
    g.std.forEach((r, c) => !closeX(f.std[c], r) && show(`final ${name} std[${c}]`, f.std[c], r));
    g.first.forEach((p, i) => p.forEach((r, c) => !closeX(f.first[i]?.[c] ?? NaN, r) && show(`final ${name} point ${i}[${c}]`, f.first[i]?.[c] ?? NaN, r)));
  }
  return diffs;
}
