// Pass: expand the built-in functionals into expectations (LANGUAGE.md,
// "Built-in functionals"). An AST → AST rewrite with immer: the input program
// is never mutated.
//
//   mmd2(mu, nu; k)      = E[x~mu,x'~mu] k(x,x') - 2 E[x~mu,y~nu] k(x,y) + E[y~nu,y'~nu] k(y,y')
//   mmd2u(mu, nu; k)     = N/(N-1) E[x~mu,x'~mu,x!=x'] k(x,x') - 2 E[x~mu,y~nu] k(x,y)
//                          + M/(M-1) E[y~nu,y'~nu,y!=y'] k(y,y')    (N = size(mu), M = size(nu))
//   interaction(mu; W)   = 1/2 E[x~mu,y~mu] W(x, y)
//   potential(mu; V)     = E[x~mu] V(x)
//
// A call with the wrong shape of arguments is left alone; lowering reports it.

import { produce, type Draft } from 'immer';
import type { Expr, ExprOf, Program } from './ast.js';
import type { Span } from './diagnostics.js';

export const BUILTIN_FUNCTIONALS = ['mmd2', 'mmd2u', 'interaction', 'potential'] as const;

/** Binder names no user identifier can spell ('%' is not an identifier character). */
let fresh = 0;
const freshName = (base: string) => `%${base}${fresh++}`;

export function desugar(program: Program): Program {
  fresh = 0;
  return produce(program, (draft) => {
    for (const decl of draft.decls) {
      switch (decl.kind) {
        case 'let':
          decl.value = expand(decl.value);
          break;
        case 'fn':
        case 'energy':
          decl.body = expand(decl.body);
          break;
        case 'record':
          for (const item of decl.items) item.value = expand(item.value);
          break;
        default:
          break;
      }
    }
  });
}

function expand(e: Draft<Expr>): Draft<Expr> {
  switch (e.kind) {
    case 'binary':
      e.left = expand(e.left);
      e.right = expand(e.right);
      return e;
    case 'neg':
    case 'norm':
      e.operand = expand(e.operand);
      return e;
    case 'index':
      e.base = expand(e.base);
      e.index = expand(e.index);
      return e;
    case 'field':
      e.base = expand(e.base);
      return e;
    case 'vector':
      e.items = e.items.map(expand);
      return e;
    case 'record':
      for (const f of e.fields) f.value = expand(f.value);
      return e;
    case 'expect':
    case 'lambda':
      e.body = expand(e.body);
      return e;
    case 'call': {
      for (const a of e.args) a.value = expand(a.value);
      return builtin(e) ?? e;
    }
    case 'num':
    case 'ident':
      return e;
  }
}

/** The measure or function name of an argument, when it is a bare identifier. */
function nameOf(a: { name?: string; value: Expr } | undefined): { name: string; span: Span } | undefined {
  if (!a || a.name !== undefined || a.value.kind !== 'ident') return undefined;
  return { name: a.value.name, span: a.value.span };
}

function builtin(call: ExprOf<'call'>): Expr | undefined {
  const s = call.span;
  const num = (value: number): Expr => ({ kind: 'num', value, span: s });
  const ident = (name: string): Expr => ({ kind: 'ident', name, span: s });
  const apply = (f: { name: string; span: Span }, args: string[]): Expr => ({
    kind: 'call',
    callee: f.name,
    calleeSpan: f.span,
    args: args.map((a) => ({ value: ident(a), span: s })),
    extra: [],
    span: s,
  });
  const expectation = (binders: [string, { name: string; span: Span }][], body: Expr, distinct = false): Expr => ({
    kind: 'expect',
    binders: binders.map(([x, m]) => ({
      names: [{ name: x, span: s }],
      destructured: false,
      measure: m.name,
      measureSpan: m.span,
      span: s,
    })),
    ...(distinct ? { distinct: [{ left: { name: binders[0][0], span: s }, right: { name: binders[1][0], span: s }, span: s }] } : {}),
    body,
    span: s,
  });
  const bin = (op: '+' | '-' | '*' | '/', left: Expr, right: Expr): Expr => ({ kind: 'binary', op, left, right, span: s });
  const size = (m: { name: string; span: Span }): Expr => ({ kind: 'call', callee: 'size', calleeSpan: s, args: [{ value: ident(m.name), span: s }], extra: [], span: s });

  if (call.callee === 'mmd2' && call.args.length === 2 && call.extra.length === 1) {
    const mu = nameOf(call.args[0]);
    const nu = nameOf(call.args[1]);
    const k = nameOf(call.extra[0]);
    if (!mu || !nu || !k) return undefined;
    const pair = (a: { name: string; span: Span }, b: { name: string; span: Span }) => {
      const x = freshName('x');
      const y = freshName('y');
      return expectation([[x, a], [y, b]], apply(k, [x, y]));
    };
    return bin('+', bin('-', pair(mu, mu), bin('*', num(2), pair(mu, nu))), pair(nu, nu));
  }
  if (call.callee === 'mmd2u' && call.args.length === 2 && call.extra.length === 1) {
    const mu = nameOf(call.args[0]);
    const nu = nameOf(call.args[1]);
    const k = nameOf(call.extra[0]);
    if (!mu || !nu || !k) return undefined;
    const pair = (a: { name: string; span: Span }, b: { name: string; span: Span }, distinct: boolean) => {
      const x = freshName('x');
      const y = freshName('y');
      return expectation([[x, a], [y, b]], apply(k, [x, y]), distinct);
    };
    // N/(N-1) * (1/N^2) sum_{i != j} = 1/(N(N-1)) sum_{i != j}
    const within = (m: { name: string; span: Span }) => bin('*', bin('/', size(m), bin('-', size(m), num(1))), pair(m, m, true));
    return bin('+', bin('-', within(mu), bin('*', num(2), pair(mu, nu, false))), within(nu));
  }
  if (call.callee === 'interaction' && call.args.length === 1 && call.extra.length === 1) {
    const mu = nameOf(call.args[0]);
    const w = nameOf(call.extra[0]);
    if (!mu || !w) return undefined;
    const x = freshName('x');
    const y = freshName('y');
    return bin('*', num(0.5), expectation([[x, mu], [y, mu]], apply(w, [x, y])));
  }
  if (call.callee === 'potential' && call.args.length === 1 && call.extra.length === 1) {
    const mu = nameOf(call.args[0]);
    const v = nameOf(call.extra[0]);
    if (!mu || !v) return undefined;
    const x = freshName('x');
    return expectation([[x, mu]], apply(v, [x]));
  }
  return undefined;
}
