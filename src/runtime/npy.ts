// NumPy .npy files (format version 1.0) of float64 arrays, as numpy.load reads them.
//
// Layout: the magic "\x93NUMPY", version bytes 1 0, the header length as a
// little-endian uint16, then the header: a Python dict literal
//   {'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 2), }
// padded with spaces and ended by '\n' so that the data starts at a multiple
// of 64 bytes; then the values, little-endian float64, C (row-major) order.

import { error, FlowError } from '../compiler/diagnostics.js';

const MAGIC = '\x93NUMPY';
const ALIGN = 64;

/** Encode `data` as an .npy file of the given shape (product of shape = data.length). */
export function encodeNpy(data: Float64Array, shape: number[]): Buffer {
  if (shape.some((s) => !Number.isInteger(s) || s < 0) || shape.reduce((a, b) => a * b, 1) !== data.length)
    throw new Error(`internal: npy shape (${shape.join(', ')}) does not hold ${data.length} values`);
  // Python tuple syntax: a 1-tuple needs its trailing comma.
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '<f8', 'fortran_order': False, 'shape': ${tuple}, }`;
  const preamble = MAGIC.length + 2 + 2;
  const total = Math.ceil((preamble + dict.length + 1) / ALIGN) * ALIGN;
  const header = dict.padEnd(total - preamble - 1, ' ') + '\n';

  const buf = Buffer.alloc(total + 8 * data.length);
  buf.write(MAGIC, 0, 'latin1');
  buf[6] = 1;
  buf[7] = 0;
  buf.writeUInt16LE(header.length, 8);
  buf.write(header, preamble, 'latin1');
  const view = new DataView(buf.buffer, buf.byteOffset + total, 8 * data.length);
  for (let i = 0; i < data.length; i++) view.setFloat64(8 * i, data[i], true);
  return buf;
}

/**
 * Decode a little-endian float64, C-order .npy file (versions 1.0 to 3.0).
 * Anything else is a FlowError naming `file`.
 */
export function decodeNpy(buf: Buffer, file = '<npy data>'): { data: Float64Array; shape: number[] } {
  const fail = (why: string) => new FlowError(error(file, undefined, `not a float64 .npy file: ${why}`));
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== MAGIC) throw fail('bad magic bytes');
  const major = buf[6];
  if (major < 1 || major > 3) throw fail(`unsupported format version ${major}.${buf[7]}`);
  // Version 1.0 stores the header length in 2 bytes, later versions in 4.
  const lengthBytes = major === 1 ? 2 : 4;
  if (buf.length < 8 + lengthBytes) throw fail('truncated header');
  const headerLength = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const dataStart = 8 + lengthBytes + headerLength;
  if (buf.length < dataStart) throw fail('truncated header');
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', 8 + lengthBytes, dataStart);

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  if (descr !== '<f8') throw fail(`dtype ${descr ?? '(missing)'}, expected '<f8'`);
  if (!/'fortran_order'\s*:\s*False/.test(header)) throw fail('Fortran order is not supported');
  const tuple = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (tuple === undefined) throw fail('no shape in the header');
  const parts = tuple
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.some((s) => !/^\d+$/.test(s))) throw fail(`bad shape (${tuple})`);
  const shape = parts.map(Number);

  const count = shape.reduce((a, b) => a * b, 1);
  if (buf.length - dataStart !== 8 * count)
    throw fail(`shape (${shape.join(', ')}) needs ${8 * count} data bytes, found ${buf.length - dataStart}`);
  const view = new DataView(buf.buffer, buf.byteOffset + dataStart, 8 * count);
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = view.getFloat64(8 * i, true);
  return { data, shape };
}
