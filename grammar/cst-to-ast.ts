// CST (grammar/parser.ts, typed by the generated grammar/cst.d.ts) -> AST
// (src/compiler/ast.ts).
//
// After a syntax error, chevrotain's recovery leaves holes in the CST: nodes
// flagged `recoveredNode` with missing children, and tokens inserted by
// recovery (`isInsertedInRecovery`, no offsets). A declaration containing a
// hole is skipped (the parser has already reported the error); the others
// still become declarations. The few checks the grammar leaves to this stage
// (the words `R`, `push`, `logdensity`; integer dimensions and seeds) are
// reported as diagnostics and skip their declaration too.

import type { CstNode, IToken } from 'chevrotain';
import type { Arg, BinaryOp, Binder, Decl, Distinct, DeclOf, Expr, MeasureSource, NamedArgs, Program, RecordItem, Space } from '../src/compiler/ast.js';
import { error, type Diagnostic, type Span } from '../src/compiler/diagnostics.js';
import type * as C from './cst.js';

/** Line/column of offsets. Only `\n` ends a line, as in spanAt and formatDiagnostic. */
export class Locator {
  /** offset of the first character of each line */
  private readonly lineStarts: number[] = [0];
  readonly length: number;

  constructor(text: string) {
    this.length = text.length;
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  span(start: number, end: number): Span {
    // the last line starting at or before `start`
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= start) lo = mid;
      else hi = mid - 1;
    }
    return { start, end, line: lo + 1, column: start - this.lineStarts[lo] + 1 };
  }
}

/** From the start of `a` to the end of `b`. */
function join(a: Span, b: Span): Span {
  return { start: a.start, end: b.end, line: a.line, column: a.column };
}

/** Thrown to abandon the current declaration (its error is already reported). */
class Skip extends Error {}

/**
 * Build the Program from the CST of `text`. Declarations with holes (after a
 * syntax error) or with front-end errors are left out.
 */
export function toProgram(
  cst: C.ProgramCstNode | undefined,
  text: string,
  file: string,
): { program: Program; diagnostics: Diagnostic[] } {
  const builder = new AstBuilder(text, file);
  const decls: Decl[] = [];
  for (const node of cst?.children.declaration ?? []) {
    try {
      decls.push(builder.declaration(node));
    } catch (e) {
      if (!(e instanceof Skip)) throw e;
    }
  }
  return { program: { file, decls }, diagnostics: builder.diagnostics };
}

