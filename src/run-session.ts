// A run of `flowc run` into its folder, from start to end: run.json at the
// start (status "running", the provenance), records streamed as they are
// made (record-stream.ts), checkpoints (checkpoint.ts), and the final
// run.json; the folder is claimed by run-dir.ts (lock, --force). A resumed
// run reopens the same files at its checkpoint's record count.

import fs from 'node:fs';
import path from 'node:path';
import type { FlowRun } from './api.js';
import type { Compiled } from './compiler/compile.js';
import { error, FlowError } from './compiler/diagnostics.js';
import { CHECKPOINT_FILE, writeCheckpoint, type Checkpoint } from './runtime/checkpoint.js';
import { writeFileAtomic } from './runtime/files.js';
import type { MeasureData } from './runtime/inputs.js';
import { encodeNpy } from './runtime/npy.js';
import { inputNpyName, npyName } from './runtime/outputs.js';
import { NpyAppender, NPY_HEADER_BYTES, TraceAppender } from './runtime/record-stream.js';
import type { RunDir } from './runtime/run-dir.js';
import type { RunResult } from './runtime/simulate.js';
import { runJson } from './run-folder.js';

/** One recorded array of the flow: its .npy file and the shape of one record. */
interface Snapshot {
  file: string;
  tail: number[];
}

function snapshotLayout(compiled: Compiled, measures: MeasureData[]): Snapshot[] {
  return compiled.ir.record.items.flatMap((it) => {
    if (it.kind === 'state') return [{ file: npyName(it.column), tail: [compiled.ir.states.find((v) => v.name === it.state)!.dim] }];
    if (it.kind !== 'positions' && it.kind !== 'weights') return [];
    const m = measures.find((x) => x.name === it.measure)!;
    return [{ file: npyName(it.column), tail: it.kind === 'weights' ? [m.size] : [m.size, m.dim] }];
  });
}

/** Records a run makes from step `from` (exclusive; 0: the step-0 record counts) to `steps`. */
export function recordCount(from: number, steps: number, every: number): number {
  const multiples = every > 0 ? Math.floor(steps / every) - Math.floor(from / every) : 0;
  const last = steps > from && (every <= 0 || steps % every !== 0) ? 1 : 0;
  return (from === 0 ? 1 : 0) + multiples + last;
}

const size = (b: number) =>
  b >= 1e12 ? `${(b / 1e12).toPrecision(3)} TB` : b >= 1e9 ? `${(b / 1e9).toPrecision(3)} GB` : b >= 1e6 ? `${(b / 1e6).toPrecision(3)} MB` : b >= 1e3 ? `${(b / 1e3).toPrecision(3)} kB` : `${b} bytes`;

/** Refuse a run whose records would not fit on the disk of `dir`, with the figures. */
export function checkDiskSpace(dir: string, compiled: Compiled, measures: MeasureData[], from: number): void {
  const flow = compiled.ir;
  const records = recordCount(from, flow.scheme.steps, flow.record.every);
  const snaps = snapshotLayout(compiled, measures);
  const perRecord = snaps.reduce((a, s) => a + 8 * s.tail.reduce((x, y) => x * y, 1), 0);
  // a trace row: at most 25 characters per number
  const columns = 3 + flow.record.items.length;
  const need = records * (perRecord + 25 * columns) + snaps.length * NPY_HEADER_BYTES;
  let free: number;
  try {
    // the folder may not exist yet: the file system of its nearest existing parent
    let at = path.resolve(dir);
    while (!fs.existsSync(at) && path.dirname(at) !== at) at = path.dirname(at);
    const st = fs.statfsSync(at);
    free = st.bavail * st.bsize;
  } catch {
    return; // a file system that cannot say: nothing to check against
  }
  if (need > free)
    throw new FlowError(
      error(
        flow.file,
        undefined,
        `the records of this run need about ${size(need)} (${records} records${perRecord ? ` of ${size(perRecord)} of positions or weights each` : ''}, and trace rows), but the disk of "${dir}" has ${size(free)} free; record less often (record every K), record fewer items, or run fewer steps`,
      ),
    );
}

