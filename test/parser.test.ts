// The front end: source text -> tokens -> CST -> AST (grammar/*.ts).

import { ROOT } from './helpers.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { printExpr } from '../grammar/cst-to-ast.js';
import { flowLexer, makeLexer } from '../grammar/lexer.js';
import { FlowParser, parse } from '../grammar/parser.js';
import type { Decl, DeclOf, Expr } from '../src/compiler/ast.js';
import { spanAt, type Span } from '../src/compiler/diagnostics.js';

/** Parse a source that must be free of errors; return its declarations. */
function decls(text: string): Decl[] {
  const { program, diagnostics } = parse(text, 'test.flow');
  expect(diagnostics).toEqual([]);
  return program!.decls;
}

function decl<K extends Decl['kind']>(text: string, kind: K): DeclOf<K> {
  const list = decls(text);
  expect(list).toHaveLength(1);
  expect(list[0].kind).toBe(kind);
  return list[0] as DeclOf<K>;
}

/** An expression, fully parenthesised. */
function expr(source: string): string {
  return printExpr(decl(`let z = ${source}`, 'let').value);
}

function messages(text: string): string[] {
  return parse(text, 'test.flow').diagnostics.map((d) => `${d.span?.line}:${d.span?.column}: ${d.message}`);
}

/** A span lies within the text and its line/column agree with its offset. */
function expectSpanWithin(span: Span, text: string): void {
  expect(span.start).toBeGreaterThanOrEqual(0);
  expect(span.end).toBeGreaterThanOrEqual(span.start);
  expect(span.end).toBeLessThanOrEqual(text.length);
  const lines = text.split('\n');
  expect(span.line).toBeGreaterThanOrEqual(1);
  expect(span.line).toBeLessThanOrEqual(lines.length);
  expect(span.column).toBeGreaterThanOrEqual(1);
  expect(span.column).toBeLessThanOrEqual(lines[span.line - 1].length + 1);
  expect(spanAt(text, span.start, span.end)).toEqual(span);
}

/** Every span of every node of an AST value. */
function* spans(value: unknown): Generator<Span> {
  if (Array.isArray(value)) for (const v of value) yield* spans(v);
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'span' || key.endsWith('Span')) yield v as Span;
      else yield* spans(v);
    }
  }
}

describe('lexer', () => {
  const kinds = (text: string) => flowLexer.tokenize(text).tokens.map((t) => `${t.tokenType.name}:${t.image}`);

  it('keeps keywords whole and lexes Unicode identifiers', () => {
    expect(kinds("flows Exp E2 energyX E inner in σ' β_2 θ")).toEqual([
      'Identifier:flows', 'Identifier:Exp', 'Identifier:E2', 'Identifier:energyX', 'Expect:E',
      'Identifier:inner', 'In:in', "Identifier:σ'", 'Identifier:β_2', 'Identifier:θ',
    ]);
  });

  it('tells numbers from dots', () => {
    expect(kinds('2 0.5 .5 1e-3 2.5E+4 u.theta v[0].w')).toEqual([
      'NumberLiteral:2', 'NumberLiteral:0.5', 'NumberLiteral:.5', 'NumberLiteral:1e-3', 'NumberLiteral:2.5E+4',
      'Identifier:u', 'Dot:.', 'Identifier:theta',
      'Identifier:v', 'LBracket:[', 'NumberLiteral:0', 'RBracket:]', 'Dot:.', 'Identifier:w',
    ]);
  });

  it('skips comments and newlines; R is an identifier', () => {
    expect(kinds('R^2 # a comment\n=> = "a.csv"')).toEqual([
      'Identifier:R', 'Caret:^', 'NumberLiteral:2', 'Arrow:=>', 'Equals:=', 'StringLiteral:"a.csv"',
    ]);
  });
});