class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];
  private readonly locator: Locator;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {
    this.locator = new Locator(text);
  }

  // ---------------------------------------------------------------- holes and spans

  /** The children of a node, or Skip if recovery left the node incomplete. */
  private kids<N extends CstNode>(node: N): N['children'] {
    if (node.recoveredNode) throw new Skip();
    return node.children;
  }

  /** The single node of a child list; Skip if it is missing or incomplete. */
  private one<N extends CstNode>(list: N[] | undefined): N {
    const node = list?.[0];
    if (!node || node.recoveredNode) throw new Skip();
    return node;
  }

  /** A child list that the grammar requires to be non-empty; Skip if recovery left it empty. */
  private many<N extends CstNode>(list: N[] | undefined): N[] {
    if (!list || list.length === 0) throw new Skip();
    return list;
  }

  /** A real token of a child list; Skip if it is missing or was inserted by recovery. */
  private tok(list: IToken[] | undefined, index = 0): IToken {
    const token = list?.[index];
    if (!token || token.isInsertedInRecovery || Number.isNaN(token.startOffset)) throw new Skip();
    return token;
  }

  private tokSpan(token: IToken): Span {
    return this.locator.span(token.startOffset, (token.endOffset ?? token.startOffset) + 1);
  }

  /** The span of all of a node's tokens (needs nodeLocationTracking). */
  private nodeSpan(node: CstNode): Span {
    const loc = node.location;
    if (!loc || Number.isNaN(loc.startOffset) || loc.endOffset === undefined || Number.isNaN(loc.endOffset)) throw new Skip();
    return this.locator.span(loc.startOffset, loc.endOffset + 1);
  }

  /** Report an error and abandon the declaration. */
  private fail(span: Span, message: string): never {
    this.diagnostics.push(error(this.file, span, message));
    throw new Skip();
  }

  private name(list: IToken[] | undefined): { name: string; nameSpan: Span } {
    const token = this.tok(list);
    return { name: token.image, nameSpan: this.tokSpan(token) };
  }

  private number(token: IToken): number {
    const value = Number(token.image);
    if (!Number.isFinite(value)) this.fail(this.tokSpan(token), `the number '${token.image}' is too large`);
    return value;
  }

  /** The contents of a string literal (no escapes in the language). */
  private string(token: IToken): string {
    return token.image.slice(1, -1);
  }

  // ---------------------------------------------------------------- declarations

  declaration(node: C.DeclarationCstNode): Decl {
    const c = this.kids(node);
    if (c.flowDecl) return this.flowDecl(this.one(c.flowDecl));
    if (c.letDecl) return this.letDecl(this.one(c.letDecl));
    if (c.seedDecl) return this.seedDecl(this.one(c.seedDecl));
    if (c.measureDecl) return this.measureDecl(this.one(c.measureDecl));
    if (c.stateDecl) return this.stateDecl(this.one(c.stateDecl));
    if (c.criticDecl) return this.criticDecl(this.one(c.criticDecl));
    if (c.modelDecl) return this.modelDecl(this.one(c.modelDecl));
    if (c.fnDecl) return this.fnDecl(this.one(c.fnDecl));
    if (c.energyDecl) return this.energyDecl(this.one(c.energyDecl));
    if (c.metricDecl) return this.metricDecl(this.one(c.metricDecl));
    if (c.schemeDecl) return this.schemeDecl(this.one(c.schemeDecl));
    if (c.noiseDecl) return this.noiseDecl(this.one(c.noiseDecl));
    if (c.diffusionDecl) return this.diffusionDecl(this.one(c.diffusionDecl));
    if (c.checkpointDecl) return this.checkpointDecl(this.one(c.checkpointDecl));
    return this.recordDecl(this.one(c.recordDecl));
  }

  private checkpointDecl(node: C.CheckpointDeclCstNode): Decl {
    return { kind: 'checkpoint', every: this.expression(this.one(this.kids(node).every)), span: this.nodeSpan(node) };
  }

  private flowDecl(node: C.FlowDeclCstNode): Decl {
    const c = this.kids(node);
    const title = c.title ? { title: this.string(this.tok(c.title)) } : {};
    return { kind: 'flow', ...this.name(c.name), ...title, span: this.nodeSpan(node) };
  }

  private letDecl(node: C.LetDeclCstNode): Decl {
    const c = this.kids(node);
    return { kind: 'let', ...this.name(c.name), value: this.expression(this.one(c.expression)), span: this.nodeSpan(node) };
  }

  private seedDecl(node: C.SeedDeclCstNode): Decl {
    const c = this.kids(node);
    const token = this.tok(c.value);
    const value = this.number(token);
    if (!Number.isSafeInteger(value) || value < 0) {
      this.fail(this.tokSpan(token), `the seed must be a non-negative integer, found '${token.image}'`);
    }
    return { kind: 'seed', value, valueSpan: this.tokSpan(token), span: this.nodeSpan(node) };
  }

  private measureDecl(node: C.MeasureDeclCstNode): Decl {
    const c = this.kids(node);
    const role = this.tok(c.role).image === 'particles' ? 'particles' : 'sample';
    const { name, nameSpan } = this.name(c.name);
    const space = this.space(this.one(c.space));
    let source: MeasureSource;
    if (c.From) {
      const path = this.tok(c.path);
      source = { kind: 'file', path: this.string(path), span: join(this.tokSpan(this.tok(c.From)), this.tokSpan(path)) };
    } else {
      const count = this.expression(this.one(c.count));
      const dist = this.expression(this.one(c.dist));
      source = { kind: 'dist', count, dist, span: join(this.tokSpan(this.tok(c.Colon)), dist.span) };
    }
    return { kind: 'measure', role, name, nameSpan, space, source, span: this.nodeSpan(node) };
  }

  private stateDecl(node: C.StateDeclCstNode): Decl {
    const c = this.kids(node);
    return {
      kind: 'state',
      ...this.name(c.name),
      space: this.space(this.one(c.space)),
      init: this.expression(this.one(c.expression)),
      span: this.nodeSpan(node),
    };
  }

  private criticDecl(node: C.CriticDeclCstNode): Decl {
    const c = this.kids(node);
    const decl: DeclOf<'critic'> = {
      kind: 'critic',
      ...this.name(c.name),
      space: this.space(this.one(c.space)),
      init: this.expression(this.one(c.expression)),
      span: this.nodeSpan(node),
    };
    if (c.ascent) {
      const word = this.tok(c.ascent);
      if (word.image !== 'ascent') this.fail(this.tokSpan(word), `expected 'ascent(step = ..., inner = ...)' but found '${word.image}'`);
      const span = join(this.tokSpan(this.tok(c.LParen)), this.tokSpan(this.tok(c.RParen)));
      decl.ascent = { ...this.arguments(this.one(c.arguments)), span };
    }
    return decl;
  }

  private modelDecl(node: C.ModelDeclCstNode): Decl {
    const c = this.kids(node);
    const { name, nameSpan } = this.name(c.name);
    const push = this.tok(c.push);
    if (push.image !== 'push') {
      this.fail(this.tokSpan(push), `expected 'push' but found '${push.image}' (a model is push(MEASURE, z => EXPR))`);
    }
    const measure = this.name(c.measure);
    const lambdaNode = this.one(c.lambda);
    const l = this.kids(lambdaNode);
    const params = (l.params ?? []).map((_, i) => {
      const token = this.tok(l.params, i);
      return { name: token.image, span: this.tokSpan(token) };
    });
    const map: Expr & { kind: 'lambda' } = {
      kind: 'lambda',
      params,
      destructured: !!l.LParen,
      body: this.expression(this.one(l.expression)),
      span: this.nodeSpan(lambdaNode),
    };
    const decl: DeclOf<'model'> = { kind: 'model', name, nameSpan, measure: measure.name, measureSpan: measure.nameSpan, map, span: this.nodeSpan(node) };
    if (c.logdensity) {
      const d = this.kids(this.one(c.logdensity));
      const keyword = this.tok(d.keyword);
      if (keyword.image !== 'logdensity') {
        this.fail(this.tokSpan(keyword), `expected 'logdensity' but found '${keyword.image}' (a model may end with logdensity(x) = EXPR)`);
      }
      const p = this.name(d.param);
      decl.logdensity = { param: p.name, paramSpan: p.nameSpan, body: this.expression(this.one(d.expression)) };
    }
    return decl;
  }

  private fnDecl(node: C.FnDeclCstNode): Decl {
    const c = this.kids(node);
    const role = this.tok(c.role).image === 'kernel' ? 'kernel' : 'fn';
    const params = (c.params ?? []).map((_, i) => {
      const token = this.tok(c.params, i);
      return { name: token.image, span: this.tokSpan(token) };
    });
    return {
      kind: 'fn',
      role,
      ...this.name(c.name),
      params,
      body: this.expression(this.one(c.expression)),
      span: this.nodeSpan(node),
    };
  }

  private energyDecl(node: C.EnergyDeclCstNode): Decl {
    const c = this.kids(node);
    return { kind: 'energy', ...this.name(c.name), body: this.expression(this.one(c.expression)), span: this.nodeSpan(node) };
  }

  private metricDecl(node: C.MetricDeclCstNode): Decl {
    const c = this.kids(node);
    const decl: DeclOf<'metric'> = { kind: 'metric', ...this.name(c.name), ...this.declArgs(c), span: this.nodeSpan(node) };
    if (c.on) {
      const word = this.tok(c.on);
      if (word.image !== 'on') this.fail(this.tokSpan(word), `expected 'on MODEL' or the next declaration but found '${word.image}'`);
      const target = this.name(c.target);
      decl.on = { name: target.name, span: target.nameSpan };
    }
    return decl;
  }

  private schemeDecl(node: C.SchemeDeclCstNode): Decl {
    const c = this.kids(node);
    return { kind: 'scheme', ...this.name(c.name), ...this.declArgs(c), span: this.nodeSpan(node) };
  }

  /** The optional `(ARGS)` of a metric or scheme; its span includes the parentheses. */
  private declArgs(c: C.MetricDeclCstChildren | C.SchemeDeclCstChildren): { args?: NamedArgs } {
    if (!c.LParen) return {};
    const span = join(this.tokSpan(this.tok(c.LParen)), this.tokSpan(this.tok(c.RParen)));
    return { args: { ...this.arguments(this.one(c.arguments)), span } };
  }

  private noiseDecl(node: C.NoiseDeclCstNode): Decl {
    const c = this.kids(node);
    return { kind: 'noise', value: this.expression(this.one(c.expression)), span: this.nodeSpan(node) };
  }

  private diffusionDecl(node: C.DiffusionDeclCstNode): Decl {
    const c = this.kids(node);
    return { kind: 'diffusion', value: this.expression(this.one(c.expression)), span: this.nodeSpan(node) };
  }

  private recordDecl(node: C.RecordDeclCstNode): Decl {
    const c = this.kids(node);
    const every = this.expression(this.one(c.every));
    const items = this.many(c.recordItem).map((item) => this.recordItem(this.one([item])));
    return { kind: 'record', every, items, span: this.nodeSpan(node) };
  }

  private recordItem(node: C.RecordItemCstNode): RecordItem {
    const c = this.kids(node);
    const value = this.expression(this.one(c.expression));
    const text = this.text.slice(value.span.start, value.span.end);
    const named = c.name ? this.name(c.name) : {};
    return { ...named, value, text, span: this.nodeSpan(node) };
  }

  // ---------------------------------------------------------------- spaces

  private space(node: C.SpaceCstNode): Space {
    const c = this.kids(node);
    const span = this.nodeSpan(node);
    if (c.recordSpace) {
      const blocks = this.many(this.kids(this.one(c.recordSpace)).spaceBlock).map((blockNode) => {
        const b = this.kids(this.one([blockNode]));
        return { ...this.name(b.name), space: this.space(this.one(b.space)) };
      });
      return { kind: 'record', blocks, span };
    }
    const name = this.tok(c.name);
    if (name.image !== 'R') {
      this.fail(this.tokSpan(name), `expected a space (R, R^d or (name: space, ...)) but found '${name.image}'`);
    }
    if (!c.Caret) return { kind: 'real', span };
    const dimToken = this.tok(c.dim);
    const dim = this.number(dimToken);
    if (!Number.isSafeInteger(dim) || dim < 1) {
      this.fail(this.tokSpan(dimToken), `the dimension d of R^d must be a positive integer, found '${dimToken.image}'`);
    }
    return { kind: 'vec', dim, span };
  }

  // ---------------------------------------------------------------- arguments

  private arguments(node: C.ArgumentsCstNode): { args: Arg[]; extra: Arg[] } {
    const c = this.kids(node);
    return {
      args: c.args ? this.argList(this.one(c.args)) : [],
      extra: c.extra ? this.argList(this.one(c.extra)) : [],
    };
  }

  private argList(node: C.ArgListCstNode): Arg[] {
    return this.many(this.kids(node).argument).map((argNode) => {
      const a = this.kids(this.one([argNode]));
      const named = a.name ? this.name(a.name) : {};
      return { ...named, value: this.expression(this.one(a.expression)), span: this.nodeSpan(argNode) };
    });
  }

  // ---------------------------------------------------------------- expressions

  /** Fold `operand (op operand)*` to the left. */
  private leftFold<N extends CstNode>(list: N[] | undefined, operators: IToken[] | undefined, convert: (n: N) => Expr): Expr {
    const operands = this.many(list);
    const ops = operators ?? [];
    if (operands.length !== ops.length + 1) throw new Skip();
    let result = convert(this.one(operands));
    ops.forEach((_, i) => {
      const right = convert(this.one([operands[i + 1]]));
      const op = this.tok(ops, i).image as BinaryOp;
      result = { kind: 'binary', op, left: result, right, span: join(result.span, right.span) };
    });
    return result;
  }

  private expression(node: C.ExpressionCstNode): Expr {
    const c = this.kids(node);
    return this.leftFold(c.operands, c.operators, (n) => this.multiplicative(n));
  }

  private multiplicative(node: C.MultiplicativeCstNode): Expr {
    const c = this.kids(node);
    return this.leftFold(c.operands, c.operators, (n) => this.unary(n));
  }

  private unary(node: C.UnaryCstNode): Expr {
    const c = this.kids(node);
    if (c.Minus) return { kind: 'neg', operand: this.unary(this.one(c.unary)), span: this.nodeSpan(node) };
    if (c.expectation) return this.expectation(this.one(c.expectation));
    return this.power(this.one(c.power));
  }

  private expectation(node: C.ExpectationCstNode): Expr {
    const c = this.kids(node);
    const binders = (c.binder ?? []).map((b) => this.binder(this.one([b])));
    const distinct = (c.distinct ?? []).map((d) => this.distinct(this.one([d])));
    return {
      kind: 'expect',
      binders,
      ...(distinct.length ? { distinct } : {}),
      body: this.multiplicative(this.one(c.body)),
      span: this.nodeSpan(node),
    };
  }

  private distinct(node: C.DistinctCstNode): Distinct {
    const c = this.kids(node);
    const side = (list: IToken[] | undefined) => {
      const token = this.tok(list);
      return { name: token.image, span: this.tokSpan(token) };
    };
    return { left: side(c.left), right: side(c.right), span: this.nodeSpan(node) };
  }

  private binder(node: C.BinderCstNode): Binder {
    const c = this.kids(node);
    const names = (c.names ?? []).map((_, i) => {
      const token = this.tok(c.names, i);
      return { name: token.image, span: this.tokSpan(token) };
    });
    if (names.length === 0) throw new Skip();
    const measure = this.name(c.measure);
    return {
      names,
      destructured: c.LParen !== undefined,
      measure: measure.name,
      measureSpan: measure.nameSpan,
      span: this.nodeSpan(node),
    };
  }

  private power(node: C.PowerCstNode): Expr {
    const c = this.kids(node);
    const base = this.postfix(this.one(c.base));
    if (!c.Caret) return base;
    const exponent = this.unary(this.one(c.exponent));
    return { kind: 'binary', op: '^', left: base, right: exponent, span: join(base.span, exponent.span) };
  }

  private postfix(node: C.PostfixCstNode): Expr {
    const c = this.kids(node);
    let result = this.primary(this.one(c.primary));
    for (const suffixNode of c.suffix ?? []) {
      const s = this.kids(this.one([suffixNode]));
      const span = join(result.span, this.nodeSpan(suffixNode));
      if (s.Dot) {
        const field = this.name(s.field);
        result = { kind: 'field', base: result, field: field.name, fieldSpan: field.nameSpan, span };
      } else {
        result = { kind: 'index', base: result, index: this.expression(this.one(s.index)), span };
      }
    }
    return result;
  }

  private primary(node: C.PrimaryCstNode): Expr {
    const c = this.kids(node);
    if (c.NumberLiteral) {
      const token = this.tok(c.NumberLiteral);
      return { kind: 'num', value: this.number(token), span: this.tokSpan(token) };
    }
    if (c.nameOrCall) return this.nameOrCall(this.one(c.nameOrCall));
    if (c.norm) {
      const n = this.one(c.norm);
      return { kind: 'norm', operand: this.expression(this.one(this.kids(n).expression)), span: this.nodeSpan(n) };
    }
    if (c.vector) {
      const v = this.one(c.vector);
      const items = (this.kids(v).items ?? []).map((item) => this.expression(this.one([item])));
      return { kind: 'vector', items, span: this.nodeSpan(v) };
    }
    if (c.recordLiteral) {
      const r = this.one(c.recordLiteral);
      const fields = this.many(this.kids(r).recordField).map((fieldNode) => {
        const f = this.kids(this.one([fieldNode]));
        return { ...this.name(f.name), value: this.expression(this.one(f.expression)) };
      });
      return { kind: 'record', fields, span: this.nodeSpan(r) };
    }
    // A parenthesised expression: the node's span grows to include the parentheses,
    // so that spans (and record item texts) cover the source as written.
    const p = this.one(c.parenthesized);
    return { ...this.expression(this.one(this.kids(p).expression)), span: this.nodeSpan(p) };
  }

  private nameOrCall(node: C.NameOrCallCstNode): Expr {
    const c = this.kids(node);
    const { name, nameSpan } = this.name(c.name);
    if (!c.LParen) return { kind: 'ident', name, span: nameSpan };
    const { args, extra } = this.arguments(this.one(c.arguments));
    return { kind: 'call', callee: name, calleeSpan: nameSpan, args, extra, span: this.nodeSpan(node) };
  }
}

