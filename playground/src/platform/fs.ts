// node:fs in the browser build: an in-memory file system holding the spec
// and its data files (written by the page before a run) and the run folder
// that flowc's own writers (run-session.ts, record-stream.ts, files.ts,
// run-dir.ts) fill, exactly as on a disk. The synchronous subset flowc uses;
// errors carry Node's codes (ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY).

import { Buffer } from 'buffer';
import { dirname, resolve } from './path.js';

interface FileNode {
  data: Uint8Array;
  size: number;
}

const files = new Map<string, FileNode>();
const dirs = new Set<string>(['/']);
const fds = new Map<number, string>();
let nextFd = 3;

function fail(code: string, syscall: string, p: string): Error {
  const e = new Error(`${code}: ${syscall} '${p}'`) as Error & { code: string; syscall: string; path: string };
  e.code = code;
  e.syscall = syscall;
  e.path = p;
  return e;
}

const abs = (p: string | URL) => resolve(String(p));

function parentMustExist(p: string, syscall: string): void {
  if (!dirs.has(dirname(p))) throw fail('ENOENT', syscall, p);
}

function bytesOf(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? new TextEncoder().encode(data) : data;
}

function grow(f: FileNode, size: number): void {
  if (size <= f.data.length) return;
  const next = new Uint8Array(Math.max(size, 2 * f.data.length, 256));
  next.set(f.data.subarray(0, f.size));
  f.data = next;
}

function nodeAtFd(fd: number): FileNode {
  const p = fds.get(fd);
  const f = p === undefined ? undefined : files.get(p);
  if (!f) throw fail('EBADF', 'write', String(fd));
  return f;
}

/** The bytes of a file (a copy), or undefined: what the page downloads. */
export function contents(p: string): Uint8Array | undefined {
  const f = files.get(abs(p));
  return f ? f.data.slice(0, f.size) : undefined;
}

export function existsSync(p: string): boolean {
  const a = abs(p);
  return files.has(a) || dirs.has(a);
}

interface Stats {
  isFile(): boolean;
  isDirectory(): boolean;
  size: number;
}

export function statSync(p: string, options?: { throwIfNoEntry?: boolean }): Stats | undefined {
  const a = abs(p);
  const f = files.get(a);
  if (f) return { isFile: () => true, isDirectory: () => false, size: f.size };
  if (dirs.has(a)) return { isFile: () => false, isDirectory: () => true, size: 0 };
  if (options?.throwIfNoEntry === false) return undefined;
  throw fail('ENOENT', 'stat', p);
}

export const lstatSync = statSync;

export function statfsSync(): never {
  // no disk to ask: checkDiskSpace then checks nothing, as on a file system that cannot say
  throw fail('ENOSYS', 'statfs', '/');
}

export function realpathSync(p: string): string {
  if (!existsSync(p)) throw fail('ENOENT', 'realpath', p);
  return abs(p);
}

export function mkdirSync(p: string, options?: { recursive?: boolean }): void {
  const a = abs(p);
  if (options?.recursive) {
    if (files.has(a)) throw fail('EEXIST', 'mkdir', p);
    for (let d = a; !dirs.has(d); d = dirname(d)) {
      if (files.has(d)) throw fail('ENOTDIR', 'mkdir', p);
      dirs.add(d);
    }
    return;
  }
  if (files.has(a) || dirs.has(a)) throw fail('EEXIST', 'mkdir', p);
  parentMustExist(a, 'mkdir');
  dirs.add(a);
}

function children(a: string): string[] {
  const prefix = a === '/' ? '/' : `${a}/`;
  const names = new Set<string>();
  for (const k of [...files.keys(), ...dirs]) if (k !== a && k.startsWith(prefix)) names.add(k.slice(prefix.length).split('/')[0]);
  return [...names].sort();
}

export function readdirSync(p: string, options?: { withFileTypes?: boolean }): unknown[] {
  const a = abs(p);
  if (!dirs.has(a)) throw fail(files.has(a) ? 'ENOTDIR' : 'ENOENT', 'scandir', p);
  const names = children(a);
  if (!options?.withFileTypes) return names;
  return names.map((name) => {
    const dir = dirs.has(a === '/' ? `/${name}` : `${a}/${name}`);
    return { name, isDirectory: () => dir, isFile: () => !dir };
  });
}