describe('declarations', () => {
  it('flow, with and without a title', () => {
    expect(decl('flow demo "A title"', 'flow')).toMatchObject({ name: 'demo', title: 'A title' });
    expect(decl('flow demo', 'flow')).not.toHaveProperty('title');
  });

  it('let and seed', () => {
    expect(decl('let sigma = 0.5', 'let')).toMatchObject({ name: 'sigma', value: { kind: 'num', value: 0.5 } });
    expect(decl('seed 7', 'seed')).toMatchObject({ value: 7, valueSpan: { start: 5, end: 6 } });
  });

  it('particles and sample, from a distribution or a file', () => {
    const mu = decl('particles mu in R^2: 300 ~ normal([0, 0], 1)', 'measure');
    expect(mu).toMatchObject({ role: 'particles', name: 'mu', space: { kind: 'vec', dim: 2 } });
    expect(mu.source.kind).toBe('dist');
    if (mu.source.kind === 'dist') {
      expect(printExpr(mu.source.count)).toBe('300');
      expect(printExpr(mu.source.dist)).toBe('normal([0, 0], 1)');
    }
    const nu = decl('sample nu in R from "target.csv"', 'measure');
    expect(nu).toMatchObject({ role: 'sample', space: { kind: 'real' }, source: { kind: 'file', path: 'target.csv' } });
  });

  it('record spaces and record distributions', () => {
    const mu = decl('particles mu in (w: R, theta: R^2): 100 ~ (w: normal(0, 0.01), theta: sphere(1))', 'measure');
    expect(mu.space).toMatchObject({
      kind: 'record',
      blocks: [
        { name: 'w', space: { kind: 'real' } },
        { name: 'theta', space: { kind: 'vec', dim: 2 } },
      ],
    });
    if (mu.source.kind !== 'dist') throw new Error('expected a distribution');
    expect(mu.source.dist.kind).toBe('record');
    expect(printExpr(mu.source.dist)).toBe('(w: normal(0, 0.01), theta: sphere(1))');
  });

  it('state', () => {
    const s = decl('state theta in R^6 = [1, 0, 0, 1, 0, 0]', 'state');
    expect(s).toMatchObject({ name: 'theta', space: { kind: 'vec', dim: 6 } });
    expect(printExpr(s.init)).toBe('[1, 0, 0, 1, 0, 0]');
  });

  it('model, with and without a log-density', () => {
    const q = decl('model q = push(z, s => G(theta, s))', 'model');
    expect(q).toMatchObject({ name: 'q', measure: 'z', map: { kind: 'lambda', params: [{ name: 's' }], destructured: false } });
    expect(printExpr(q.map)).toBe('(s => G(theta, s))');
    // a record sample destructured, a record built
    const r = decl('model r = push(data, (z, y) => (x: h(theta, z), y: y))', 'model');
    expect(r.map).toMatchObject({ params: [{ name: 'z' }, { name: 'y' }], destructured: true });
    expect(printExpr(r.map)).toBe('((z, y) => (x: h(theta, z), y: y))');
    expect(q).not.toHaveProperty('logdensity');
    const p = decl('model p = push(z, s => theta + s) logdensity(x) = -|x - theta|^2 / 2', 'model');
    expect(p.logdensity?.param).toBe('x');
    expect(printExpr(p.logdensity!.body)).toBe('((-(|(x - theta)| ^ 2)) / 2)');
  });

  it('critic, with and without its ascent settings', () => {
    const psi = decl('critic psi in R^2 = [1, 0] ascent(step = 0.1, inner = 5)', 'critic');
    expect(psi).toMatchObject({ name: 'psi', space: { kind: 'vec', dim: 2 } });
    expect(psi.ascent?.args.map((a) => a.name)).toEqual(['step', 'inner']);
    expect(decl('critic psi in R^2 = [1, 0]', 'critic')).not.toHaveProperty('ascent');
  });

  it('metric ... on MODEL', () => {
    const m = decl('metric W2natural(eps = 1e-5, lambda = 1e-3, basis = 10; k) on q', 'metric');
    expect(m.on?.name).toBe('q');
    expect(decl('metric euclid', 'metric')).not.toHaveProperty('on');
  });

  it('fn and kernel, with any number of parameters', () => {
    const phi = decl('fn phi(u, x) = u.w * relu(dot(u.theta, x))', 'fn');
    expect(phi).toMatchObject({ role: 'fn', name: 'phi', params: [{ name: 'u' }, { name: 'x' }] });
    expect(printExpr(phi.body)).toBe('(u.w * relu(dot(u.theta, x)))');
    expect(decl('kernel k(x, y) = exp(-|x - y|^2)', 'fn')).toMatchObject({ role: 'kernel', name: 'k' });
    expect(decl('fn one() = 1', 'fn').params).toEqual([]);
  });

  it('energy', () => {
    const f = decl('energy F = 1/2 * mmd2(mu, nu; k)', 'energy');
    expect(f.name).toBe('F');
    expect(printExpr(f.body)).toBe('((1 / 2) * mmd2(mu, nu; k))');
  });

  it('metric, bare or with arguments before and after ;', () => {
    expect(decl('metric W2', 'metric')).not.toHaveProperty('args');
    const dab = decl('metric dab(alpha = 100, beta = 1; k)', 'metric');
    expect(dab.args).toMatchObject({
      args: [{ name: 'alpha', value: { kind: 'num', value: 100 } }, { name: 'beta' }],
      extra: [{ value: { kind: 'ident', name: 'k' } }],
    });
    expect(dab.args!.extra[0]).not.toHaveProperty('name');
    const wn = decl('metric W2natural(eps, lambda, basis; k)', 'metric');
    expect(wn.args!.args.map((a) => printExpr(a.value))).toEqual(['eps', 'lambda', 'basis']);
    expect(decl('metric WFR(a, b)', 'metric').args!.extra).toEqual([]);
    expect(decl('metric KL(eps)', 'metric').args!.args).toHaveLength(1);
  });

  it('scheme', () => {
    const s = decl('scheme jko(step=0.1, steps=10, inner = 50, tol = 1e-8)', 'scheme');
    expect(s.name).toBe('jko');
    expect(s.args!.args.map((a) => `${a.name}=${printExpr(a.value)}`)).toEqual([
      'step=0.1', 'steps=10', 'inner=50', 'tol=1e-8',
    ]);
  });

  it('noise and diffusion', () => {
    expect(printExpr(decl('noise 0.3 / sqrt(1 + n)', 'noise').value)).toBe('(0.3 / sqrt((1 + n)))');
    expect(printExpr(decl('diffusion 0', 'diffusion').value)).toBe('0');
  });

  it('record items, named or by their source text', () => {
    const r = decl('record every 20: F, m = mmd2(mu,  nu; k), E[x ~ mu] |x|^2, (a + b)', 'record');
    expect(printExpr(r.every)).toBe('20');
    expect(r.items.map((i) => [i.name, i.text])).toEqual([
      [undefined, 'F'],
      ['m', 'mmd2(mu,  nu; k)'],
      [undefined, 'E[x ~ mu] |x|^2'],
      [undefined, '(a + b)'],
    ]);
  });

  it('keeps declarations in source order over several lines', () => {
    const list = decls('flow a\nlet x =\n  1 +\n  2\nenergy F = x\nmetric W2\n');
    expect(list.map((d) => d.kind)).toEqual(['flow', 'let', 'energy', 'metric']);
    expect(list[1].span).toEqual({ start: 7, end: 24, line: 2, column: 1 });
  });

  it('R is an ordinary name outside spaces', () => {
    expect(printExpr(decl('energy F = R(mu) + E[x ~ mu] R', 'energy').body)).toBe('(R(mu) + (E[x ~ mu] R))');
  });
});

