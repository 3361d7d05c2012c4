// Names of output columns: the trace columns of unnamed record items, and the
// columns of a measure's space as run.json and the summary show them.

import type { Type } from './types.js';

/**
 * The trace column of an unnamed record item: its source text on one line,
 * with commas written as ';' and no quotes, so that every CSV reader takes
 * the header as it is (`w2(mu, nu)` → `w2(mu; nu)`). It depends on the text
 * only: the same item has the same column in every run.
 */
export function itemColumn(text: string): string {
  return text.replace(/\s+/g, ' ').trim().replace(/,/g, ';').replace(/"/g, '');
}

/** A space as written: `R`, `R^3`, `(w: R, theta: R^2)`. */
export function spaceText(t: Type): string {
  switch (t.t) {
    case 'scalar':
      return 'R';
    case 'vec':
      return `R^${t.n}`;
    case 'record':
      return `(${t.blocks.map((b) => `${b.name}: ${spaceText(b.type)}`).join(', ')})`;
  }
}

/** The name of each coordinate of a record space, in storage order: `w`, `theta[0]`, `theta[1]` (nested blocks as `a.b`). */
export function spaceColumns(t: Type, prefix = ''): string[] {
  switch (t.t) {
    case 'scalar':
      return [prefix];
    case 'vec':
      return Array.from({ length: t.n }, (_, i) => `${prefix}[${i}]`);
    case 'record':
      return t.blocks.flatMap((b) => spaceColumns(b.type, prefix ? `${prefix}.${b.name}` : b.name));
  }
}
