// node:path in the browser build: POSIX paths over the in-memory file system
// (fs.ts), whose working folder is '/'. The subset flowc's runtime uses.

export const sep = '/';
export const delimiter = ':';

export function normalize(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
    } else out.push(part);
  }
  let s = out.join('/');
  // as Node's: a trailing slash stays
  if (s && p.endsWith('/')) s += '/';
  return abs ? `/${s}` : s || (p.endsWith('/') && !abs ? './' : '.');
}

export function join(...parts: string[]): string {
  const s = parts.filter((p) => p !== '').join('/');
  return s === '' ? '.' : normalize(s);
}

export function isAbsolute(p: string): boolean {
  return p.startsWith('/');
}

export function resolve(...parts: string[]): string {
  let s = '';
  for (let i = parts.length - 1; i >= 0 && !s.startsWith('/'); i--) if (parts[i] !== '') s = parts[i] + (s ? `/${s}` : '');
  if (!s.startsWith('/')) s = `/${s}`;
  const n = normalize(s);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

export function dirname(p: string): string {
  const n = p.replace(/\/+$/, '');
  if (n === '' && p.startsWith('/')) return '/';
  const i = n.lastIndexOf('/');
  if (i < 0) return '.';
  return i === 0 ? '/' : n.slice(0, i);
}

export function basename(p: string, ext?: string): string {
  const b = p.replace(/\/+$/, '').split('/').pop() ?? '';
  return ext && b.endsWith(ext) ? b.slice(0, -ext.length) : b;
}

export function extname(p: string): string {
  const b = basename(p);
  const i = b.lastIndexOf('.');
  return i > 0 ? b.slice(i) : '';
}

export function relative(from: string, to: string): string {
  const a = resolve(from).split('/').filter(Boolean);
  const b = resolve(to).split('/').filter(Boolean);
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return [...a.slice(k).map(() => '..'), ...b.slice(k)].join('/');
}

export const posix = { sep, delimiter, normalize, join, isAbsolute, resolve, dirname, basename, extname, relative };
export default { ...posix, posix };
