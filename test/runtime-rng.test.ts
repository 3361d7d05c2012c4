import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fillNormal, fillUniform, philox4x32, purposeId, subPurpose } from '../src/runtime/rng.js';

const hex = (out: Uint32Array) => [...out].map((x) => x.toString(16).padStart(8, '0'));

function meanVar(xs: Float64Array): { mean: number; variance: number } {
  let s = 0;
  for (const x of xs) s += x;
  const mean = s / xs.length;
  let v = 0;
  for (const x of xs) v += (x - mean) ** 2;
  return { mean, variance: v / (xs.length - 1) };
}

describe('philox4x32-10', () => {
  // Known-answer vectors from Random123 (kat_vectors, philox4x32_10).
  it('matches the Random123 known-answer vectors', () => {
    const out = new Uint32Array(4);
    philox4x32(0, 0, 0, 0, 0, 0, out);
    expect(hex(out)).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
    expect(hex(out)).toEqual(['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
    philox4x32(0xa4093822, 0x299f31d0, 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, out);
    expect(hex(out)).toEqual(['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
  });

  it('takes its inputs as uint32 (negative numbers wrap)', () => {
    const a = new Uint32Array(4);
    const b = new Uint32Array(4);
    philox4x32(-1, -1, -1, -1, -1, -1, a);
    philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, b);
    expect(a).toEqual(b);
  });
});

describe('purposeId / subPurpose', () => {
  it('is 32-bit FNV-1a of the UTF-8 bytes', () => {
    expect(purposeId('')).toBe(0x811c9dc5);
    expect(purposeId('a')).toBe(0xe40c292c);
    expect(purposeId('foobar')).toBe(0xbf9cf968);
    expect(purposeId('é')).not.toBe(purposeId('e'));
    expect(purposeId('init:mu')).not.toBe(purposeId('init:nu'));
  });

  it('subPurpose continues FNV-1a over the little-endian bytes of the index', () => {
    // bytes 0x63 0x64 0x65 0x66 = "cdef"
    expect(subPurpose(purposeId('ab'), 0x66656463)).toBe(purposeId('abcdef'));
    expect(subPurpose(purposeId('x'), 0)).not.toBe(subPurpose(purposeId('x'), 1));
  });
});

describe('fillUniform / fillNormal', () => {
  it('follows the documented counter mapping', () => {
    const seed = 12345;
    const purpose = purposeId('noise');
    const step = 7;
    const block = new Uint32Array(4);
    const unit = (hi: number, lo: number) => ((hi >>> 5) * 2 ** 26 + (lo >>> 6)) / 2 ** 53;

    const u = new Float64Array(6);
    fillUniform(u, seed, purpose, step);
    const z = new Float64Array(6);
    fillNormal(z, seed, purpose, step);
    for (let b = 0; b < 3; b++) {
      philox4x32(seed, purpose, b, step, 0, 0, block);
      expect(u[2 * b]).toBe(unit(block[0], block[1]));
      expect(u[2 * b + 1]).toBe(unit(block[2], block[3]));
      philox4x32(seed, purpose, b, step, 0, 1, block);
      const r = Math.sqrt(-2 * Math.log(1 - unit(block[0], block[1])));
      const theta = 2 * Math.PI * unit(block[2], block[3]);
      expect(z[2 * b]).toBe(r * Math.cos(theta));
      expect(z[2 * b + 1]).toBe(r * Math.sin(theta));
    }
  });

  it('is deterministic', () => {
    for (const fill of [fillUniform, fillNormal]) {
      const a = new Float64Array(101);
      const b = new Float64Array(101);
      fill(a, 7, purposeId('init:mu'), 3);
      fill(b, 7, purposeId('init:mu'), 3);
      expect(a).toEqual(b);
    }
  });

  it('does not depend on the array length (prefix property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
        (seed, purpose, step, short, extra) => {
          for (const fill of [fillUniform, fillNormal]) {
            const a = new Float64Array(short);
            const b = new Float64Array(short + extra);
            fill(a, seed, purpose, step);
            fill(b, seed, purpose, step);
            expect(b.subarray(0, short)).toEqual(a);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('gives different numbers for a different seed, purpose or step', () => {
    for (const fill of [fillUniform, fillNormal]) {
      const draw = (seed: number, purpose: number, step: number) => {
        const out = new Float64Array(64);
        fill(out, seed, purpose, step);
        return out;
      };
      const base = draw(1, purposeId('noise'), 0);
      for (const other of [draw(2, purposeId('noise'), 0), draw(1, purposeId('init:mu'), 0), draw(1, purposeId('noise'), 1)])
        for (let k = 0; k < base.length; k++) expect(other[k]).not.toBe(base[k]);
    }
  });

  it('uniforms and normals of the same stream are separate draws', () => {
    const u = new Float64Array(1000);
    const z = new Float64Array(1000);
    fillUniform(u, 3, 4, 5);
    fillNormal(z, 3, 4, 5);
    // Were they built from the same words, z[0] would be a function of u[0], u[1].
    const r = Math.sqrt(-2 * Math.log(1 - u[0]));
    expect(z[0]).not.toBe(r * Math.cos(2 * Math.PI * u[1]));
  });

  it('draws uniforms in [0, 1) with 53 bits, mean 1/2 and variance 1/12', () => {
    const n = 100_000;
    const u = new Float64Array(n);
    fillUniform(u, 42, purposeId('test'), 0);
    expect(u.every((x) => x >= 0 && x < 1 && Number.isInteger(x * 2 ** 53))).toBe(true);
    const { mean, variance } = meanVar(u);
    // 5 standard errors: sd(mean) = sqrt(1/12/n), sd(var) = sqrt(1/180/n) for a uniform.
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(5 * Math.sqrt(1 / 180 / n));
    // every tenth of [0, 1) gets its share: binomial sd sqrt(n p (1 - p))
    const bins = new Array<number>(10).fill(0);
    for (const x of u) bins[Math.floor(10 * x)]++;
    for (const count of bins) expect(Math.abs(count - n / 10)).toBeLessThan(5 * Math.sqrt(n * 0.1 * 0.9));
  });

  it('draws standard normals: mean 0, variance 1, 68% within one sd, pairs uncorrelated', () => {
    const n = 100_000;
    const z = new Float64Array(n);
    fillNormal(z, 42, purposeId('test'), 9);
    const { mean, variance } = meanVar(z);
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    let within = 0;
    let cross = 0;
    for (let k = 0; k < n; k++) if (Math.abs(z[k]) < 1) within++;
    for (let k = 0; k < n; k += 2) cross += z[k] * z[k + 1];
    const p = 0.6826894921370859;
    expect(Math.abs(within - n * p)).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)));
    expect(Math.abs(cross / (n / 2))).toBeLessThan(5 / Math.sqrt(n / 2));
    expect(z.every((x) => Number.isFinite(x))).toBe(true);
  });
});
