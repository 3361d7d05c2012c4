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

/** The loops of the body: each one's first and last line and the loop around it (-1: none), and the innermost loop open at the start of each line. */
function loopsOf(lines: readonly string[]): { span: [number, number][]; parent: number[]; inner: Int32Array } {
  const span: [number, number][] = [];
  const parent: number[] = [];
  const inner = new Int32Array(lines.length);
  const open: { id: number; depth: number }[] = [];
  let depth = 0;
  lines.forEach((line, i) => {
    inner[i] = open.length ? open[open.length - 1].id : -1;
    for (let k = 0; k < line.length; k++) {
      const ch = line.charCodeAt(k);
      if (ch === 40 /* ( */) {
        if (line.startsWith('(loop', k)) {
          parent.push(open.length ? open[open.length - 1].id : -1);
          open.push({ id: span.length, depth });
          span.push([i, i]);
        }
        depth++;
      } else if (ch === 41 /* ) */) {
        depth--;
        while (open.length && open[open.length - 1].depth >= depth) span[open.pop()!.id][1] = i;
      }
    }
  });
  return { span, parent, inner };
}

const LOCAL_REF = '(local.';
const isNameChar = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

/** Each `(local.get|set|tee $NAME` of a line: f(op's first letter, name, where the name starts, where it ends). */
function eachRef(line: string, f: (op: string, name: string, from: number, end: number) => void): void {
  for (let k = line.indexOf(LOCAL_REF); k >= 0; k = line.indexOf(LOCAL_REF, k + 1)) {
    const from = k + LOCAL_REF.length + 5; // past "get $"
    if (line.charCodeAt(from - 1) !== 36 /* $ */) continue;
    let end = from;
    while (end < line.length && isNameChar(line.charCodeAt(end))) end++;
    f(line[k + LOCAL_REF.length], line.slice(from, end), from, end);
  }
}

/**
 * Rename the temporaries of `body` (locals in `locals` whose name `isTemp`
 * accepts) onto shared locals `$<prefix><k>`, in place; returns the new map of
 * locals (the others unchanged, in their order, then the shared ones).
 */
export function reuseLocals(body: string[], locals: ReadonlyMap<string, string>, isTemp: (name: string) => boolean, prefix = 'r'): Map<string, string> {
  const sets = new Map<string, number[]>();
  const reads = new Map<string, number[]>();
  body.forEach((line, i) =>
    eachRef(line, (op, name) => {
      if (!locals.has(name) || !isTemp(name)) return;
      if (op === 't') sets.set(name, [-1, -1]); // teed: never a temporary
      const into = op === 'g' ? reads : sets;
      const list = into.get(name);
      if (list) list.push(i);
      else into.set(name, [i]);
    }),
  );
  const { span, parent, inner } = loopsOf(body);
  /** the loops around a line, innermost first */
  const around = (line: number) => {
    const out: number[] = [];
    for (let l = inner[line]; l >= 0; l = parent[l]) out.push(l);
    return out;
  };
  const ranges: Range[] = [];
  for (const [name, [set, ...more]] of sets) {
    const uses = reads.get(name) ?? [];
    if (more.length || set < 0 || uses.some((u) => u <= set)) continue;
    let start = set;
    let end = set;
    for (const u of uses) {
      end = Math.max(end, u);
      if (inner[u] === inner[set]) continue;
      // the loops around one of the set and this read but not the other
      const [a, b] = [around(set), around(u)];
      for (const l of [...a.filter((l) => !b.includes(l)), ...b.filter((l) => !a.includes(l))]) {
        start = Math.min(start, span[l][0]);
        end = Math.max(end, span[l][1]);
      }
    }
    ranges.push({ name, type: locals.get(name)!, start, end });
  }
  ranges.sort((a, b) => a.start - b.start);

  // linear scan: a shared local is free again after the line of its range's last read
  const rename = new Map<string, string>();
  const shared: { name: string; type: string }[] = [];
  const free = new Map<string, number[]>(); // type -> indices into shared
  const endingAt: number[][] = []; // line -> the shared locals whose range ends there
  let released = 0; // every line before this one has released its locals
  for (const r of ranges) {
    for (; released < r.start; released++)
      for (const x of endingAt[released] ?? []) {
        const list = free.get(shared[x].type);
        if (list) list.push(x);
        else free.set(shared[x].type, [x]);
      }
    let x = free.get(r.type)?.pop();
    if (x === undefined) {
      x = shared.length;
      shared.push({ name: `${prefix}${x}`, type: r.type });
    }
    (endingAt[r.end] ??= []).push(x);
    rename.set(r.name, shared[x].name);
  }
  if (shared.some((s) => locals.has(s.name))) throw new Error(`internal: the shared locals' prefix '${prefix}' is taken`);

  body.forEach((line, i) => {
    let text = '';
    let done = 0;
    eachRef(line, (_, name, from, end) => {
      const to = rename.get(name);
      if (to === undefined) return;
      text += line.slice(done, from) + to;
      done = end;
    });
    if (done) body[i] = text + line.slice(done);
  });
  const out = new Map([...locals].filter(([name]) => !rename.has(name)));
  for (const s of shared) out.set(s.name, s.type);
  return out;
}
