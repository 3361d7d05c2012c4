// The scalar IR: a hash-consed DAG of scalar expressions (DESIGN.md, "One way
// to shape the IR"). Nodes are built only through the smart constructors below,
// which fold constants, drop neutral elements and order commutative operands,
// so every pass sees canonical trees, equal subexpressions are the same object
// (common-subexpression elimination for free) and printed IR is stable.
//
// Leaves: numbers, named parameters (components of `let` constants, `n`, `t`),
// components of point variables (a point of a measure bound by an expectation,
// or the free point x of a first variation). Inner nodes: elementwise ops from
// the op table (ops.ts) and `expect` = the weighted sum over a measure's points
// of a body in which the binder is bound. `load` nodes appear only after
// scheduling: they read a reduction computed by an earlier stage.

import { OPS, type OpName } from './ops.js';

export type Node =
  | { readonly id: number; readonly kind: 'num'; readonly value: number }
  | { readonly id: number; readonly kind: 'param'; readonly name: string; readonly c: number }
  | { readonly id: number; readonly kind: 'var'; readonly v: number; readonly c: number }
  | { readonly id: number; readonly kind: 'op'; readonly op: OpName; readonly args: readonly Node[] }
  | { readonly id: number; readonly kind: 'expect'; readonly measure: string; readonly v: number; readonly body: Node }
  /** distinct pairs: `body` when the points bound to a and b have different indices, else 0 (the body is not used: it may be infinite there) */
  | { readonly id: number; readonly kind: 'skip'; readonly a: number; readonly b: number; readonly body: Node }
  | { readonly id: number; readonly kind: 'load'; readonly buffer: number; readonly v: number | null; readonly c: number };

export type NodeOf<K extends Node['kind']> = Extract<Node, { kind: K }>;

/** A point variable: ranges over the points of `measure` (dimension `dim`). */
export interface VarInfo {
  id: number;
  measure: string;
  dim: number;
  /** source name, for printing */
  name: string;
}

// ------------------------------------------------------------ interning

let table = new Map<string, Node>();
let nextId = 0;
let vars: VarInfo[] = [];
/** parameters with several components (vector lets, states, critics): printed name[c] */
let vectorParams = new Set<string>();

/** Start a fresh graph (one per compilation). */
export function beginGraph(): void {
  table = new Map();
  nextId = 0;
  vars = [];
  vectorParams = new Set();
}

/** Say that a parameter has several components, so that printing writes name[0], not name. */
export function markVectorParam(name: string): void {
  vectorParams.add(name);
}

/** Work done by the passes, counted (test/compile-scaling.test.ts: it grows about linearly with the dimension): nodes looked up or made, and nodes visited by the memoised rewrites. */
export const work = { interned: 0, visits: 0 };

function intern<N extends Node>(key: string, make: (id: number) => N): N {
  work.interned++;
  const hit = table.get(key);
  if (hit) return hit as N;
  const node = make(nextId++);
  table.set(key, node);
  return node;
}

export function newVar(measure: string, dim: number, name: string): VarInfo {
  const info = { id: vars.length, measure, dim, name };
  vars.push(info);
  return info;
}

export function varInfo(v: number): VarInfo {
  const info = vars[v];
  if (!info) throw new Error(`internal: unknown point variable ${v}`);
  return info;
}

export function allVars(): readonly VarInfo[] {
  return vars;
}

// ------------------------------------------------------------ leaves

export function num(value: number): NodeOf<'num'> {
  // -0 and 0 are one constant; NaN keys as 'NaN'
  const v = Object.is(value, -0) ? 0 : value;
  return intern(`n:${v}`, (id) => ({ id, kind: 'num', value: v }));
}

export function param(name: string, c = 0): NodeOf<'param'> {
  return intern(`p:${name}:${c}`, (id) => ({ id, kind: 'param', name, c }));
}

export function pvar(v: number, c: number): NodeOf<'var'> {
  return intern(`v:${v}:${c}`, (id) => ({ id, kind: 'var', v, c }));
}

/** The components of point variable v as nodes. */
export function components(v: VarInfo): Node[] {
  return Array.from({ length: v.dim }, (_, c) => pvar(v.id, c));
}

export function load(buffer: number, v: number | null, c: number): NodeOf<'load'> {
  return intern(`l:${buffer}:${v}:${c}`, (id) => ({ id, kind: 'load', buffer, v, c }));
}

