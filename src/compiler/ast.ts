// The abstract syntax tree of a .flow file (LANGUAGE.md). Built from the CST by
// cst-to-ast.ts; nothing after that stage sees tokens. Every node carries the
// span of the source text it came from, for diagnostics.

import type { Span } from './diagnostics.js';

export interface Node {
  span: Span;
}

// ---------------------------------------------------------------- spaces

export type Space =
  | ({ kind: 'real' } & Node) // R
  | ({ kind: 'vec'; dim: number } & Node) // R^d
  | ({ kind: 'record'; blocks: { name: string; nameSpan: Span; space: Space }[] } & Node); // (w: R, theta: R^2)

// ---------------------------------------------------------------- expressions

export type BinaryOp = '+' | '-' | '*' | '/' | '^';

export interface Arg extends Node {
  /** `name = expr` for named arguments, undefined for positional ones */
  name?: string;
  nameSpan?: Span;
  value: Expr;
}

/** One binder of an expectation: `x ~ mu` or the destructuring `(x, y) ~ data`. */
export interface Binder extends Node {
  /** one name, or several for a destructured record sample */
  names: { name: string; span: Span }[];
  destructured: boolean;
  measure: string;
  measureSpan: Span;
}

/** `x != y` inside `E[...]`: the sum leaves out the pairs of one point with itself. */
export interface Distinct extends Node {
  left: { name: string; span: Span };
  right: { name: string; span: Span };
}

export type Expr =
  | ({ kind: 'num'; value: number } & Node)
  | ({ kind: 'ident'; name: string } & Node)
  | ({ kind: 'binary'; op: BinaryOp; left: Expr; right: Expr } & Node)
  | ({ kind: 'neg'; operand: Expr } & Node)
  /** `f(a, b)` or `mmd2(mu, nu; k)`: `args` before the `;`, `extra` after it */
  | ({ kind: 'call'; callee: string; calleeSpan: Span; args: Arg[]; extra: Arg[] } & Node)
  | ({ kind: 'index'; base: Expr; index: Expr } & Node) // v[0]
  | ({ kind: 'field'; base: Expr; field: string; fieldSpan: Span } & Node) // u.theta
  | ({ kind: 'norm'; operand: Expr } & Node) // |v|
  | ({ kind: 'vector'; items: Expr[] } & Node) // [a, b, c]
  /** `(w: e1, theta: e2)`: only meaningful as a record distribution */
  | ({ kind: 'record'; fields: { name: string; nameSpan: Span; value: Expr }[] } & Node)
  /** `E[x ~ mu, y ~ nu] body`; `distinct`: the `x != y` items (distinct pairs) */
  | ({ kind: 'expect'; binders: Binder[]; distinct?: Distinct[]; body: Expr } & Node)
  /** `z => body` or `(z, y) => body` (only inside `push(...)`; the second destructures a record point) */
  | ({ kind: 'lambda'; params: { name: string; span: Span }[]; destructured: boolean; body: Expr } & Node);

// ---------------------------------------------------------------- declarations

export interface NamedArgs extends Node {
  /** arguments before the `;` */
  args: Arg[];
  /** names after the `;` (kernel references, e.g. `dab(alpha = 1, beta = 1; k)`) */
  extra: Arg[];
}

export type MeasureSource =
  | ({ kind: 'dist'; count: Expr; dist: Expr } & Node) // `: N ~ DIST`
  | ({ kind: 'file'; path: string } & Node); // `from "f.csv"`

export interface RecordItem extends Node {
  /** `m = expr` names the column; otherwise the column is the source text */
  name?: string;
  nameSpan?: Span;
  value: Expr;
  /** the item's source text (column name when unnamed) */
  text: string;
}

export type Decl =
  | ({ kind: 'flow'; name: string; nameSpan: Span; title?: string } & Node)
  | ({ kind: 'let'; name: string; nameSpan: Span; value: Expr } & Node)
  | ({ kind: 'seed'; value: number; valueSpan: Span } & Node)
  | ({
      kind: 'measure';
      role: 'particles' | 'sample';
      name: string;
      nameSpan: Span;
      space: Space;
      source: MeasureSource;
    } & Node)
  | ({ kind: 'state'; name: string; nameSpan: Span; space: Space; init: Expr } & Node)
  /** `critic NAME in SPACE = EXPR [ascent(step = η, inner = K)]` */
  | ({ kind: 'critic'; name: string; nameSpan: Span; space: Space; init: Expr; ascent?: NamedArgs } & Node)
  | ({
      kind: 'model';
      name: string;
      nameSpan: Span;
      /** the measure pushed forward */
      measure: string;
      measureSpan: Span;
      map: Expr & { kind: 'lambda' };
      /** `logdensity(x) = EXPR` */
      logdensity?: { param: string; paramSpan: Span; body: Expr };
    } & Node)
  | ({
      kind: 'fn';
      role: 'fn' | 'kernel';
      name: string;
      nameSpan: Span;
      params: { name: string; span: Span }[];
      body: Expr;
    } & Node)
  | ({ kind: 'energy'; name: string; nameSpan: Span; body: Expr } & Node)
  /** `metric M(ARGS) [on MODEL]` */
  | ({ kind: 'metric'; name: string; nameSpan: Span; args?: NamedArgs; on?: { name: string; span: Span } } & Node)
  | ({ kind: 'scheme'; name: string; nameSpan: Span; args?: NamedArgs } & Node)
  | ({ kind: 'noise'; value: Expr } & Node)
  | ({ kind: 'diffusion'; value: Expr } & Node)
  | ({ kind: 'record'; every: Expr; items: RecordItem[] } & Node)
  | ({ kind: 'checkpoint'; every: Expr } & Node);

export interface Program {
  /** the file name used in diagnostics */
  file: string;
  decls: Decl[];
}

export type DeclKind = Decl['kind'];
export type DeclOf<K extends DeclKind> = Extract<Decl, { kind: K }>;
export type ExprOf<K extends Expr['kind']> = Extract<Expr, { kind: K }>;
