// Records streamed to disk as they are made (DESIGN.md, "Outputs"), so that a
// run's memory does not grow with its number of records and an interrupted
// run keeps every record made so far:
//
// - trace.csv: one whole row per write(2) call, appended; the header first.
// - NAME.npy: a fixed 128-byte header, then one block per record, appended
//   at its offset; the header's first dimension is rewritten after each
//   record, so the file is a valid .npy at every moment between two records
//   (numpy reads `shape` records and ignores bytes after them: a record cut
//   by a SIGKILL in the middle of its write is left out, never half read).
//   Offsets are plain numbers, so files over 4 GiB work.
//
// Both reopen an existing file at a given number of records (--resume): the
// file is truncated there, dropping any row or block written after the
// checkpoint that the run continues from.

import fs from 'node:fs';
import os from 'node:os';
import { error, FlowError } from '../compiler/diagnostics.js';
import { formatValue } from './outputs.js';

/** Bytes before the data in a streamed .npy file (a multiple of 64, as numpy asks). */
export const NPY_HEADER_BYTES = 128;

function ioError(file: string, e: unknown): FlowError {
  return new FlowError(error(file, undefined, `cannot write "${file}": ${e instanceof Error ? e.message : String(e)}`));
}

/** The version 1.0 header of a float64 C-order array of the given shape, NPY_HEADER_BYTES long. */
export function npyHeader(shape: number[]): Buffer {
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '<f8', 'fortran_order': False, 'shape': ${tuple}, }`;
  const room = NPY_HEADER_BYTES - 10 - 1;
  if (dict.length > room) throw new Error(`internal: npy header for shape (${shape.join(', ')}) is too long`);
  const buf = Buffer.alloc(NPY_HEADER_BYTES);
  buf.write('\x93NUMPY', 0, 'latin1');
  buf[6] = 1;
  buf[7] = 0;
  buf.writeUInt16LE(NPY_HEADER_BYTES - 10, 8);
  buf.write(dict.padEnd(room, ' ') + '\n', 10, 'latin1');
  return buf;
}

const LITTLE = os.endianness() === 'LE';

/** The bytes of `data` as little-endian float64 (a view on little-endian machines, a copy otherwise). */
function leBytes(data: Float64Array): Buffer {
  if (LITTLE) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = Buffer.alloc(data.byteLength);
  for (let i = 0; i < data.length; i++) out.writeDoubleLE(data[i], 8 * i);
  return out;
}

/** A file that a run appends to in place: whole writes at an offset, flushed to disk on sync and close. */
abstract class GrowingFile {
  protected fd = -1;

  constructor(readonly file: string) {}

  /** Write all of `bytes` at offset `at` (fs.writeSync may write less than asked). */
  protected writeAt(bytes: Buffer, at: number): void {
    let done = 0;
    while (done < bytes.length) done += fs.writeSync(this.fd, bytes, done, bytes.length - done, at + done);
  }

  sync(): void {
    fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      fs.fsyncSync(this.fd);
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/** An .npy file of shape (records, ...tail) that grows by one record at a time. */
export class NpyAppender extends GrowingFile {
  private readonly recordBytes: number;

  /**
   * Create `file` (records = 0), or reopen it holding `records` records
   * (resume: whatever follows them is cut off).
   */
  constructor(
    file: string,
    private readonly tail: number[],
    private records = 0,
  ) {
    super(file);
    this.recordBytes = 8 * tail.reduce((a, b) => a * b, 1);
    try {
      this.fd = fs.openSync(file, records ? 'r+' : 'w');
      fs.ftruncateSync(this.fd, NPY_HEADER_BYTES + records * this.recordBytes);
      this.writeHeader();
    } catch (e) {
      throw ioError(file, e);
    }
  }

  get count(): number {
    return this.records;
  }

  private writeHeader(): void {
    const h = npyHeader([this.records, ...this.tail]);
    fs.writeSync(this.fd, h, 0, h.length, 0);
  }

  /** Append one record (tail-shaped values), then make the header count it. */
  append(data: Float64Array): void {
    if (8 * data.length !== this.recordBytes) throw new Error(`internal: a record of ${data.length} values for ${this.file}`);
    try {
      this.writeAt(leBytes(data), NPY_HEADER_BYTES + this.records * this.recordBytes);
      this.records++;
      this.writeHeader();
    } catch (e) {
      throw ioError(this.file, e);
    }
  }

}

/** CSV quoting of a column name (a name may hold commas, quotes, newlines). */
export function csvField(c: string): string {
  return /[",\n\r]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c;
}

/** trace.csv that grows by one whole row per write. */
export class TraceAppender extends GrowingFile {
  /** the file's length: where the next row goes */
  private size = 0;

  /** Create `file` with its header row, or reopen it keeping its header and `rows` rows (resume). */
  constructor(
    file: string,
    columns: string[],
    rows?: number,
  ) {
    super(file);
    try {
      if (rows === undefined) {
        this.fd = fs.openSync(file, 'w');
        this.size = fs.writeSync(this.fd, columns.map(csvField).join(',') + '\n', 0);
      } else {
        const text = fs.readFileSync(file);
        // the header and `rows` rows: rows + 1 newlines
        let at = 0;
        for (let k = 0; k <= rows; k++) {
          const nl = text.indexOf(10, at);
          if (nl < 0) throw new Error(`it holds fewer than the ${rows} rows the checkpoint counts`);
          at = nl + 1;
        }
        this.fd = fs.openSync(file, 'r+');
        fs.ftruncateSync(this.fd, at);
        this.size = at;
      }
    } catch (e) {
      throw ioError(file, e);
    }
  }

  append(row: number[]): void {
    try {
      const line = Buffer.from(row.map(formatValue).join(',') + '\n');
      this.writeAt(line, this.size);
      this.size += line.length;
    } catch (e) {
      throw ioError(this.file, e);
    }
  }

}