export function expect(measure: string, v: number, body: Node): Node {
  if (body.kind === 'num' && body.value === 0) return body; // E[0] = 0
  // linearity: static factors and signs leave the sum (one multiplication per
  // point instead of one per pair)
  if (body.kind === 'op' && body.op === 'neg') return neg(expect(measure, v, body.args[0]));
  if (body.kind === 'op' && body.op === 'mul' && isStatic(body.args[0])) return mul(body.args[0], expect(measure, v, body.args[1]));
  return expectNode(measure, v, body);
}

/** An expect node as given, without the linearity rewrites (for the scheduler's canonical forms). */
export function expectNode(measure: string, v: number, body: Node): NodeOf<'expect'> {
  return intern(`e:${measure}:${v}:${body.id}`, (id) => ({ id, kind: 'expect', measure, v, body }));
}

/**
 * `[index(a) != index(b)] body` (distinct pairs, LANGUAGE.md): a and b are
 * point variables over the same points (a measure, or the query points,
 * which are the particles' indices). Signs and static factors stay outside,
 * where an expectation takes them out of its sum.
 */
export function skip(a: number, b: number, body: Node): Node {
  if (a === b || (body.kind === 'num' && body.value === 0)) return num(0);
  if (body.kind === 'op' && body.op === 'neg') return neg(skip(a, b, body.args[0]));
  if (body.kind === 'op' && body.op === 'mul' && isStatic(body.args[0])) return mul(body.args[0], skip(a, b, body.args[1]));
  if (isStatic(body) && !(body.kind === 'num' && body.value === 1)) return mul(body, skip(a, b, num(1)));
  const [lo, hi] = a < b ? [a, b] : [b, a];
  return intern(`s:${lo}:${hi}:${body.id}`, (id) => ({ id, kind: 'skip', a: lo, b: hi, body }));
}

// ------------------------------------------------------------ ops

const isNum = (n: Node, v?: number): n is NodeOf<'num'> => n.kind === 'num' && (v === undefined || n.value === v);

/**
 * Generic op constructor: folds constants and orders commutative operands by
 * id (a difference a + (-b) keeps its minuend first, so it reads, and is
 * emitted, as a - b).
 */
export function op(name: OpName, args: Node[]): Node {
  const def = OPS[name];
  if (def.arity >= 0 && args.length !== def.arity) throw new Error(`internal: ${name} takes ${def.arity} operands`);
  if (args.every((a) => a.kind === 'num')) return num(def.evaluate(args.map((a) => (a as NodeOf<'num'>).value)));
  const isNeg = (a: Node) => a.kind === 'op' && a.op === 'neg';
  const difference = name === 'add' && isNeg(args[0]) !== isNeg(args[1]);
  const ordered = difference ? (isNeg(args[0]) ? [args[1], args[0]] : args) : def.commutative ? [...args].sort((a, b) => a.id - b.id) : args;
  return intern(`o:${name}:${ordered.map((a) => a.id).join(',')}`, (id) => ({ id, kind: 'op', op: name, args: ordered }));
}

export function add(a: Node, b: Node): Node {
  if (isNum(a, 0)) return b;
  if (isNum(b, 0)) return a;
  if (a === b) return mul(num(2), a); // x + x = 2x exactly
  // A difference p - q is built in one orientation, the lower-numbered operand
  // first: q - p is stored as -(p - q) (the same IEEE number), so x - y and
  // y - x share one node, also after variables are renamed.
  const isNeg = (n: Node) => n.kind === 'op' && n.op === 'neg';
  if (isNeg(a) !== isNeg(b)) {
    const [p, nq] = isNeg(a) ? [b, a] : [a, b];
    const q = (nq as NodeOf<'op'>).args[0];
    if (q.id < p.id && !isNum(p) && !isNum(q)) return neg(add(q, neg(p)));
  }
  return op('add', [a, b]);
}

export function sub(a: Node, b: Node): Node {
  return add(a, neg(b));
}

/** An expression of numbers and parameters only: the same for every point. */
export function isStatic(n: Node): boolean {
  switch (n.kind) {
    case 'num':
    case 'param':
      return true;
    case 'op':
      return n.args.every(isStatic);
    default:
      return false;
  }
}

export function neg(a: Node): Node {
  if (a.kind === 'op' && a.op === 'neg') return a.args[0];
  // -(c * s) = (-c) * s for a number c
  if (a.kind === 'op' && a.op === 'mul' && isNum(a.args[0])) return mul(num(-a.args[0].value), a.args[1]);
  // -(s * x) = (-s) * x for a static factor s: signs and constants gather in one hoistable factor
  if (a.kind === 'op' && a.op === 'mul' && isStatic(a.args[0]) && !isStatic(a.args[1])) return mul(neg(a.args[0]), a.args[1]);
  return op('neg', [a]);
}

