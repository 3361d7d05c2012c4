// The files of a run (DESIGN.md, "Outputs"): trace.csv (step, t, each
// recorded scalar), NAME.npy per recorded measure (records × N × d, float64;
// weights: records × N),
// and run.json, written last. Each file is written under a temporary name
// and renamed, so an interrupted run never leaves half a file.

import { createHash } from 'node:crypto';
import path from 'node:path';
import { encodeNpy } from './npy.js';
import { writeFileAtomic } from './files.js';
import type { RunResult, Trace } from './simulate.js';

/** Shortest text that reads back as the same double (-0 keeps its sign). */
export function formatValue(v: number): string {
  if (Object.is(v, -0)) return '-0';
  return String(v);
}

export function traceCsv(trace: Trace): string {
  const quote = (c: string) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
  return [trace.columns.map(quote).join(','), ...trace.rows.map((r) => r.map(formatValue).join(','))].join('\n') + '\n';
}

/** File name of a recorded measure: the column name when it is a safe file name. */
export function npyName(column: string): string {
  const safe = column.replace(/[^\p{L}\p{N}_.'-]/gu, '_');
  // file names are at most 255 bytes: a longer name keeps its start and a hash of the whole (ENAMETOOLONG otherwise)
  if (Buffer.byteLength(safe) <= 200) return `${safe}.npy`;
  let cut = safe.slice(0, 150);
  while (Buffer.byteLength(cut) > 150) cut = cut.slice(0, -1);
  return `${cut}-${createHash('sha256').update(column).digest('hex').slice(0, 16)}.npy`;
}

/** File name of a fixed measure read from a data file, as the run folder keeps it (a measure name has no '.': no record item's file is called so). */
export function inputNpyName(measure: string): string {
  return `${measure}.input.npy`;
}

export function writeRunFiles(dir: string, result: RunResult, runJson: object, inputs: { name: string; data: Float64Array; size: number; dim: number }[] = []): string[] {
  const files: string[] = [];
  for (const m of inputs) {
    writeFileAtomic(path.join(dir, inputNpyName(m.name)), encodeNpy(m.data, [m.size, m.dim]));
    files.push(inputNpyName(m.name));
  }
  writeFileAtomic(path.join(dir, 'trace.csv'), traceCsv(result.trace));
  files.push('trace.csv');
  for (const s of result.snapshots) {
    const data = new Float64Array(s.records.length * s.size * s.dim);
    s.records.forEach((r, k) => data.set(r, k * s.size * s.dim));
    const name = npyName(s.column);
    const shape = s.kind === 'weights' ? [s.records.length, s.size] : s.kind === 'state' ? [s.records.length, s.dim] : [s.records.length, s.size, s.dim];
    writeFileAtomic(path.join(dir, name), encodeNpy(data, shape));
    files.push(name);
  }
  files.push('run.json');
  // JSON has no NaN or infinities: a diverged run's figures are written as the strings "NaN", "Infinity", "-Infinity"
  const finite = (_key: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);
  writeFileAtomic(path.join(dir, 'run.json'), JSON.stringify({ ...runJson, files }, finite, 2) + '\n');
  return files;
}
