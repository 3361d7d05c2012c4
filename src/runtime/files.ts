// Output files of a run. Every file is written under a temporary name in its
// final folder, flushed, then renamed over the target: rename is atomic within
// a file system, so an interrupted run leaves either the old file or the new
// one, never half of one.

import fs from 'node:fs';
import path from 'node:path';
import { error, FlowError } from '../compiler/diagnostics.js';

/** Write `data` to `file` atomically (temporary file `file.PID.tmp`, fsync, rename). */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new FlowError(error(file, undefined, `cannot write "${file}": ${e instanceof Error ? e.message : String(e)}`));
  }
}

/** Whether `name` is a file that flowc writes into an output folder (with --plot and --report, plot.svg and report.html). */
function isFlowcOutput(name: string): boolean {
  return ['run.json', 'trace.csv', 'plot.svg', 'report.html'].includes(name) || name.endsWith('.npy') || /\.\d+\.tmp$/.test(name);
}

/**
 * Make `dir` ready to receive a run's outputs, creating it (and its parents)
 * if needed. An existing non-empty folder is an error unless `force`; with
 * `force`, only the files flowc writes are deleted (run.json, trace.csv,
 * *.npy, plot.svg, report.html, and *.PID.tmp left by an interrupted
 * write): anything else the user keeps there, files or folders, is left
 * alone.
 */
export function ensureFreshDir(dir: string, force: boolean): void {
  const fail = (message: string) => new FlowError(error(dir, undefined, message));
  try {
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      return;
    }
    if (!fs.statSync(dir).isDirectory()) throw fail(`output path "${dir}" exists and is not a folder`);
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    if (entries.length === 0) return;
    if (!force) throw fail(`output folder "${dir}" exists; pass --force to overwrite`);
    for (const entry of entries)
      if (!entry.isDirectory() && isFlowcOutput(entry.name)) fs.rmSync(path.join(dir, entry.name), { force: true });
  } catch (e) {
    if (e instanceof FlowError) throw e;
    throw fail(`cannot prepare output folder "${dir}": ${e instanceof Error ? e.message : String(e)}`);
  }
}