export function mul(a: Node, b: Node): Node {
  if (isNum(a, 0) || isNum(b, 0)) return num(0);
  if (isNum(a, 1)) return b;
  if (isNum(b, 1)) return a;
  if (isNum(a, -1)) return neg(b);
  if (isNum(b, -1)) return neg(a);
  if (a === b) return square(a);
  // static factors gather on the left: s1 * (s2 * x) = (s1 * s2) * x, s * (-x) = (-s) * x,
  // so per-pair work keeps one multiplication by a loop-invariant constant
  if (isStatic(b) && !isStatic(a)) [a, b] = [b, a];
  if (isStatic(a) && !isStatic(b)) {
    if (b.kind === 'op' && b.op === 'mul' && isStatic(b.args[0])) return mul(mul(a, b.args[0]), b.args[1]);
    if (b.kind === 'op' && b.op === 'neg') return mul(neg(a), b.args[0]);
    return intern(`o:mul:${a.id},${b.id}`, (id) => ({ id, kind: 'op', op: 'mul', args: [a, b] }));
  }
  // x * (s * y) = s * (x * y): static factors float to the top of a product,
  // where an expectation can take them out of its sum
  const staticHead = (n: Node) => n.kind === 'op' && n.op === 'mul' && isStatic(n.args[0]) && !isStatic(n.args[1]);
  if (!isStatic(a) && !isStatic(b)) {
    // (-x) * y = -(x * y) exactly: signs float up too
    if (a.kind === 'op' && a.op === 'neg') return neg(mul(a.args[0], b));
    if (b.kind === 'op' && b.op === 'neg') return neg(mul(a, b.args[0]));
    if (staticHead(b)) return mul((b as NodeOf<'op'>).args[0], mul(a, (b as NodeOf<'op'>).args[1]));
    if (staticHead(a)) return mul((a as NodeOf<'op'>).args[0], mul((a as NodeOf<'op'>).args[1], b));
  }
  return op('mul', [a, b]);
}

/**
 * a * a, with (-a)^2 = a^2. Since differences have one orientation (add),
 * (p - q)^2 and (q - p)^2 are one node: k(x, y) and k(y, x) of a radial
 * kernel share one evaluation (the pairwise terms of MMD² fuse into one exp
 * per pair).
 */
export function square(a: Node): Node {
  if (a.kind === 'op' && a.op === 'neg') a = a.args[0];
  if (a.kind === 'num') return num(a.value * a.value);
  return intern(`o:pow:${a.id},${num(2).id}`, (id) => ({ id, kind: 'op', op: 'pow', args: [a, num(2)] }));
}

export function div(a: Node, b: Node): Node {
  if (isNum(a, 0)) return num(0);
  if (isNum(b, 1)) return a;
  // x / s = (1/s) * x for a static s: the reciprocal is hoisted out of the
  // loops, a pair does one multiplication (within an ulp of the division)
  if (isStatic(b) && !isStatic(a)) return mul(op('div', [num(1), b]), a);
  return op('div', [a, b]);
}

export function pow(a: Node, b: Node): Node {
  if (isNum(b, 1)) return a;
  if (isNum(b, 0)) return num(1);
  if (isNum(b, 2)) return square(a);
  return op('pow', [a, b]);
}

export function sum(xs: Node[]): Node {
  return xs.reduce((s, x) => add(s, x), num(0) as Node);
}

export function isZero(n: Node): boolean {
  return isNum(n, 0);
}

// ------------------------------------------------------------ traversal

export function children(n: Node): readonly Node[] {
  switch (n.kind) {
    case 'op':
      return n.args;
    case 'expect':
    case 'skip':
      return [n.body];
    case 'num':
    case 'param':
    case 'var':
    case 'load':
      return [];
    default:
      return assertNever(n);
  }
}

export function assertNever(x: never): never {
  throw new Error(`internal: unexpected ${JSON.stringify(x)}`);
}

/** Rebuild `n` with new children through the smart constructors. */
export function rebuild(n: Node, kids: readonly Node[]): Node {
  switch (n.kind) {
    case 'op':
      if (kids.every((k, i) => k === n.args[i])) return n;
      switch (n.op) {
        case 'add': return add(kids[0], kids[1]);
        case 'mul': return mul(kids[0], kids[1]);
        case 'neg': return neg(kids[0]);
        case 'div': return div(kids[0], kids[1]);
        case 'pow': return pow(kids[0], kids[1]);
        default: return op(n.op, [...kids]);
      }
    case 'expect':
      return kids[0] === n.body ? n : expect(n.measure, n.v, kids[0]);
    case 'skip':
      return kids[0] === n.body ? n : skip(n.a, n.b, kids[0]);
    case 'num':
    case 'param':
    case 'var':
    case 'load':
      return n;
    default:
      return assertNever(n);
  }
}

