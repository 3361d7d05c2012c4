// The playground's stand-ins for Node's modules (playground/src/platform/),
// against Node's own: sha256 against node:crypto, the POSIX paths against
// node:path's posix, and the in-memory file system against what flowc's
// writers ask of a disk (positional writes, truncation, renames, errors with
// Node's codes). The end-to-end check is test/playground.test.ts: a run in
// the page writes the same bytes as flowc run.

import { createHash } from 'node:crypto';
import nodePath from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHash as pageHash, sha256Hex } from '../playground/src/platform/crypto.js';
import fs, { contents } from '../playground/src/platform/fs.js';
import * as path from '../playground/src/platform/path.js';

describe('the playground platform', () => {
  it('sha256 gives node:crypto digests, across block boundaries', () => {
    for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
      expect(sha256Hex(bytes)).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.string(), (bytes, text) => {
        expect(sha256Hex(bytes)).toBe(createHash('sha256').update(bytes).digest('hex'));
        expect(pageHash('sha256').update(text).update(bytes).digest('hex')).toBe(createHash('sha256').update(text).update(bytes).digest('hex'));
      }),
    );
  });

  it('paths behave as node:path.posix with / as the working folder', () => {
    const segment = fc.constantFrom('a', 'b', '..', '.', '', 'data', 'x.csv', '/', '/r', 'c/..');
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), fc.array(segment, { maxLength: 6 }), (as, bs) => {
        const p = nodePath.posix;
        expect(path.join(...as)).toBe(p.join(...as));
        expect(path.resolve(...as)).toBe(p.resolve('/', ...as));
        const j = as.join('/') || '.';
        expect(path.normalize(j)).toBe(p.normalize(j));
        // dirname and basename of the paths flowc makes (joined, so no repeated slashes)
        const n = p.join(...as);
        expect(path.dirname(n)).toBe(p.dirname(n));
        expect(path.basename(n)).toBe(p.basename(n));
        expect(path.isAbsolute(j)).toBe(p.isAbsolute(j));
        expect(path.relative(j, bs.join('/'))).toBe(p.relative(p.resolve('/', j), p.resolve('/', bs.join('/'))));
      }),
    );
  });

  it('the in-memory file system writes at offsets, truncates, renames and fails with Node codes', () => {
    fs.mkdirSync('/t/run', { recursive: true });
    const fd = fs.openSync('/t/run/a.bin', 'w');
    expect(fs.writeSync(fd, 'head\n', 0)).toBe(5);
    fs.writeSync(fd, new Uint8Array([1, 2, 3, 4]), 1, 2, 10);
    expect(Array.from(contents('/t/run/a.bin')!)).toEqual([...Buffer.from('head\n'), 0, 0, 0, 0, 0, 2, 3]);
    fs.ftruncateSync(fd, 3);
    fs.writeSync(fd, 'X', 1);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    expect(fs.readFileSync('/t/run/a.bin', 'utf8')).toBe('hXa');
    expect(fs.readdirSync('/t')).toEqual(['run']);
    fs.renameSync('/t/run', '/t/done');
    expect(fs.existsSync('/t/run/a.bin')).toBe(false);
    expect(fs.readFileSync('t/done/a.bin', 'utf8')).toBe('hXa');
    expect(fs.statSync('/t/nothing', { throwIfNoEntry: false })).toBeUndefined();
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { code: string }).code;
      }
      return 'no error';
    };
    expect(code(() => fs.readFileSync('/t/nothing'))).toBe('ENOENT');
    expect(code(() => fs.mkdirSync('/t/done'))).toBe('EEXIST');
    expect(code(() => fs.openSync('/t/x/y', 'w'))).toBe('ENOENT');
    expect(code(() => fs.rmSync('/t'))).toBe('ENOTEMPTY');
    fs.rmSync('/t', { recursive: true });
    expect(fs.existsSync('/t/done/a.bin')).toBe(false);
  });
});