describe('expressions', () => {
  it.each([
    ['a + b - c', '((a + b) - c)'],
    ['a - b * c / d', '(a - ((b * c) / d))'],
    ['-a * b', '((-a) * b)'],
    ['--a', '(-(-a))'],
    ['-|x|^2', '(-(|x| ^ 2))'],
    ['-2^2', '(-(2 ^ 2))'],
    ['2^-1', '(2 ^ (-1))'],
    ['2^3^4', '(2 ^ (3 ^ 4))'],
    ['a^b * c', '((a ^ b) * c)'],
    ['v[0].w', 'v[0].w'],
    ['f(x)[1]', 'f(x)[1]'],
    ['u.theta[i + 1]', 'u.theta[(i + 1)]'],
    ['| |a| * b |', '|(|a| * b)|'],
    ['|a - |b||', '|(a - |b|)|'],
    ['|a| * |b|', '(|a| * |b|)'],
    ['(a + b) * c', '((a + b) * c)'],
    ['[a, -b, 2 * c]', '[a, (-b), (2 * c)]'],
    ['[]', '[]'],
    ['f()', 'f()'],
    ['normal(mean = 0, std = 1)', 'normal(mean = 0, std = 1)'],
    ['mixture([1, 1], normal([-2, 0], 0.3), normal([2, 0], 0.3))', 'mixture([1, 1], normal([(-2), 0], 0.3), normal([2, 0], 0.3))'],
    ['exp(-|x - y|^2 / (2 * sigma^2))', 'exp(((-(|(x - y)| ^ 2)) / (2 * (sigma ^ 2))))'],
  ])('%s', (source, printed) => {
    expect(expr(source)).toBe(printed);
  });

  describe('the grammar and the tokens pass chevrotain\'s validations (skipped at start-up)', () => {
  it('builds a validating lexer and parser without definition errors', () => {
    expect(() => makeLexer(true)).not.toThrow();
    expect(() => new FlowParser(true)).not.toThrow();
  });
});

describe('the body of E[...] is the product that follows it', () => {
    it.each([
      ['a * E[x~mu] b * c / d + e', '((a * (E[x ~ mu] ((b * c) / d))) + e)'],
      ['E[x~mu] V(x) + c * E[x~mu, y~mu] W(x, y)', '((E[x ~ mu] V(x)) + (c * (E[x ~ mu, y ~ mu] W(x, y))))'],
      ['E[u~mu] |u.w| * |u.theta|', '(E[u ~ mu] (|u.w| * |u.theta|))'],
      [
        '1/2 * E[x ~ data] (E[u ~ mu] phi(u, x) - target(x))^2',
        '((1 / 2) * (E[x ~ data] (((E[u ~ mu] phi(u, x)) - target(x)) ^ 2)))',
      ],
      ['-E[x~mu] V(x)', '(-(E[x ~ mu] V(x)))'],
      ['E[x~mu] a - b', '((E[x ~ mu] a) - b)'],
      ['E[x~mu] -a', '(E[x ~ mu] (-a))'],
      ['E[x~mu, y~mu, x!=y] -log(|x - y|) / 2 + 1', '((E[x ~ mu, y ~ mu, x != y] ((-log(|(x - y)|)) / 2)) + 1)'],
      ['E[x~mu] (a + b)', '(E[x ~ mu] (a + b))'],
      ['f(E[x~mu] a, b)', 'f((E[x ~ mu] a), b)'],
      ['|E[x~mu] x|^2', '(|(E[x ~ mu] x)| ^ 2)'],
      ['E[x~mu] E[y~nu] k(x, y) * 2 + 1', '((E[x ~ mu] (E[y ~ nu] (k(x, y) * 2))) + 1)'],
      ['E[(x, y) ~ data] (E[u ~ mu] phi(u, x) - y)^2', '(E[(x, y) ~ data] (((E[u ~ mu] phi(u, x)) - y) ^ 2))'],
    ])('%s', (source, printed) => {
      expect(expr(source)).toBe(printed);
    });

    it('records binders, destructured or not', () => {
      const e = decl("let z = E[(x, y) ~ data, x' ~ mu] 1", 'let').value as Expr & { kind: 'expect' };
      expect(e.binders).toMatchObject([
        { names: [{ name: 'x' }, { name: 'y' }], destructured: true, measure: 'data' },
        { names: [{ name: "x'" }], destructured: false, measure: 'mu' },
      ]);
    });
  });

  it('spans cover the source of each node, parentheses included', () => {
    const text = 'let z = (a + b) * c';
    const value = decl(text, 'let').value as Expr & { kind: 'binary' };
    expect(text.slice(value.span.start, value.span.end)).toBe('(a + b) * c');
    expect(text.slice(value.left.span.start, value.left.span.end)).toBe('(a + b)');
    for (const span of spans(value)) expectSpanWithin(span, text);
  });
});