export class RunSession {
  private trace?: TraceAppender;
  private npys: NpyAppender[] = [];
  private checkpointed = false;

  constructor(
    private readonly runDir: RunDir,
    private readonly spec: { file: string; source: string; compiled: Compiled; measures: MeasureData[]; set: Record<string, number[]>; checkpointEvery: number; backend: string; precision?: 'float64' | 'float32' },
    private readonly head: Record<string, unknown>,
    private readonly resume?: Checkpoint,
  ) {}

  get dir(): string {
    return this.runDir.dir;
  }

  private writeJson(meta: object, files: string[]): void {
    const finite = (_key: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);
    writeFileAtomic(path.join(this.dir, 'run.json'), JSON.stringify({ ...meta, files }, finite, 2) + '\n');
  }

  /** Fixed measures read from data files, kept in the run folder as NAME.input.npy (N × d) so that plots need nothing outside it. */
  private inputs(): MeasureData[] {
    return this.spec.measures.filter((m) => m.file && m.name !== this.spec.compiled.ir.particles);
  }

  private files(): string[] {
    return ['trace.csv', ...snapshotLayout(this.spec.compiled, this.spec.measures).map((s) => s.file), ...this.inputs().map((m) => inputNpyName(m.name)), 'run.json', ...(this.checkpointed || this.resume ? [CHECKPOINT_FILE] : [])];
  }

  private runInfo(): Record<string, unknown> {
    return { checkpoint_every: this.spec.checkpointEvery, backend_request: this.spec.backend, precision_request: this.spec.precision ?? 'float64' };
  }

  /** run.json with status "running" (a new run; a resumed run keeps its own until a checkpoint). */
  begin(): void {
    if (!this.resume) for (const m of this.inputs()) writeFileAtomic(path.join(this.dir, inputNpyName(m.name)), encodeNpy(m.data, [m.size, m.dim]));
    if (!this.resume) this.writeJson({ ...this.head, status: 'running', steps: 0, records: 0, ...this.runInfo() }, this.files());
  }

  private open(columns: string[]): void {
    const records = this.resume?.records;
    this.trace = new TraceAppender(path.join(this.dir, 'trace.csv'), columns, records);
    this.npys = snapshotLayout(this.spec.compiled, this.spec.measures).map((s) => new NpyAppender(path.join(this.dir, s.file), s.tail, records ?? 0));
  }

  readonly onRecord = (row: number[], values: Float64Array[], layout: { columns: string[] }): void => {
    if (!this.trace) this.open(layout.columns);
    this.trace!.append(row);
    values.forEach((v, k) => this.npys[k].append(v));
  };

  readonly onCheckpoint = (cp: Checkpoint): void => {
    if (!this.trace) this.open([]);
    // the records the checkpoint counts are on the disk before it is
    this.trace!.sync();
    for (const n of this.npys) n.sync();
    writeCheckpoint(path.join(this.dir, CHECKPOINT_FILE), cp);
    this.checkpointed = true;
    this.writeJson({ ...this.head, status: 'running', steps: cp.step, records: cp.records, ...this.runInfo(), checkpoint: { step: cp.step, records: cp.records } }, this.files());
  };

  /** Close the files, write the final run.json, swap a --force run into place; returns the files written. */
  finish(run: FlowRun, writeMs: number): string[] {
    if (!this.trace && this.resume) this.open([]);
    this.trace?.close();
    for (const n of this.npys) n.close();
    // a complete run has nothing to resume: its checkpoint goes
    const complete = run.result.status === 'ok';
    if (complete) fs.rmSync(path.join(this.dir, CHECKPOINT_FILE), { force: true });
    const files = this.files().filter((f) => !(complete && f === CHECKPOINT_FILE));
    this.writeJson(runJson(this.spec.file, run, this.spec.set, writeMs, this.spec.source, this.runInfo()), files);
    this.runDir.finish(files);
    return files;
  }

  /** Give the folder back without a result (the run failed before it started). */
  abandon(): void {
    try {
      this.trace?.close();
      for (const n of this.npys) n.close();
    } finally {
      this.runDir.release();
    }
  }
}

export type { RunResult };