/** Bottom-up rewrite of a DAG with memoisation: f sees the rebuilt node. */
export function rewrite(root: Node, f: (n: Node) => Node, memo = new Map<number, Node>()): Node {
  // children before parents, in the order a recursive walk takes (the same nodes made in
  // the same order), without recursion: a chain of d sums does not deepen the stack
  for (const n of topoOrderUnseen([root], memo)) {
    work.visits++;
    memo.set(n.id, f(rebuild(n, children(n).map((k) => memo.get(k.id)!))));
  }
  return memo.get(root.id)!;
}

/** Replace point variables: components of `from` become those of `to` (same dim). `memo`: results by node id, to share between calls with the same `map`. */
export function renameVars(root: Node, map: Map<number, number>, memo = new Map<number, Node>()): Node {
  if (map.size === 0) return root;
  // children before parents without recursion, as in rewrite
  for (const n of topoOrderUnseen([root], memo)) {
    work.visits++;
    const go = (k: Node) => memo.get(k.id)!;
    let out: Node;
    if (n.kind === 'var') out = map.has(n.v) ? pvar(map.get(n.v)!, n.c) : n;
    else if (n.kind === 'load') out = n.v !== null && map.has(n.v) ? load(n.buffer, map.get(n.v)!, n.c) : n;
    else if (n.kind === 'expect' && map.has(n.v)) throw new Error('internal: renaming a bound variable');
    // a skip's variables are renamed before the smart constructor may move it under a sign or a factor
    else if (n.kind === 'skip') out = skip(map.get(n.a) ?? n.a, map.get(n.b) ?? n.b, go(n.body));
    else out = rebuild(n, children(n).map(go));
    memo.set(n.id, out);
  }
  return memo.get(root.id)!;
}

/** Free point variables of every node of a DAG (memoised per node id; children before parents without recursion). */
export function freeVarsOf(memo = new Map<number, ReadonlySet<number>>()): (n: Node) => ReadonlySet<number> {
  const empty: ReadonlySet<number> = new Set();
  const one = (n: Node): ReadonlySet<number> => {
    switch (n.kind) {
      case 'num':
      case 'param':
        return empty;
      case 'var':
        return new Set([n.v]);
      case 'load':
        return n.v === null ? empty : new Set([n.v]);
      case 'op': {
        const s = new Set<number>();
        for (const a of n.args) for (const v of memo.get(a.id)!) s.add(v);
        return s;
      }
      case 'expect': {
        const s = new Set(memo.get(n.body.id)!);
        s.delete(n.v);
        return s;
      }
      case 'skip':
        return new Set([...memo.get(n.body.id)!, n.a, n.b]);
      default:
        return assertNever(n);
    }
  };
  return (root) => {
    const hit = memo.get(root.id);
    if (hit) return hit;
    for (const n of topoOrderUnseen([root], memo)) memo.set(n.id, one(n));
    return memo.get(root.id)!;
  };
}

/** Every node reachable from the roots, children before parents. */
export function topoOrder(roots: readonly Node[]): Node[] {
  return topoOrderUnseen(roots, new Set<number>());
}

/** topoOrder without the nodes `done` holds (a memo of an earlier walk: nodes below one of them are not visited either); `kids` may narrow or reorder the children a walk follows. */
export function topoOrderUnseen(roots: readonly Node[], done: { has(id: number): boolean }, kids: (n: Node) => readonly Node[] = children): Node[] {
  const seen = new Set<number>();
  const isDone = (id: number) => seen.has(id) || done.has(id);
  const out: Node[] = [];
  const stack: { n: Node; i: number }[] = [];
  for (const r of roots) {
    if (isDone(r.id)) continue;
    stack.push({ n: r, i: 0 });
    seen.add(r.id);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const below = kids(top.n);
      if (top.i < below.length) {
        const k = below[top.i++];
        if (!isDone(k.id)) {
          seen.add(k.id);
          stack.push({ n: k, i: 0 });
        }
      } else {
        out.push(top.n);
        stack.pop();
      }
    }
  }
  return out;
}

// ------------------------------------------------------------ printing

export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return String(v);
}

