// A run folder: run.json (the resolved spec, versions, timings, final
// figures), trace.csv and NAME.npy, as `flowc run` and the API's
// `run(spec, { out })` write them.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FlowRun } from './api.js';
import { spaceColumns, spaceText } from './compiler/columns.js';
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

/** The contents of run.json. */
export function runJson(file: string, run: FlowRun, set: Record<string, number[]>, writeMs: number): object {
  const c = run.compiled;
  const rows = run.result.trace.rows;
  const last = rows[rows.length - 1];
  return {
    flowc: VERSION,
    node: process.version,
    ...(run.started ? { started: run.started, finished: run.finished } : {}),
    spec: path.resolve(file),
    flow: c.ir.flow,
    status: run.result.status,
    divergence: run.result.divergence,
    backend: run.backend,
    seed: c.ir.seed,
    constants: Object.fromEntries(c.ir.params.map((p) => [p.name, p.value.length === 1 ? p.value[0] : p.value])),
    set,
    metric: c.ir.metric,
    scheme: c.ir.scheme,
    ...(c.ir.noise ? { noise: c.ir.noise.text } : {}),
    ...(c.ir.diffusion ? { diffusion: c.ir.diffusion.text } : {}),
    steps: run.result.steps,
    ...(run.result.inner ? { inner: run.result.inner } : {}),
    ...(run.result.transport ? { transport: run.result.transport } : {}),
    measures: run.measures.map((m) => {
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
    ...(c.ir.states.length
      ? {
          states: c.ir.states.map((v) => ({
            name: v.name,
            role: v.role,
            dim: v.dim,
            init: v.init,
            ...(v.ascent ? { ascent: v.ascent } : {}),
            final: Array.from(run.result.states?.[v.name] ?? []),
          })),
        }
      : {}),
    timings_ms: { ...run.timings, write: writeMs },
    final: last ? Object.fromEntries(run.result.trace.columns.map((col, k) => [col, last[k]])) : {},
  };
}

/**
 * Write the files of a run into `dir` (which ensureFreshDir has prepared).
 * They are written twice, so that run.json holds the time the writing takes.
 */
export function writeRunFolder(dir: string, file: string, run: FlowRun, set: Record<string, number[]>): { files: string[]; writeMs: number } {
  const w0 = performance.now();
  writeRunFiles(dir, run.result, runJson(file, run, set, 0));
  const writeMs = performance.now() - w0;
  return { files: writeRunFiles(dir, run.result, runJson(file, run, set, writeMs)), writeMs };
}
