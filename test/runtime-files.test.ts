import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlowError } from '../src/compiler/diagnostics.js';
import { ensureFreshDir, writeFileAtomic } from '../src/runtime/files.js';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'flowc-files-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function flowError(f: () => unknown): { file: string; message: string } {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(FlowError);
    return (e as FlowError).diagnostics[0];
  }
  throw new Error('expected a FlowError');
}

describe('writeFileAtomic', () => {
  it('writes strings and bytes, replaces an existing file, and leaves no temporary file', () => {
    const file = path.join(root, 'run.json');
    writeFileAtomic(file, '{"a":1}\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('{"a":1}\n');
    writeFileAtomic(file, new Uint8Array([1, 2, 3]));
    expect([...fs.readFileSync(file)]).toEqual([1, 2, 3]);
    expect(fs.readdirSync(root)).toEqual(['run.json']);
  });

  it('reports a failed write as a FlowError and cleans up', () => {
    const file = path.join(root, 'missing', 'trace.csv');
    const d = flowError(() => writeFileAtomic(file, 'x'));
    expect(d.file).toBe(file);
    expect(d.message.startsWith(`cannot write "${file}": ENOENT`)).toBe(true);
    fs.mkdirSync(path.join(root, 'target.npy')); // rename onto a folder fails after the write
    expect(() => writeFileAtomic(path.join(root, 'target.npy'), 'x')).toThrow(FlowError);
    expect(fs.readdirSync(root)).toEqual(['target.npy']);
  });
});

describe('ensureFreshDir', () => {
  it('creates the folder and its parents', () => {
    const dir = path.join(root, 'a', 'b');
    ensureFreshDir(dir, false);
    expect(fs.statSync(dir).isDirectory()).toBe(true);
  });

  it('accepts an existing empty folder', () => {
    ensureFreshDir(root, false);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('refuses a non-empty folder without force', () => {
    fs.writeFileSync(path.join(root, 'run.json'), '{}');
    const d = flowError(() => ensureFreshDir(root, false));
    expect(d).toMatchObject({ file: root, message: `output folder "${root}" exists; pass --force to overwrite` });
  });

  it('with force, deletes only the files flowc writes', () => {
    for (const name of ['run.json', 'trace.csv', 'mu.npy', 'theta.npy', 'plot.svg', 'report.html', 'run.json.1234.tmp', 'notes.txt', 'data.csv', 'my-plot.svg'])
      fs.writeFileSync(path.join(root, name), 'x');
    fs.mkdirSync(path.join(root, 'plots.npy'));
    ensureFreshDir(root, true);
    expect(fs.readdirSync(root).sort()).toEqual(['data.csv', 'my-plot.svg', 'notes.txt', 'plots.npy']);
  });

  it('refuses a path that is a file', () => {
    const file = path.join(root, 'out');
    fs.writeFileSync(file, '');
    expect(flowError(() => ensureFreshDir(file, true)).message).toBe(`output path "${file}" exists and is not a folder`);
  });
});