describe('errors', () => {
  it('reports several syntax errors at once, keeping the good declarations', () => {
    const text = 'let a = )\nlet b = 2 +\nlet c = (1 + ) * 3\nenergy F = 1\n';
    const { program, diagnostics } = parse(text, 'bad.flow');
    expect(diagnostics.map((d) => `${d.span?.line}:${d.span?.column}: ${d.message}`)).toEqual([
      "1:9: expected an expression after '=' but found ')'",
      "3:1: expected an expression after '+' but found 'let'",
      "3:14: expected an expression after '+' but found ')'",
    ]);
    expect(diagnostics.every((d) => d.severity === 'error' && d.file === 'bad.flow')).toBe(true);
    expect(program?.decls.map((d) => d.kind)).toEqual(['energy']);
  });

  it('reports an unknown character with its line and column', () => {
    expect(messages('let a = 1\nlet b = 2 $ 3')).toEqual([
      "2:11: unexpected character '$'",
      "2:13: unexpected '3'; expected the start of a declaration (a keyword such as 'let', 'fn' or 'energy')",
    ]);
  });

  it('reports an unterminated string once', () => {
    expect(messages('flow a "title\nlet b = 1')).toEqual(['1:8: unterminated string (a string must end with " on the same line)']);
  });

  it('says "end of file" at the end', () => {
    expect(messages('let')).toEqual(["1:4: expected a name after 'let' but found end of file"]);
    expect(messages('record every 10:\n')).toEqual(["2:1: expected a record item after ':' but found end of file"]);
  });

  it('explains a statement that does not start with a keyword', () => {
    expect(messages('x = 1')).toEqual([
      "1:1: unexpected 'x'; expected the start of a declaration (a keyword such as 'let', 'fn' or 'energy')",
    ]);
  });

  it.each([
    ['particles mu in Q^2 from "a.csv"', "1:17: expected a space (R, R^d or (name: space, ...)) but found 'Q'"],
    ['state s in R^0 = 1', "1:14: the dimension d of R^d must be a positive integer, found '0'"],
    ['state s in (w: R, b: R^1.5) = 1', "1:24: the dimension d of R^d must be a positive integer, found '1.5'"],
    ['particles mu in R^2 "a.csv"', `1:21: expected ': N ~ DIST' or 'from "file.csv"' after '2' but found '"a.csv"'`],
    ['model q = pull(z, s => s)', "1:11: expected 'push' but found 'pull' (a model is push(MEASURE, z => EXPR))"],
    [
      'model q = push(z, s => s) density(x) = 0',
      "1:27: expected 'logdensity' but found 'density' (a model may end with logdensity(x) = EXPR)",
    ],
    ['seed 1.5', "1:6: the seed must be a non-negative integer, found '1.5'"],
    ['let a = E[x mu] 1', "1:13: expected '~' after 'x' but found 'mu'"],
    ['let a = E[] 1', "1:11: expected a binder such as 'x ~ mu' or '(x, y) ~ data' after '[' but found ']'"],
    ['fn f(a b) = 1', "1:8: expected ')' after 'a' but found 'b'"],
    ['metric W2(', "1:11: expected ')' after '(' but found end of file"],
    ['let E = 1', "1:5: expected a name after 'let' but found 'E' (a reserved word)"],
    ['let a = 1 +* 2', "1:12: expected an expression after '+' but found '*'"],
    ['record every 10: F,', "1:20: expected an expression after ',' but found end of file"],
  ])('%s', (text, message) => {
    expect(messages(text)).toEqual([message]);
  });

  it('reports input nested too deeply for the parser, and recovers', () => {
    const deep = parse(`let a = ${'('.repeat(5000)}1${')'.repeat(5000)}`, 'deep.flow');
    expect(deep.program).toBeUndefined();
    // located: at the bracket where the nesting is deepest
    expect(deep.diagnostics.map((d) => [d.message, d.span?.line, d.span?.column])).toEqual([
      ['the source is nested too deeply to parse: 5000 brackets open here; flowc parses up to a few hundred levels', 1, 5008],
    ]);
    const minus = parse(`let a = ${'- '.repeat(20000)}1`, 'deep.flow');
    expect(minus.diagnostics.map((d) => [d.message, d.span?.line, d.span?.column])).toEqual([['the source is nested too deeply to parse: 20000 operators in a row here', 1, 9]]);
    expect(decl('let a = ((1))', 'let').value).toMatchObject({ kind: 'num', value: 1 });
  });

  it('drops a declaration with a front-end error but keeps the others', () => {
    const { program, diagnostics } = parse('state s in R^0 = 1\nlet a = 1', 'x.flow');
    expect(diagnostics).toHaveLength(1);
    expect(program?.decls.map((d) => d.kind)).toEqual(['let']);
  });
});