/** Human-readable text of an expression (used in IR dumps and as stage cache keys). */
export function printNode(root: Node, varName: (v: number) => string = defaultVarName): string {
  const memo = new Map<number, string>();
  const go = (n: Node): string => {
    const hit = memo.get(n.id);
    if (hit !== undefined) return hit;
    let s: string;
    switch (n.kind) {
      case 'num':
        s = formatNumber(n.value);
        break;
      case 'param':
        s = n.c === 0 && !n.name.includes('[') && !vectorParams.has(n.name) ? n.name : `${n.name}[${n.c}]`;
        break;
      case 'var':
        s = `${varName(n.v)}[${n.c}]`;
        break;
      case 'load':
        s = n.v === null ? `B${n.buffer}[${n.c}]` : `B${n.buffer}(${varName(n.v)})[${n.c}]`;
        break;
      case 'op': {
        const args = n.args.map(go);
        const def = OPS[n.op];
        if (n.op === 'add' && n.args[1].kind === 'op' && n.args[1].op === 'neg') s = `(${args[0]} - ${go(n.args[1].args[0])})`;
        else if (n.op === 'neg') s = `-${args[0]}`;
        else if (n.op === 'add') s = `(${args[0]} + ${args[1]})`;
        else if (n.op === 'mul') s = `${args[0]} * ${args[1]}`;
        else if (n.op === 'div') s = `${args[0]} / ${args[1]}`;
        else if (def.print) s = def.print(args);
        else s = `${n.op}(${args.join(', ')})`;
        if (n.op === 'mul' || n.op === 'div' || n.op === 'pow') s = `(${s})`;
        break;
      }
      case 'expect':
        s = `E[${varName(n.v)}~${n.measure}](${go(n.body)})`;
        break;
      case 'skip':
        s = `[${varName(n.a)} != ${varName(n.b)}](${go(n.body)})`;
        break;
      default:
        return assertNever(n);
    }
    memo.set(n.id, s);
    return s;
  };
  return go(root);
}

function defaultVarName(v: number): string {
  const info = vars[v];
  return info ? `${info.name}${v}` : `v${v}`;
}

// ------------------------------------------------------------ JSON form

/** A DAG as a flat node table (children before parents), for `--emit ir`. */
export interface NodeTable {
  nodes: (
    | { kind: 'num'; value: number | string }
    | { kind: 'param'; name: string; c: number }
    | { kind: 'var'; v: number; c: number }
    | { kind: 'op'; op: OpName; args: number[] }
    | { kind: 'expect'; measure: string; v: number; body: number }
    | { kind: 'skip'; a: number; b: number; body: number }
    | { kind: 'load'; buffer: number; v: number | null; c: number }
  )[];
}

/** Serialise the DAG reachable from roots; returns the table and the index of each node. */
export function toTable(roots: readonly Node[]): { table: NodeTable; index: Map<number, number> } {
  const order = topoOrder(roots);
  const index = new Map<number, number>();
  const nodes: NodeTable['nodes'] = [];
  for (const n of order) {
    index.set(n.id, nodes.length);
    switch (n.kind) {
      case 'num':
        nodes.push({ kind: 'num', value: Number.isFinite(n.value) ? n.value : formatNumber(n.value) });
        break;
      case 'param':
        nodes.push({ kind: 'param', name: n.name, c: n.c });
        break;
      case 'var':
        nodes.push({ kind: 'var', v: n.v, c: n.c });
        break;
      case 'op':
        nodes.push({ kind: 'op', op: n.op, args: n.args.map((a) => index.get(a.id)!) });
        break;
      case 'expect':
        nodes.push({ kind: 'expect', measure: n.measure, v: n.v, body: index.get(n.body.id)! });
        break;
      case 'load':
        nodes.push({ kind: 'load', buffer: n.buffer, v: n.v, c: n.c });
        break;
      case 'skip':
        nodes.push({ kind: 'skip', a: n.a, b: n.b, body: index.get(n.body.id)! });
        break;
      default:
        assertNever(n);
    }
  }
  return { table: { nodes }, index };
}

/** Replace point variables by expressions: component c of variable v becomes map.get(v)[c]. */
export function substitute(root: Node, map: Map<number, readonly Node[]>): Node {
  if (map.size === 0) return root;
  return rewrite(root, (n) => {
    if (n.kind === 'var' && map.has(n.v)) return map.get(n.v)![n.c];
    if (n.kind === 'expect' && map.has(n.v)) throw new Error('internal: substituting a bound variable');
    if (n.kind === 'load') throw new Error('internal: substituting into a scheduled expression');
    return n;
  });
}
