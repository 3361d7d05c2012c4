// Local reuse for the WebAssembly stage functions (codegen-wasm). The
// emitter gives every value it places a fresh local: a stage of ½MMD² in
// R^d has about 70 d of them, and V8 refuses a function with more than
// 50,000 locals ("local count too large", from about R^700). Most are
// temporaries written once and read a few lines later, so here the
// temporaries share locals whose live ranges do not overlap (linear scan
// over the lines of the function body). Renaming locals changes no
// operation and no operand: the results are the same bits.
//
// A temporary is a local of the given names that is set exactly once, never
// read before that line, and never teed. Its live range runs from its set
// to its last read; where the set and a read are not inside the same loops,
// the range covers every loop that holds one of them but not the other
// (a value set before a loop and read in it is live through the whole loop,
// and one set in a loop and read after it is live across its back edge).

/** V8's limit on the locals of one WebAssembly function (kV8MaxWasmFunctionLocals). */
export const WASM_MAX_LOCALS = 50_000;

interface Range {
  name: string;
  type: string;
  start: number;
  end: number;
}

/** The lines spanned by each `(loop` of the body: [first line, last line], innermost last in each line's list. */
function loopsOf(lines: readonly string[]): { span: [number, number][]; at: number[][] } {
  const span: [number, number][] = [];
  const at: number[][] = [];
  const open: { id: number; depth: number }[] = [];
  let depth = 0;
  lines.forEach((line, i) => {
    at.push(open.map((o) => o.id));
    for (let k = 0; k < line.length; k++) {
      const ch = line[k];
      if (ch === '(') {
        if (line.startsWith('(loop', k)) {
          open.push({ id: span.length, depth });
          span.push([i, i]);
        }
        depth++;
      } else if (ch === ')') {
        depth--;
        while (open.length && open[open.length - 1].depth >= depth) span[open.pop()!.id][1] = i;
      }
    }
  });
  return { span, at };
}

/**
 * Rename the temporaries of `body` (locals in `locals` whose name `isTemp`
 * accepts) onto shared locals `$<prefix><k>`, in place; returns the new map of
 * locals (the others unchanged, in their order, then the shared ones).
 */
export function reuseLocals(body: string[], locals: ReadonlyMap<string, string>, isTemp: (name: string) => boolean, prefix = 'r'): Map<string, string> {
  const sets = new Map<string, number[]>();
  const reads = new Map<string, number[]>();
  const ref = /\(local\.(get|set|tee) \$([A-Za-z0-9_]+)/g;
  body.forEach((line, i) => {
    for (const m of line.matchAll(ref)) {
      if (!isTemp(m[2]) || !locals.has(m[2])) continue;
      const into = m[1] === 'get' ? reads : sets;
      if (m[1] === 'tee') sets.set(m[2], [-1, -1]); // never a temporary
      const list = into.get(m[2]);
      if (list) list.push(i);
      else into.set(m[2], [i]);
    }
  });
  const { span, at } = loopsOf(body);
  const ranges: Range[] = [];
  for (const [name, [set, ...more]] of sets) {
    const uses = reads.get(name) ?? [];
    if (more.length || set < 0 || uses.some((u) => u <= set)) continue;
    let start = set;
    let end = Math.max(set, ...uses);
    const defLoops = new Set(at[set]);
    for (const u of uses)
      for (const l of [...at[u].filter((l) => !defLoops.has(l)), ...at[set].filter((l) => !at[u].includes(l))]) {
        start = Math.min(start, span[l][0]);
        end = Math.max(end, span[l][1]);
      }
    ranges.push({ name, type: locals.get(name)!, start, end });
  }
  ranges.sort((a, b) => a.start - b.start);

  // linear scan: a shared local is free again after the line of its range's last read
  const rename = new Map<string, string>();
  const shared: { name: string; type: string; end: number }[] = [];
  const free = new Map<string, number[]>(); // type -> indices into shared
  const busy: number[] = []; // indices into shared, a min-heap on end
  const less = (a: number, b: number) => shared[a].end < shared[b].end;
  const push = (x: number) => {
    let k = busy.push(x) - 1;
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (!less(busy[k], busy[p])) break;
      [busy[k], busy[p]] = [busy[p], busy[k]];
      k = p;
    }
  };
  const pop = () => {
    const top = busy[0];
    const last = busy.pop()!;
    if (busy.length) {
      busy[0] = last;
      let k = 0;
      for (;;) {
        const [a, b] = [2 * k + 1, 2 * k + 2];
        let m = k;
        if (a < busy.length && less(busy[a], busy[m])) m = a;
        if (b < busy.length && less(busy[b], busy[m])) m = b;
        if (m === k) break;
        [busy[k], busy[m]] = [busy[m], busy[k]];
        k = m;
      }
    }
    return top;
  };
  for (const r of ranges) {
    while (busy.length && shared[busy[0]].end < r.start) {
      const x = pop();
      const list = free.get(shared[x].type);
      if (list) list.push(x);
      else free.set(shared[x].type, [x]);
    }
    let x = free.get(r.type)?.pop();
    if (x === undefined) {
      x = shared.length;
      shared.push({ name: `${prefix}${x}`, type: r.type, end: r.end });
    } else shared[x].end = r.end;
    push(x);
    rename.set(r.name, shared[x].name);
  }
  if (shared.some((s) => locals.has(s.name))) throw new Error(`internal: the shared locals' prefix '${prefix}' is taken`);

  for (let i = 0; i < body.length; i++) if (body[i].includes('$')) body[i] = body[i].replace(ref, (m, op: string, name: string) => (rename.has(name) ? `(local.${op} $${rename.get(name)}` : m));
  const out = new Map([...locals].filter(([name]) => !rename.has(name)));
  for (const s of shared) out.set(s.name, s.type);
  return out;
}
