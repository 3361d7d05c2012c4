// Types of values in the language: scalars, vectors R^d, records of named
// blocks. A record is a flat vector in memory; each block has an offset.
// R^1 is the same type as R (a point of the real line).

import type { Space } from './ast.js';

export type Type =
  | { t: 'scalar' }
  | { t: 'vec'; n: number }
  | { t: 'record'; blocks: Block[]; size: number };

export interface Block {
  name: string;
  type: Type;
  offset: number;
  size: number;
}

export const SCALAR: Type = { t: 'scalar' };

export function vec(n: number): Type {
  return n === 1 ? SCALAR : { t: 'vec', n };
}

export function sizeOf(t: Type): number {
  return t.t === 'scalar' ? 1 : t.t === 'vec' ? t.n : t.size;
}

export function typeOfSpace(space: Space): Type {
  switch (space.kind) {
    case 'real':
      return SCALAR;
    case 'vec':
      return vec(space.dim);
    case 'record': {
      let offset = 0;
      const blocks = space.blocks.map((b) => {
        const type = typeOfSpace(b.space);
        const block = { name: b.name, type, offset, size: sizeOf(type) };
        offset += block.size;
        return block;
      });
      return { t: 'record', blocks, size: offset };
    }
  }
}

export function showType(t: Type): string {
  switch (t.t) {
    case 'scalar':
      return 'a scalar';
    case 'vec':
      return `R^${t.n}`;
    case 'record':
      return `(${t.blocks.map((b) => `${b.name}: ${b.type.t === 'scalar' ? 'R' : showType(b.type)}`).join(', ')})`;
  }
}

export function sameType(a: Type, b: Type): boolean {
  if (a.t !== b.t) return false;
  if (a.t === 'vec' && b.t === 'vec') return a.n === b.n;
  if (a.t === 'record' && b.t === 'record')
    return a.blocks.length === b.blocks.length && a.blocks.every((x, i) => x.name === b.blocks[i].name && sameType(x.type, b.blocks[i].type));
  return true;
}
