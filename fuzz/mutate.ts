// Mutations of .flow text for the fuzzer (fuzz/run.ts, test/fuzz.test.ts):
// token edits, extreme numbers, deep nesting, long chains, renames to names
// that mean something to JavaScript, garbage bytes, truncation. Every choice
// comes from a seeded generator, so a failing input is reproduced by its seed.

import fs from 'node:fs';
import path from 'node:path';

/** A small deterministic generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

export const TOKENS = [
  'flow', 'let', 'seed', 'particles', 'sample', 'state', 'critic', 'model', 'fn', 'kernel', 'energy', 'metric', 'scheme',
  'noise', 'diffusion', 'record', 'checkpoint', 'every', 'in', 'from', 'E', 'R', 'R^2', 'R^3', 'mu', 'nu', 'x', 'y', 'k', 'F', '(', ')',
  '[', ']', '|', ',', ':', ';', '~', '=', '=>', '!=', '+', '-', '*', '/', '^', '.', '0', '1.5', '"f.csv"', 'exp', 'log', 'mmd2',
  'mmd2u', 'interaction', 'potential', 'normal', 'uniform', 'sphere', 'mixture', 'positions', 'weights', 'w2', 'dissipation',
  'displacement', 'size', 'W2', 'KL', 'WFR', 'dab', 'euler', 'jko', 'n', 't', '\n',
];

const NUMBERS = ['0', '-0', '1e308', '1e400', '1e-320', '1e308 * 10', '4096', '4097', '1e6', '999999999999', '0.0000001', '-1', '2.5', 'log(-1)', '1/0', '0/0', '65536', '3'];
const JS_NAMES = ['constructor', '__proto__', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'null', 'undefined', 'this', 'NaN', 'Infinity', 'eval', 'arguments', 'Math', 'X', 'P', 'n', 't', 'out', 'i', 'j'];

/** One mutation of `text`. */
export function mutate(text: string, r: () => number): string {
  const at = () => int(r, 0, text.length);
  switch (int(r, 0, 9)) {
    case 0: {
      // token edit: replace, delete or insert a few tokens
      const i = at();
      const cut = int(r, 0, 12);
      const ins = Array.from({ length: int(r, 0, 4) }, () => pick(r, TOKENS)).join(' ');
      return text.slice(0, i) + ins + text.slice(i + cut);
    }
    case 1: {
      // an extreme number in place of a number
      const nums = [...text.matchAll(/(?<![\w.])\d+(\.\d*)?([eE][+-]?\d+)?/g)];
      if (!nums.length) return text + ' ' + pick(r, NUMBERS);
      const m = pick(r, nums);
      return text.slice(0, m.index) + pick(r, NUMBERS) + text.slice(m.index! + m[0].length);
    }
    case 2: {
      // deep nesting around an expression after '='
      const eqs = [...text.matchAll(/= /g)];
      const depth = pick(r, [5, 50, 300, 1000]);
      const open = pick(r, ['(', '[', '|', '-', 'exp(']);
      const close = open === '(' || open === 'exp(' ? ')' : open === '[' ? ']' : open === '|' ? '|' : '';
      const inner = open.repeat(depth) + '1' + close.repeat(depth);
      if (!eqs.length) return text + inner;
      const m = pick(r, eqs);
      return text.slice(0, m.index! + 2) + inner + ' + ' + text.slice(m.index! + 2);
    }
    case 3: {
      // a long flat chain
      const len = pick(r, [10, 100, 400, 1600]);
      const term = pick(r, ['1', 'x[0]', 'sigma', 'E[x ~ mu] |x|^2', 'E[x ~ mu] x[0]']);
      const chain = Array.from({ length: len }, () => term).join(pick(r, [' + ', ' * ', ' - ']));
      const lines = text.split('\n');
      const k = lines.findIndex((l) => /^energy /.test(l));
      if (k < 0) return text + '\nlet long = ' + chain + '\n';
      lines[k] = lines[k] + ' + 0 * (' + chain + ')';
      return lines.join('\n');
    }
    case 4: {
      // rename a declared name to one that means something to JavaScript
      const names = [...text.matchAll(/\b(?:let|particles|sample|fn|kernel|energy|state|model)\s+([\p{L}_][\p{L}\p{N}_']*)/gu)].map((m) => m[1]);
      if (!names.length) return text;
      const from = pick(r, names);
      return text.replace(new RegExp(`(?<![\\p{L}\\p{N}_'])${from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\p{L}\\p{N}_'])`, 'gu'), pick(r, JS_NAMES));
    }
    case 5: {
      // garbage bytes
      const i = at();
      const junk = Array.from({ length: int(r, 1, 16) }, () => String.fromCharCode(pick(r, [0, 1, 7, 8, 27, 0x7f, 0xfeff, 0x202e, 0xd800, int(r, 0, 0xffff)]))).join('');
      return text.slice(0, i) + junk + text.slice(i);
    }
    case 6:
      return text.slice(0, at());
    case 7: {
      // a large dimension or particle count
      return text.replace(/R\^(\d+)/, () => `R^${pick(r, ['0', '1', '4096', '4097', '100000', '1e6', '9999999999'])}`).replace(/: (\d+) ~/, () => `: ${pick(r, ['0', '1', '2', '100000000', '1e20'])} ~`);
    }
    case 8: {
      // swap two lines
      const lines = text.split('\n');
      const a = int(r, 0, lines.length - 1);
      const b = int(r, 0, lines.length - 1);
      [lines[a], lines[b]] = [lines[b], lines[a]];
      return lines.join('\n');
    }
    default: {
      // duplicate a random slice somewhere
      const i = at();
      const j = Math.min(text.length, i + int(r, 1, 80));
      return text.slice(0, at()) + text.slice(i, j) + text.slice(at());
    }
  }
}

/** Seed texts: every spec in specs/ and every ```flow block of LANGUAGE.md and docs/. Each with the file it stands for (data paths resolve beside it). */
export function seedTexts(root: string): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const specs = path.join(root, 'specs');
  for (const f of fs.readdirSync(specs).sort()) if (f.endsWith('.flow')) out.push({ file: path.join(specs, f), text: fs.readFileSync(path.join(specs, f), 'utf8') });
  const docs = [path.join(root, 'docs', 'language.md'), path.join(root, '..', 'shared', 'LANGUAGE.md'), path.join(root, 'README.md')];
  for (const doc of docs) {
    if (!fs.existsSync(doc)) continue;
    const md = fs.readFileSync(doc, 'utf8');
    for (const m of md.matchAll(/```flow\n([\s\S]*?)```/g)) out.push({ file: path.join(specs, 'doc-example.flow'), text: m[1] });
  }
  return out;
}
