import { describe, expect, it } from 'vitest';
import { FlowError } from '../src/compiler/diagnostics.js';
import { decodeNpy, encodeNpy } from '../src/runtime/npy.js';

const range = (n: number) => Float64Array.from({ length: n }, (_, i) => i * 0.5 - 3);

describe('encodeNpy', () => {
  it('writes the exact version 1.0 header for shape (2, 3, 2)', () => {
    const buf = encodeNpy(range(12), [2, 3, 2]);
    const dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 2), }";
    expect(dict.length).toBe(62);
    // 10 bytes of preamble + 62 + 55 spaces + '\n' = 128, a multiple of 64
    const expected = Buffer.concat([
      Buffer.from([0x93, ...Buffer.from('NUMPY', 'latin1'), 1, 0, 118, 0]),
      Buffer.from(dict + ' '.repeat(55) + '\n', 'latin1'),
    ]);
    expect(buf.subarray(0, 128)).toEqual(expected);
    expect(buf.length).toBe(128 + 12 * 8);
    expect(buf.readDoubleLE(128)).toBe(-3);
    expect(buf.readDoubleLE(128 + 11 * 8)).toBe(2.5);
  });

  it('aligns the data to 64 bytes for every rank, with Python tuple syntax', () => {
    for (const [shape, tuple] of [
      [[], '()'],
      [[5], '(5,)'],
      [[0, 3], '(0, 3)'],
      [[1000, 300, 2], '(1000, 300, 2)'],
    ] as [number[], string][]) {
      const count = shape.reduce((a, b) => a * b, 1);
      const buf = encodeNpy(new Float64Array(count), shape);
      const headerLength = buf.readUInt16LE(8);
      expect((10 + headerLength) % 64).toBe(0);
      const header = buf.toString('latin1', 10, 10 + headerLength);
      expect(header.endsWith('\n')).toBe(true);
      expect(header).toContain(`'shape': ${tuple}, }`);
      expect(buf.length).toBe(10 + headerLength + 8 * count);
    }
  });

  it('rejects a shape that does not match the data', () => {
    expect(() => encodeNpy(new Float64Array(5), [2, 3])).toThrow('internal: npy shape (2, 3) does not hold 5 values');
  });
});

describe('decodeNpy', () => {
  it('round-trips values bit for bit, special values included', () => {
    const special = Float64Array.from([-0, 5e-324, Number.MAX_VALUE, Infinity, -Infinity, NaN, 0.1, -1 / 3]);
    for (const [data, shape] of [
      [range(12), [2, 3, 2]],
      [special, [8]],
      [special, [2, 2, 2]],
      [new Float64Array(0), [0, 4]],
      [Float64Array.from([42]), []],
    ] as [Float64Array, number[]][]) {
      const back = decodeNpy(encodeNpy(data, shape));
      expect(back.shape).toEqual(shape);
      expect(back.data.length).toBe(data.length);
      data.forEach((x, i) => expect(Object.is(back.data[i], x)).toBe(true));
    }
  });

  it('decodes from a Buffer that is a view into a larger one', () => {
    const inner = encodeNpy(range(6), [3, 2]);
    const outer = Buffer.concat([Buffer.from('junk'), inner]);
    expect(decodeNpy(outer.subarray(4)).data).toEqual(range(6));
  });

  it('reads version 2.0 headers', () => {
    const v1 = encodeNpy(range(4), [4]);
    const header = v1.subarray(10, 10 + v1.readUInt16LE(8));
    const v2 = Buffer.concat([Buffer.from([0x93, ...Buffer.from('NUMPY'), 2, 0]), Buffer.alloc(4), header, v1.subarray(10 + header.length)]);
    v2.writeUInt32LE(header.length, 8);
    expect(decodeNpy(v2)).toEqual({ data: range(4), shape: [4] });
  });

  it('reports malformed files as FlowErrors naming the file', () => {
    const good = encodeNpy(range(6), [2, 3]);
    const withHeader = (from: string, to: string) => {
      const b = Buffer.from(good);
      b.write(b.toString('latin1', 10, 128).replace(from, to), 10, 'latin1');
      return b;
    };
    const cases: [Buffer, string][] = [
      [Buffer.from('hello world'), 'bad magic bytes'],
      [withHeader("'<f8'", "'<f4'"), "dtype <f4, expected '<f8'"],
      [withHeader('False', 'True '), 'Fortran order is not supported'],
      [withHeader('(2, 3)', '(2, x)'), 'bad shape (2, x)'],
      [good.subarray(0, good.length - 8), 'shape (2, 3) needs 48 data bytes, found 40'],
    ];
    for (const [buf, why] of cases) {
      let caught: unknown;
      try {
        decodeNpy(buf, 'out/mu.npy');
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(FlowError);
      expect((caught as FlowError).diagnostics[0]).toMatchObject({
        file: 'out/mu.npy',
        message: `not a float64 .npy file: ${why}`,
      });
    }
  });
});
