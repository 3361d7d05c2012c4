// The folder a run writes into, claimed for the run's whole life:
//
// - A lock: DIR/.flowc.lock, a folder holding the owner's pid. It is made as
//   DIR/.flowc.lock.PID with the pid written, then renamed to .flowc.lock
//   (atomic: of two runs started at once into DIR, one rename succeeds and
//   the other finds a lock that already names its owner). A lock whose
//   process is gone (SIGKILL, power cut) is taken over.
// - A fresh folder: a run into an empty or new DIR writes there directly.
//   With --force into a DIR holding a previous run, the new run is written
//   into DIR/.flowc-new.PID and swapped in at the end: its files replace
//   those of the previous run, the previous run's other files (those its
//   run.json lists, and its checkpoint) are deleted, and nothing else in
//   DIR is touched. An interrupted --force run leaves the previous run as it
//   was; the next run deletes the abandoned .flowc-new.PID folder.
// - Resume: the run appends to DIR's own files.

import fs from 'node:fs';
import path from 'node:path';
import { error, FlowError } from '../compiler/diagnostics.js';

export const LOCK = '.flowc.lock';
const STAGING = /^\.flowc-new\.(\d+)$/;
/** a lock being made by process PID, not yet renamed to LOCK */
const PENDING_LOCK = /^\.flowc\.lock\.(\d+)$/;

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class RunDir {
  private released = false;

  private constructor(
    /** the folder the user named */
    readonly target: string,
    /** where this run's files go: target, or a fresh folder inside it (--force) */
    readonly dir: string,
  ) {}

  /** Claim `target` for a run: mode 'new' (refuse a non-empty folder unless force) or 'resume' (an existing run folder). */
  static open(target: string, mode: 'new' | 'resume', force = false): RunDir {
    const fail = (message: string) => new FlowError(error(target, undefined, message));
    try {
      if (mode === 'resume') {
        if (!fs.statSync(target, { throwIfNoEntry: false })?.isDirectory()) throw fail(`no run folder "${target}" to resume`);
      } else {
        const st = fs.statSync(target, { throwIfNoEntry: false });
        if (st && !st.isDirectory()) throw fail(`output path "${target}" exists and is not a folder`);
        fs.mkdirSync(target, { recursive: true });
      }
      RunDir.lock(target);
    } catch (e) {
      if (e instanceof FlowError) throw e;
      throw fail(`cannot prepare output folder "${target}": ${e instanceof Error ? e.message : String(e)}`);
    }
    try {
      // folders of --force runs that were killed: flowc's own, safe to delete
      for (const e of fs.readdirSync(target)) {
        const m = STAGING.exec(e) ?? PENDING_LOCK.exec(e);
        if (m && !alive(Number(m[1]))) fs.rmSync(path.join(target, e), { recursive: true, force: true });
      }
      for (const e of fs.readdirSync(target)) if (/\.\d+\.tmp$/.test(e) && !alive(Number(e.split('.').at(-2)))) fs.rmSync(path.join(target, e), { force: true });
      if (mode === 'resume') return new RunDir(target, target);
      const others = fs.readdirSync(target).filter((e) => e !== LOCK && !STAGING.test(e) && !PENDING_LOCK.test(e));
      if (!others.length) return new RunDir(target, target);
      if (!force) throw fail(`output folder "${target}" exists; pass --force to replace the run in it (files flowc did not write are kept), or --resume to continue it`);
      const staging = path.join(target, `.flowc-new.${process.pid}`);
      fs.rmSync(staging, { recursive: true, force: true });
      fs.mkdirSync(staging);
      return new RunDir(target, staging);
    } catch (e) {
      fs.rmSync(path.join(target, LOCK), { recursive: true, force: true });
      if (e instanceof FlowError) throw e;
      throw fail(`cannot prepare output folder "${target}": ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private static lock(target: string): void {
    const lock = path.join(target, LOCK);
    const mine = `${lock}.${process.pid}`;
    let pid = NaN;
    let tookOver = false;
    for (let attempt = 0; attempt < 3; attempt++) {
      fs.rmSync(mine, { recursive: true, force: true });
      fs.mkdirSync(mine);
      fs.writeFileSync(path.join(mine, 'pid'), `${process.pid}\n`);
      try {
        // renaming onto a folder that holds a file fails: the lock is taken
        fs.renameSync(mine, lock);
        return;
      } catch (e) {
        fs.rmSync(mine, { recursive: true, force: true });
        if (!['EEXIST', 'ENOTEMPTY'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
        let text: string;
        try {
          text = fs.readFileSync(path.join(lock, 'pid'), 'utf8');
        } catch {
          continue; // the owner has just released it: try again
        }
        pid = /^\d+\s*$/.test(text) ? Number(text) : NaN;
        if (Number.isNaN(pid) || alive(pid) || tookOver) break;
        // the owner is gone: take the lock over (one taker wins the rename that follows)
        fs.rmSync(lock, { recursive: true, force: true });
        tookOver = true;
      }
    }
    throw new FlowError(error(target, undefined, `another flowc run${Number.isNaN(pid) ? '' : ` (pid ${pid})`} is writing into "${target}"; wait for it to end or choose another --out`));
  }

  /**
   * The run is over: with a fresh folder, move its files into the target
   * (replacing the previous run's) and delete what only the previous run
   * listed. Then release the lock.
   */
  finish(files: string[]): void {
    try {
      if (this.dir !== this.target) {
        const previous = flowcFiles(this.target);
        for (const f of files) fs.renameSync(path.join(this.dir, f), path.join(this.target, f));
        for (const f of previous) if (!files.includes(f)) fs.rmSync(path.join(this.target, f), { force: true });
        fs.rmSync(this.dir, { recursive: true, force: true });
      }
    } finally {
      this.release();
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    fs.rmSync(path.join(this.target, LOCK), { recursive: true, force: true });
  }
}

/** The files a previous run wrote into `dir`, as its run.json lists them (plus run.json and its checkpoint). */
function flowcFiles(dir: string): string[] {
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as { files?: unknown };
    const listed = Array.isArray(meta.files) ? meta.files.filter((f): f is string => typeof f === 'string' && f === path.basename(f) && !f.startsWith('.')) : [];
    return [...new Set([...listed, 'run.json', 'checkpoint.bin'])];
  } catch {
    return [];
  }
}