describe('never throws', () => {
  const vocabulary = [
    'flow', 'let', 'seed', 'particles', 'sample', 'state', 'model', 'fn', 'kernel', 'energy', 'metric', 'scheme',
    'noise', 'diffusion', 'record', 'every', 'in', 'from', 'E', 'R', 'push', 'logdensity', 'x', 'mu', 'σ', "x'",
    '2', '0.5', '.5', '1e-3', '"f.csv"', '"', '=>', '(', ')', '[', ']', ',', ':', ';', '~', '=', '+', '-', '*', '/',
    '^', '|', '.', '#', '@', '\n', ' ',
  ];
  const tokenSoup = fc
    .array(fc.tuple(fc.constantFrom(...vocabulary), fc.constantFrom('', ' ', '\n', '\r\n')), { maxLength: 60 })
    .map((parts) => parts.map(([token, gap]) => token + gap).join(''));
  const mutatedExample = fc
    .tuple(fc.nat(), fc.nat(), fc.string({ maxLength: 3 }))
    .map(([at, cut, insert]) => {
      const base = 'flow a\nparticles mu in R^2: 10 ~ normal([0, 0], 1)\nenergy F = E[x ~ mu] |x|^2 / 2\nrecord every 1: F';
      const i = at % base.length;
      return base.slice(0, i) + insert + base.slice(i + (cut % 4));
    });

  function check(text: string): void {
    const { program, diagnostics } = parse(text, 'fuzz.flow');
    for (const d of diagnostics) {
      expect(d.message).not.toMatch(/internal parser error/);
      expect(d.span).toBeDefined();
      expectSpanWithin(d.span!, text);
    }
    if (program) for (const span of spans(program.decls)) expectSpanWithin(span, text);
  }

  it('on arbitrary Unicode text', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 80 }), check), { numRuns: 500 });
  });

  it('on random sequences of the language’s tokens', () => {
    fc.assert(fc.property(tokenSoup, check), { numRuns: 1500 });
  });

  it('on small edits of a valid spec', () => {
    fc.assert(fc.property(mutatedExample, check), { numRuns: 1000 });
  });
});

