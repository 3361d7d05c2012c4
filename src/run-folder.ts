// A run folder: run.json (the resolved spec, versions, timings, final
// figures), trace.csv and NAME.npy, as `flowc run` and the API's
// `run(spec, { out })` write them.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FlowRun } from './api.js';
import { spaceColumns, spaceText } from './compiler/columns.js';
import type { Compiled } from './compiler/compile.js';
import type { MeasureData } from './runtime/inputs.js';
import { writeRunFiles } from './runtime/outputs.js';

/** flowc's version, from package.json (dist/src/run-folder.js → package.json). */
export const VERSION: string = (() => {
  try {
    const pkg = fileURLToPath(new URL('../../package.json', import.meta.url));
    return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

/** The spec of a run as run.json keeps it (LANGUAGE.md 1.1): its path when run, full text and sha256. */
export function specProvenance(file: string, source: string): { file: string; sha256: string; text: string } {
  return { file: path.resolve(file), sha256: sha256(source), text: source };
}

export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The data files a run read, each with the sha256 of its bytes. */
export function dataProvenance(measures: MeasureData[]): { measure: string; file: string; sha256: string }[] {
  return measures.flatMap((m) => (m.file ? [{ measure: m.name, file: m.file.path, sha256: m.file.sha256 }] : []));
}

/** The contents of run.json. `source` is the spec's text as compiled (absent: read from `file`, for API callers). */
export function runJson(file: string, run: FlowRun, set: Record<string, number[]>, writeMs: number, source?: string, extra: Record<string, unknown> = {}): object {
  const c = run.compiled;
  const rows = run.result.trace.rows;
  const last = rows[rows.length - 1];
  let text = source;
  if (text === undefined)
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      text = '';
    }
  return {
    ...runJsonHead(file, text, c, run.measures, set),
    ...(run.started ? { started: run.started, finished: run.finished } : {}),
    status: run.result.status,
    divergence: run.result.divergence,
    backend: run.backend,
    steps: run.result.steps,
    records: run.result.records,
    ...(run.result.inner ? { inner: run.result.inner } : {}),
    ...(run.result.transport ? { transport: run.result.transport } : {}),
    ...(c.ir.states.length ? { states: c.ir.states.map((v) => ({ name: v.name, role: v.role, dim: v.dim, init: v.init, ...(v.ascent ? { ascent: v.ascent } : {}), final: Array.from(run.result.states?.[v.name] ?? []) })) } : {}),
    timings_ms: { ...run.timings, write: writeMs },
    final: last ? Object.fromEntries(run.result.trace.columns.map((col, k) => [col, last[k]])) : {},
    ...extra,
  };
}

/** What run.json says before the run has a result (written when it starts, and at each checkpoint). */
export function runJsonHead(file: string, source: string, c: Compiled, measures: MeasureData[], set: Record<string, number[]>): Record<string, unknown> {
  return {
    flowc: VERSION,
    node: process.version,
    spec: specProvenance(file, source),
    flow: c.ir.flow,
    seed: c.ir.seed,
    constants: Object.fromEntries(c.ir.params.map((p) => [p.name, p.value.length === 1 ? p.value[0] : p.value])),
    set,
    metric: c.ir.metric,
    scheme: c.ir.scheme,
    ...(c.ir.noise ? { noise: c.ir.noise.text } : {}),
    ...(c.ir.diffusion ? { diffusion: c.ir.diffusion.text } : {}),
    measures: measures.map((m) => {
      const decl = c.ir.measures.find((x) => x.name === m.name)!;
      const source = decl.source.kind === 'file' ? decl.source.path : decl.source.kind === 'model' ? `push of ${decl.source.base}` : 'distribution';
      return {
        name: m.name,
        role: decl.role,
        points: m.size,
        dim: m.dim,
        space: spaceText(decl.type),
        // the coordinates of a record space, in the order of the .npy's last axis and of a data file's columns
        ...(decl.type.t === 'record' ? { columns: spaceColumns(decl.type) } : {}),
        source,
      };
    }),
    ...(c.ir.states.length ? { states: c.ir.states.map((v) => ({ name: v.name, role: v.role, dim: v.dim, init: v.init, ...(v.ascent ? { ascent: v.ascent } : {}) })) } : {}),
    data: dataProvenance(measures),
  };
}

/**
 * Write the files of a run into `dir` (which ensureFreshDir has prepared).
 * They are written twice, so that run.json holds the time the writing takes.
 */
export function writeRunFolder(dir: string, file: string, run: FlowRun, set: Record<string, number[]>, source?: string): { files: string[]; writeMs: number } {
  const w0 = performance.now();
  // fixed measures read from data files: kept in the folder (NAME.input.npy) so that plots need nothing outside it
  const inputs = run.measures.filter((m) => m.file && m.name !== run.compiled.ir.particles);
  writeRunFiles(dir, run.result, runJson(file, run, set, 0, source), inputs);
  const writeMs = performance.now() - w0;
  return { files: writeRunFiles(dir, run.result, runJson(file, run, set, writeMs, source), inputs), writeMs };
}