// ---------------------------------------------------------------- printing

/**
 * An expression as text with every operation parenthesised, e.g.
 * `((1 / 2) * (E[x ~ data] (phi(x) ^ 2)))`: for tests and debugging output.
 */
export function printExpr(e: Expr): string {
  const args = (list: Arg[]) => list.map((a) => (a.name === undefined ? '' : `${a.name} = `) + printExpr(a.value)).join(', ');
  switch (e.kind) {
    case 'num':
      return String(e.value);
    case 'ident':
      return e.name;
    case 'binary':
      return `(${printExpr(e.left)} ${e.op} ${printExpr(e.right)})`;
    case 'neg':
      return `(-${printExpr(e.operand)})`;
    case 'call':
      return `${e.callee}(${args(e.args)}${e.extra.length > 0 ? `; ${args(e.extra)}` : ''})`;
    case 'index':
      return `${printExpr(e.base)}[${printExpr(e.index)}]`;
    case 'field':
      return `${printExpr(e.base)}.${e.field}`;
    case 'norm':
      return `|${printExpr(e.operand)}|`;
    case 'vector':
      return `[${e.items.map(printExpr).join(', ')}]`;
    case 'record':
      return `(${e.fields.map((f) => `${f.name}: ${printExpr(f.value)}`).join(', ')})`;
    case 'expect': {
      const binders = e.binders.map((b) => {
        const names = b.names.map((n) => n.name).join(', ');
        return `${b.destructured ? `(${names})` : names} ~ ${b.measure}`;
      });
      for (const d of e.distinct ?? []) binders.push(`${d.left.name} != ${d.right.name}`);
      return `(E[${binders.join(', ')}] ${printExpr(e.body)})`;
    }
    case 'lambda':
      return `(${e.destructured ? `(${e.params.map((p) => p.name).join(', ')})` : e.params[0]?.name} => ${printExpr(e.body)})`;
  }
}