// The specs of the language's documentation and of the reference runs (in the
// shared folder beside the repository; the suite fails where it is absent).
const shared = join(ROOT, '..', 'shared');

describe('shared specs parse without diagnostics', () => {
  it('the shared folder is present', () => {
    expect(existsSync(join(shared, 'LANGUAGE.md')), `missing ${shared}/LANGUAGE.md: the contract folder must sit beside the repository`).toBe(true);
  });

  const expectClean = (text: string, file: string) => {
    const { program, diagnostics } = parse(text, file);
    expect(diagnostics).toEqual([]);
    expect(program!.decls[0].kind).toBe('flow');
    for (const span of spans(program!.decls)) expectSpanWithin(span, text);
  };

  it('the examples of LANGUAGE.md', () => {
    const doc = readFileSync(join(shared, 'LANGUAGE.md'), 'utf8');
    const examples = [...doc.matchAll(/```flow\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(examples.length).toBeGreaterThanOrEqual(3);
    examples.forEach((text, i) => expectClean(text, `LANGUAGE.md example ${i + 1}`));
  });

  it('the reference specs', () => {
    const dirs = readdirSync(join(shared, 'reference')).filter((d) => existsSync(join(shared, 'reference', d, 'spec.flow')));
    expect(dirs.length).toBeGreaterThanOrEqual(3);
    for (const dir of dirs) {
      const file = join(shared, 'reference', dir, 'spec.flow');
      expectClean(readFileSync(file, 'utf8'), file);
    }
  });

  it('the relu teacher energy has the documented shape', () => {
    const text = readFileSync(join(shared, 'reference', 'relu-teacher', 'spec.flow'), 'utf8');
    const energy = decls(text).find((d) => d.kind === 'energy') as DeclOf<'energy'>;
    expect(printExpr(energy.body)).toBe(
      '(((1 / 2) * (E[x ~ data] (((E[u ~ mu] phi(u, x)) - target(x)) ^ 2))) + (lambda * (E[u ~ mu] (|u.w| * |u.theta|))))',
    );
  });
});
