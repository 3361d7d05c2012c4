// Checkpoints: the full state of a run at a step, saved atomically, so that
// `flowc run --resume DIR` continues it bit for bit (LANGUAGE.md,
// `checkpoint every K`).
//
// The interface is two registrations. The time loop (simulate.ts) and what
// it drives (the stepper, host record items) register what they carry from
// one step to the next:
//
//   state.array('positions', positions)        // a Float64Array, saved and restored in place
//   state.value('jko.eta', () => eta, (v) => (eta = v as number))   // small JSON state
//
// A new evolving object (states θ, critics ψ) is one more `state.array(...)`
// line where the loop creates its array. Random draws need nothing: the
// counter-based RNG is a pure function of (seed, purpose, step, ...).
//
// File layout (checkpoint.bin): "FLOWCKPT", a uint32 LE JSON length, the JSON
// ({ version, step, records, values, arrays: [{ name, length }] }), zero
// padding to a multiple of 8, then each array's float64 LE values in order.

import fs from 'node:fs';
import { error, FlowError } from '../compiler/diagnostics.js';
import { writeFileAtomic } from './files.js';

export const CHECKPOINT_FILE = 'checkpoint.bin';
const MAGIC = 'FLOWCKPT';
const VERSION = 1;

/** A checkpoint as read from disk. */
export interface Checkpoint {
  /** steps completed */
  step: number;
  /** trace rows (and records of each .npy) written up to this step */
  records: number;
  /** registered JSON values, and whatever the caller adds (e.g. the first trace row) */
  values: Record<string, unknown>;
  arrays: Map<string, Float64Array>;
}

/** What the time loop carries from step to step (see the file comment). */
export class CheckpointState {
  private readonly arrays = new Map<string, Float64Array>();
  private readonly values = new Map<string, { get: () => unknown; set: (v: unknown) => void }>();

  /** Register an array whose contents a checkpoint saves and a resume restores in place. */
  array(name: string, a: Float64Array): void {
    this.arrays.set(name, a);
  }

  /** Register a small JSON-serialisable value. */
  value(name: string, get: () => unknown, set: (v: unknown) => void): void {
    this.values.set(name, { get, set });
  }

  /** A snapshot of the registered state (copies of the arrays). */
  capture(step: number, records: number, extra: Record<string, unknown> = {}): Checkpoint {
    const values: Record<string, unknown> = { ...extra };
    for (const [k, v] of this.values) values[k] = v.get();
    return { step, records, values, arrays: new Map([...this.arrays].map(([k, a]) => [k, a.slice()])) };
  }

  /** Put a checkpoint's state back; every registered array must be in it with its length. */
  restore(cp: Checkpoint, file: string): void {
    for (const [name, a] of this.arrays) {
      const saved = cp.arrays.get(name);
      if (!saved || saved.length !== a.length)
        throw new FlowError(error(file, undefined, `the checkpoint does not match this flow: ${saved ? `'${name}' holds ${saved.length} values, the flow ${a.length}` : `it has no '${name}'`}`));
      a.set(saved);
    }
    for (const [name, v] of this.values) if (name in cp.values) v.set(cp.values[name]);
  }
}

/** JSON has no NaN or infinities: they are written as { "$number": "Infinity" }. */
const nonFinite = (_key: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { $number: String(v) } : v);

/** Encode a checkpoint. */
export function encodeCheckpoint(cp: Checkpoint): Buffer {
  const list = [...cp.arrays];
  const json = Buffer.from(JSON.stringify({ version: VERSION, step: cp.step, records: cp.records, values: cp.values, arrays: list.map(([name, a]) => ({ name, length: a.length })) }, nonFinite));
  const head = 8 + 4 + json.length;
  const pad = (8 - (head % 8)) % 8;
  const total = head + pad + 8 * list.reduce((s, [, a]) => s + a.length, 0);
  const buf = Buffer.alloc(total);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(json.length, 8);
  json.copy(buf, 12);
  let at = head + pad;
  for (const [, a] of list) {
    for (let i = 0; i < a.length; i++) buf.writeDoubleLE(a[i], at + 8 * i);
    at += 8 * a.length;
  }
  return buf;
}

export function decodeCheckpoint(buf: Buffer, file: string): Checkpoint {
  const fail = (why: string) => new FlowError(error(file, undefined, `not a flowc checkpoint: ${why}`));
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC) throw fail('bad magic bytes');
  const len = buf.readUInt32LE(8);
  if (12 + len > buf.length) throw fail('truncated');
  let meta: { version: number; step: number; records: number; values: Record<string, unknown>; arrays: { name: string; length: number }[] };
  try {
    meta = JSON.parse(buf.toString('utf8', 12, 12 + len), (_k, v) => (v && typeof v === 'object' && typeof v.$number === 'string' ? Number(v.$number) : v));
  } catch {
    throw fail('unreadable header');
  }
  if (meta.version !== VERSION) throw fail(`version ${meta.version}, this flowc reads ${VERSION}`);
  if (!Number.isInteger(meta.step) || meta.step < 0 || !Number.isInteger(meta.records) || meta.records < 1 || !Array.isArray(meta.arrays)) throw fail('bad header');
  const head = 12 + len;
  let at = head + ((8 - (head % 8)) % 8);
  const arrays = new Map<string, Float64Array>();
  for (const { name, length } of meta.arrays) {
    if (typeof name !== 'string' || !Number.isInteger(length) || length < 0 || at + 8 * length > buf.length) throw fail('truncated data');
    const a = new Float64Array(length);
    for (let i = 0; i < length; i++) a[i] = buf.readDoubleLE(at + 8 * i);
    arrays.set(name, a);
    at += 8 * length;
  }
  if (at !== buf.length) throw fail('trailing bytes');
  return { step: meta.step, records: meta.records, values: meta.values ?? {}, arrays };
}

export function writeCheckpoint(file: string, cp: Checkpoint): void {
  writeFileAtomic(file, encodeCheckpoint(cp));
}

export function readCheckpoint(file: string): Checkpoint {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new FlowError(error(file, undefined, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no checkpoint in this run folder (a run writes one every K steps with `checkpoint every K` or --checkpoint-every K, and when it is interrupted)' : `cannot read: ${(e as Error).message}`));
  }
  return decodeCheckpoint(buf, file);
}