export function rmSync(p: string, options?: { recursive?: boolean; force?: boolean }): void {
  const a = abs(p);
  if (files.delete(a)) return;
  if (dirs.has(a)) {
    if (children(a).length && !options?.recursive) throw fail('ENOTEMPTY', 'rm', p);
    const prefix = `${a}/`;
    for (const k of [...files.keys()]) if (k.startsWith(prefix)) files.delete(k);
    for (const k of [...dirs]) if (k === a || k.startsWith(prefix)) dirs.delete(k);
    return;
  }
  if (!options?.force) throw fail('ENOENT', 'rm', p);
}

export function unlinkSync(p: string): void {
  if (!files.delete(abs(p))) throw fail('ENOENT', 'unlink', p);
}

export function renameSync(from: string, to: string): void {
  const a = abs(from);
  const b = abs(to);
  const f = files.get(a);
  if (f) {
    parentMustExist(b, 'rename');
    if (dirs.has(b)) throw fail('EISDIR', 'rename', to);
    files.delete(a);
    files.set(b, f);
    return;
  }
  if (!dirs.has(a)) throw fail('ENOENT', 'rename', from);
  const prefix = `${a}/`;
  for (const [k, v] of [...files]) if (k.startsWith(prefix)) (files.delete(k), files.set(b + k.slice(a.length), v));
  for (const k of [...dirs]) if (k === a || k.startsWith(prefix)) (dirs.delete(k), dirs.add(b + k.slice(a.length)));
}

export function readFileSync(p: string | number, options?: string | { encoding?: string }): Buffer | string {
  const a = typeof p === 'number' ? fds.get(p) ?? '' : abs(p);
  const f = files.get(a);
  if (!f) throw fail(dirs.has(a) ? 'EISDIR' : 'ENOENT', 'open', String(p));
  const bytes = Buffer.from(f.data.slice(0, f.size));
  const encoding = typeof options === 'string' ? options : options?.encoding;
  return encoding ? bytes.toString(encoding as BufferEncoding) : bytes;
}

export function openSync(p: string, flags: string): number {
  const a = abs(p);
  if (dirs.has(a)) throw fail('EISDIR', 'open', p);
  if (flags === 'w' || flags === 'wx') {
    parentMustExist(a, 'open');
    if (flags === 'wx' && files.has(a)) throw fail('EEXIST', 'open', p);
    files.set(a, { data: new Uint8Array(256), size: 0 });
  } else if (!files.has(a)) throw fail('ENOENT', 'open', p);
  const fd = nextFd++;
  fds.set(fd, a);
  return fd;
}

export function closeSync(fd: number): void {
  if (!fds.delete(fd)) throw fail('EBADF', 'close', String(fd));
}

export function fsyncSync(fd: number): void {
  nodeAtFd(fd);
}

export function ftruncateSync(fd: number, length = 0): void {
  const f = nodeAtFd(fd);
  grow(f, length);
  if (length > f.size) f.data.fill(0, f.size, length);
  f.size = length;
}

/** writeSync(fd, bytes, offset, length, position) or writeSync(fd, text, position): positional writes. */
export function writeSync(fd: number, data: string | Uint8Array, a?: number | null, b?: number, c?: number | null): number {
  const f = nodeAtFd(fd);
  let bytes: Uint8Array;
  let position: number | null | undefined;
  if (typeof data === 'string') {
    bytes = bytesOf(data);
    position = a;
  } else {
    const offset = a ?? 0;
    bytes = data.subarray(offset, offset + (b ?? data.length - offset));
    position = c;
  }
  const at = position ?? f.size;
  grow(f, at + bytes.length);
  if (at > f.size) f.data.fill(0, f.size, at);
  f.data.set(bytes, at);
  f.size = Math.max(f.size, at + bytes.length);
  return bytes.length;
}

export function writeFileSync(p: string | number, data: string | Uint8Array): void {
  const bytes = bytesOf(data);
  if (typeof p === 'number') {
    const f = nodeAtFd(p);
    f.data = bytes.slice();
    f.size = bytes.length;
    return;
  }
  const a = abs(p);
  if (dirs.has(a)) throw fail('EISDIR', 'open', p);
  parentMustExist(a, 'open');
  files.set(a, { data: bytes.slice(), size: bytes.length });
}

export default {
  existsSync, statSync, lstatSync, statfsSync, realpathSync, mkdirSync, readdirSync, rmSync, unlinkSync, renameSync,
  readFileSync, openSync, closeSync, fsyncSync, ftruncateSync, writeSync, writeFileSync,
};
