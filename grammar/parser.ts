// The .flow grammar (LANGUAGE.md) as one chevrotain CstParser, and parse():
// source text -> tokens -> CST -> AST, with every lexer and parser error as a
// Diagnostic. Error recovery is on, so one run reports several syntax errors.
//
// Expression precedence, loosest first:
//   expression      sum:      a + b, a - b          (left associative)
//   multiplicative  product:  a * b, a / b          (left associative)
//   unary           -a  |  E[binders] product  |  power
//   power           postfix ^ unary                 (right associative; `-2^2` is -(2^2), `2^-1` is fine)
//   postfix         primary, then [index] and .field
//   primary         number, name, call, |norm|, [vector], (expr), (name: expr, ...)
// The body of `E[...]` is the product that follows it: it runs over `*` and
// `/` and stops at a binary `+`/`-`, a closing bracket, a comma or the end.

import type { IParserErrorMessageProvider, IRecognitionException, ISerializedGast, IToken, Rule, TokenType } from 'chevrotain';
import { CstParser, EOF, tokenLabel } from './chevrotain.js';
import type { Program } from '../src/compiler/ast.js';
import { error, type Diagnostic } from '../src/compiler/diagnostics.js';
import { Locator, toProgram } from './cst-to-ast.js';
import type { ProgramCstNode } from './cst.js';
import * as T from './lexer.js';

// ---------------------------------------------------------------- error messages

/** What a rule's alternation (OR) expects, in words, for "expected X but found Y". */
const ruleExpects: Record<string, string> = {
  measureDecl: `': N ~ DIST' or 'from "file.csv"'`,
  space: 'a space (R, R^d or (name: space, ...))',
  binder: "a binder such as 'x ~ mu' or '(x, y) ~ data'",
  expectation: "a binder such as 'x ~ mu' or '(x, y) ~ data'",
  unary: 'an expression',
};

/** What the first iteration of a rule's mandatory repetition expects. */
const repetitionExpects: Record<string, string> = {
  recordDecl: 'a record item',
  expectation: "a binder such as 'x ~ mu' or '(x, y) ~ data'",
  recordSpace: "a block such as 'w: R'",
  argList: 'an argument',
  binder: 'a name',
};

const topLevelHint = "expected the start of a declaration (a keyword such as 'let', 'fn' or 'energy')";

function found(token: IToken): string {
  return token.tokenType === EOF ? 'end of file' : `'${token.image}'`;
}

function after(previous: IToken | undefined): string {
  return previous && previous.tokenType !== EOF && previous.image !== '' ? ` after '${previous.image}'` : '';
}

/** `a name, '(' or '['`: the distinct first tokens of some grammar paths. */
function oneOf(paths: TokenType[][]): string {
  const labels = [...new Set(paths.filter((p) => p.length > 0).map((p) => tokenLabel(p[0])))];
  if (labels.length <= 1) return labels[0] ?? 'something else';
  return `${labels.slice(0, -1).join(', ')} or ${labels[labels.length - 1]}`;
}

const errorMessageProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, previous }) {
    // Expecting the end of input: junk between declarations (in-repetition recovery).
    if (expected === EOF) return `unexpected ${found(actual)}; ${topLevelHint}`;
    const reserved = expected === T.Identifier && T.keywords.includes(actual.tokenType) ? ' (a reserved word)' : '';
    return `expected ${tokenLabel(expected)}${after(previous)} but found ${found(actual)}${reserved}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `unexpected ${found(firstRedundant)}; ${topLevelHint}`;
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, previous, ruleName }) {
    const what = ruleExpects[ruleName] ?? oneOf(expectedPathsPerAlt.flat());
    return `expected ${what}${after(previous)} but found ${found(actual[0])}`;
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, previous, ruleName }) {
    const what = repetitionExpects[ruleName] ?? oneOf(expectedIterationPaths);
    return `expected ${what}${after(previous)} but found ${found(actual[0])}`;
  },
};

// ---------------------------------------------------------------- grammar

export class FlowParser extends CstParser {
  /**
   * `validate`: run chevrotain's grammar validations (ambiguities, left
   * recursion, ...). They cost most of the parser's start-up, so flowc skips
   * them; test/parser.test.ts builds a validating parser once.
   */
  constructor(validate = false) {
    super(T.allTokens, { recoveryEnabled: true, nodeLocationTracking: 'onlyOffset', errorMessageProvider, skipValidations: !validate });
    this.performSelfAnalysis();
  }

  program = this.RULE('program', () => {
    this.MANY(() => this.SUBRULE(this.declaration));
  });

  declaration = this.RULE('declaration', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.flowDecl) },
      { ALT: () => this.SUBRULE(this.letDecl) },
      { ALT: () => this.SUBRULE(this.seedDecl) },
      { ALT: () => this.SUBRULE(this.measureDecl) },
      { ALT: () => this.SUBRULE(this.stateDecl) },
      { ALT: () => this.SUBRULE(this.criticDecl) },
      { ALT: () => this.SUBRULE(this.modelDecl) },
      { ALT: () => this.SUBRULE(this.fnDecl) },
      { ALT: () => this.SUBRULE(this.energyDecl) },
      { ALT: () => this.SUBRULE(this.metricDecl) },
      { ALT: () => this.SUBRULE(this.schemeDecl) },
      { ALT: () => this.SUBRULE(this.noiseDecl) },
      { ALT: () => this.SUBRULE(this.diffusionDecl) },
      { ALT: () => this.SUBRULE(this.recordDecl) },
      { ALT: () => this.SUBRULE(this.checkpointDecl) },
    ]);
  });

  // flow NAME ["title"]
  flowDecl = this.RULE('flowDecl', () => {
    this.CONSUME(T.Flow);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => this.CONSUME(T.StringLiteral, { LABEL: 'title' }));
  });

  // let NAME = EXPR
  letDecl = this.RULE('letDecl', () => {
    this.CONSUME(T.Let);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  // seed INT
  seedDecl = this.RULE('seedDecl', () => {
    this.CONSUME(T.Seed);
    this.CONSUME(T.NumberLiteral, { LABEL: 'value' });
  });

  // particles|sample NAME in SPACE (: COUNT ~ DIST | from "file")
  measureDecl = this.RULE('measureDecl', () => {
    this.OR1([
      { ALT: () => this.CONSUME(T.Particles, { LABEL: 'role' }) },
      { ALT: () => this.CONSUME(T.Sample, { LABEL: 'role' }) },
    ]);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.In);
    this.SUBRULE(this.space);
    this.OR2([
      {
        ALT: () => {
          this.CONSUME(T.Colon);
          this.SUBRULE1(this.expression, { LABEL: 'count' });
          this.CONSUME(T.Tilde);
          this.SUBRULE2(this.expression, { LABEL: 'dist' });
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.From);
          this.CONSUME(T.StringLiteral, { LABEL: 'path' });
        },
      },
    ]);
  });

  // state NAME in SPACE = EXPR
  stateDecl = this.RULE('stateDecl', () => {
    this.CONSUME(T.State);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.In);
    this.SUBRULE(this.space);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  // critic NAME in SPACE = EXPR [ascent(ARGS)]   (`ascent` is an identifier; cst-to-ast checks the word)
  criticDecl = this.RULE('criticDecl', () => {
    this.CONSUME(T.Critic);
    this.CONSUME1(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.In);
    this.SUBRULE(this.space);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
    this.OPTION(() => {
      this.CONSUME2(T.Identifier, { LABEL: 'ascent' });
      this.CONSUME(T.LParen);
      this.SUBRULE(this.arguments);
      this.CONSUME(T.RParen);
    });
  });

  // model NAME = push(MEASURE, z => EXPR) [logdensity(x) = EXPR]
  // (`push` is an identifier; cst-to-ast checks the word)
  modelDecl = this.RULE('modelDecl', () => {
    this.CONSUME(T.Model);
    this.CONSUME1(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.Equals);
    this.CONSUME2(T.Identifier, { LABEL: 'push' });
    this.CONSUME(T.LParen);
    this.CONSUME3(T.Identifier, { LABEL: 'measure' });
    this.CONSUME(T.Comma);
    this.SUBRULE(this.lambda);
    this.CONSUME(T.RParen);
    this.OPTION(() => this.SUBRULE(this.logdensity));
  });

  // z => EXPR  |  (z, y) => EXPR   (a record point destructured into its blocks)
  lambda = this.RULE('lambda', () => {
    this.OR([
      { ALT: () => this.CONSUME1(T.Identifier, { LABEL: 'params' }) },
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.CONSUME2(T.Identifier, { LABEL: 'params' }) });
          this.CONSUME(T.RParen);
        },
      },
    ]);
    this.CONSUME(T.Arrow);
    this.SUBRULE(this.expression);
  });

  // logdensity(x) = EXPR  (`logdensity` is an identifier; cst-to-ast checks the word)
  logdensity = this.RULE('logdensity', () => {
    this.CONSUME1(T.Identifier, { LABEL: 'keyword' });
    this.CONSUME(T.LParen);
    this.CONSUME2(T.Identifier, { LABEL: 'param' });
    this.CONSUME(T.RParen);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  // fn|kernel NAME(a, b, ...) = EXPR
  fnDecl = this.RULE('fnDecl', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Fn, { LABEL: 'role' }) },
      { ALT: () => this.CONSUME(T.Kernel, { LABEL: 'role' }) },
    ]);
    this.CONSUME1(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.CONSUME2(T.Identifier, { LABEL: 'params' }) });
    this.CONSUME(T.RParen);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  // energy NAME = EXPR
  energyDecl = this.RULE('energyDecl', () => {
    this.CONSUME(T.Energy);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  // metric NAME [(ARGS)] [on MODEL]   (`on` is an identifier; cst-to-ast checks the word)
  metricDecl = this.RULE('metricDecl', () => {
    this.CONSUME(T.Metric);
    this.CONSUME1(T.Identifier, { LABEL: 'name' });
    this.OPTION1(() => {
      this.CONSUME(T.LParen);
      this.SUBRULE(this.arguments);
      this.CONSUME(T.RParen);
    });
    this.OPTION2(() => {
      this.CONSUME2(T.Identifier, { LABEL: 'on' });
      this.CONSUME3(T.Identifier, { LABEL: 'target' });
    });
  });

  // scheme NAME [(ARGS)]
  schemeDecl = this.RULE('schemeDecl', () => {
    this.CONSUME(T.Scheme);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.SUBRULE(this.arguments);
      this.CONSUME(T.RParen);
    });
  });

  // noise EXPR
  noiseDecl = this.RULE('noiseDecl', () => {
    this.CONSUME(T.Noise);
    this.SUBRULE(this.expression);
  });

  // diffusion EXPR
  diffusionDecl = this.RULE('diffusionDecl', () => {
    this.CONSUME(T.Diffusion);
    this.SUBRULE(this.expression);
  });

  // record every EXPR: ITEM, ...
  recordDecl = this.RULE('recordDecl', () => {
    this.CONSUME(T.Record);
    this.CONSUME(T.Every);
    this.SUBRULE(this.expression, { LABEL: 'every' });
    this.CONSUME(T.Colon);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.recordItem) });
  });

  // checkpoint every EXPR
  checkpointDecl = this.RULE('checkpointDecl', () => {
    this.CONSUME(T.Checkpoint);
    this.CONSUME(T.Every);
    this.SUBRULE(this.expression, { LABEL: 'every' });
  });

  // [NAME =] EXPR
  recordItem = this.RULE('recordItem', () => {
    this.OPTION(() => {
      this.CONSUME(T.Identifier, { LABEL: 'name' });
      this.CONSUME(T.Equals);
    });
    this.SUBRULE(this.expression);
  });

  // ---------------------------------------------------------------- spaces

  // R | R ^ NUMBER | (name: SPACE, ...)   (the word `R` is checked in cst-to-ast)
  space = this.RULE('space', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Identifier, { LABEL: 'name' });
          this.OPTION(() => {
            this.CONSUME(T.Caret);
            this.CONSUME(T.NumberLiteral, { LABEL: 'dim' });
          });
        },
      },
      { ALT: () => this.SUBRULE(this.recordSpace) },
    ]);
  });

  recordSpace = this.RULE('recordSpace', () => {
    this.CONSUME(T.LParen);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.spaceBlock) });
    this.CONSUME(T.RParen);
  });

  spaceBlock = this.RULE('spaceBlock', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.Colon);
    this.SUBRULE(this.space);
  });

  // ---------------------------------------------------------------- arguments

  // a, name = b, ... [; k, ...]   (of calls, metrics and schemes; may be empty)
  arguments = this.RULE('arguments', () => {
    this.OPTION1(() => this.SUBRULE1(this.argList, { LABEL: 'args' }));
    this.OPTION2(() => {
      this.CONSUME(T.Semicolon);
      this.SUBRULE2(this.argList, { LABEL: 'extra' });
    });
  });

  argList = this.RULE('argList', () => {
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.argument) });
  });

  // [NAME =] EXPR
  argument = this.RULE('argument', () => {
    this.OPTION(() => {
      this.CONSUME(T.Identifier, { LABEL: 'name' });
      this.CONSUME(T.Equals);
    });
    this.SUBRULE(this.expression);
  });

  // ---------------------------------------------------------------- expressions

  // sum: operands and operators kept in order (AdditiveOperator is a token category)
  expression = this.RULE('expression', () => {
    this.SUBRULE1(this.multiplicative, { LABEL: 'operands' });
    this.MANY(() => {
      this.CONSUME(T.AdditiveOperator, { LABEL: 'operators' });
      this.SUBRULE2(this.multiplicative, { LABEL: 'operands' });
    });
  });

  multiplicative = this.RULE('multiplicative', () => {
    this.SUBRULE1(this.unary, { LABEL: 'operands' });
    this.MANY(() => {
      this.CONSUME(T.MultiplicativeOperator, { LABEL: 'operators' });
      this.SUBRULE2(this.unary, { LABEL: 'operands' });
    });
  });

  unary = this.RULE('unary', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Minus);
          this.SUBRULE(this.unary);
        },
      },
      { ALT: () => this.SUBRULE(this.expectation) },
      { ALT: () => this.SUBRULE(this.power) },
    ]);
  });

  // E[x ~ mu, (a, b) ~ nu, x != y] PRODUCT
  expectation = this.RULE('expectation', () => {
    this.CONSUME(T.Expect);
    this.CONSUME(T.LBracket);
    this.AT_LEAST_ONE_SEP({
      SEP: T.Comma,
      // one token decides (`x != ...` or a binder), so that `E[x mu]` is reported as a binder missing its '~'
      DEF: () =>
        this.OR({
          MAX_LOOKAHEAD: 1,
          IGNORE_AMBIGUITIES: true,
          DEF: [
            { GATE: () => this.LA(2).tokenType === T.NotEqual, ALT: () => this.SUBRULE(this.distinct) },
            { ALT: () => this.SUBRULE(this.binder) },
          ],
        }),
    });
    this.CONSUME(T.RBracket);
    this.SUBRULE(this.multiplicative, { LABEL: 'body' });
  });

  // x != y: the two binders name different points (distinct pairs)
  distinct = this.RULE('distinct', () => {
    this.CONSUME1(T.Identifier, { LABEL: 'left' });
    this.CONSUME(T.NotEqual);
    this.CONSUME2(T.Identifier, { LABEL: 'right' });
  });

  // x ~ mu | (x, y) ~ data
  binder = this.RULE('binder', () => {
    this.OR([
      { ALT: () => this.CONSUME1(T.Identifier, { LABEL: 'names' }) },
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.CONSUME2(T.Identifier, { LABEL: 'names' }) });
          this.CONSUME(T.RParen);
        },
      },
    ]);
    this.CONSUME(T.Tilde);
    this.CONSUME3(T.Identifier, { LABEL: 'measure' });
  });

  // base ^ exponent, the exponent a unary: right associative, `2^-1` allowed
  power = this.RULE('power', () => {
    this.SUBRULE(this.postfix, { LABEL: 'base' });
    this.OPTION(() => {
      this.CONSUME(T.Caret);
      this.SUBRULE(this.unary, { LABEL: 'exponent' });
    });
  });

  postfix = this.RULE('postfix', () => {
    this.SUBRULE(this.primary);
    this.MANY(() => this.SUBRULE(this.suffix));
  });

  // [index] | .field
  suffix = this.RULE('suffix', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.LBracket);
          this.SUBRULE(this.expression, { LABEL: 'index' });
          this.CONSUME(T.RBracket);
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.Dot);
          this.CONSUME(T.Identifier, { LABEL: 'field' });
        },
      },
    ]);
  });

  primary = this.RULE('primary', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLiteral) },
      { ALT: () => this.SUBRULE(this.nameOrCall) },
      { ALT: () => this.SUBRULE(this.norm) },
      { ALT: () => this.SUBRULE(this.vector) },
      // `(name: ...` is a record, any other `(` a parenthesised expression (LL(3))
      { ALT: () => this.SUBRULE(this.recordLiteral) },
      { ALT: () => this.SUBRULE(this.parenthesized) },
    ]);
  });

  // NAME | NAME(ARGS)
  nameOrCall = this.RULE('nameOrCall', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.SUBRULE(this.arguments);
      this.CONSUME(T.RParen);
    });
  });

  // |EXPR|: the content is a full sum; a `|` after an operand always closes
  norm = this.RULE('norm', () => {
    this.CONSUME1(T.Bar);
    this.SUBRULE(this.expression);
    this.CONSUME2(T.Bar);
  });

  // [a, b, c]
  vector = this.RULE('vector', () => {
    this.CONSUME(T.LBracket);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.expression, { LABEL: 'items' }) });
    this.CONSUME(T.RBracket);
  });

  // (w: EXPR, theta: EXPR)
  recordLiteral = this.RULE('recordLiteral', () => {
    this.CONSUME(T.LParen);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.recordField) });
    this.CONSUME(T.RParen);
  });

  recordField = this.RULE('recordField', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.Colon);
    this.SUBRULE(this.expression);
  });

  parenthesized = this.RULE('parenthesized', () => {
    this.CONSUME(T.LParen);
    this.SUBRULE(this.expression);
    this.CONSUME(T.RParen);
  });
}

/** The one parser instance (chevrotain parsers are built once and reused). */
const parser = new FlowParser();

/** The grammar's rules, for `generateCstDts` (grammar/generate.ts). */
export function grammarProductions(): Record<string, Rule> {
  return parser.getGAstProductions();
}

/** The serialized grammar, for `createSyntaxDiagramsCode` (grammar/generate.ts). */
export function serializedGrammar(): ISerializedGast[] {
  return parser.getSerializedGastProductions();
}

// ---------------------------------------------------------------- parse()

export interface ParseResult {
  /**
   * The AST; undefined only after an internal error. When `diagnostics` has
   * errors it holds just the declarations that parsed cleanly: good for
   * tooling, not for compiling.
   */
  program: Program | undefined;
  /** lexer, parser and front-end errors, in source order */
  diagnostics: Diagnostic[];
}

/** Parse a .flow source text. Never throws: every failure is a diagnostic. */
export function parse(text: string, file: string): ParseResult {
  try {
    const locator = new Locator(text);
    const diagnostics: Diagnostic[] = [];

    const lexed = T.flowLexer.tokenize(text);
    for (const e of lexed.errors) {
      const bad = text.slice(e.offset, e.offset + e.length);
      const message = bad.length === 1 ? `unexpected character '${bad}'` : `unexpected characters '${bad}'`;
      diagnostics.push(error(file, locator.span(e.offset, e.offset + e.length), message));
    }
    for (const t of lexed.groups.unterminated ?? []) {
      const message = 'unterminated string (a string must end with " on the same line)';
      diagnostics.push(error(file, locator.span(t.startOffset, t.startOffset + t.image.length), message));
    }

    // An unterminated string stands in for the string the parser expects
    // there (a title, a file name), so that it causes no second error.
    const unterminated = (lexed.groups.unterminated ?? []).map((t) => ({ ...t, tokenType: T.StringLiteral, tokenTypeIdx: T.StringLiteral.tokenTypeIdx! }));
    parser.input = unterminated.length ? [...lexed.tokens, ...unterminated].sort((a, b) => a.startOffset - b.startOffset) : lexed.tokens;
    const cst = parser.program() as ProgramCstNode;
    const reported = new Set(unterminated.map((t) => t.startOffset));
    for (const e of parser.errors) if (!reported.has(e.token.startOffset)) diagnostics.push(syntaxDiagnostic(e, locator, file));

    const converted = toProgram(cst, text, file);
    diagnostics.push(...converted.diagnostics);
    return { program: converted.program, diagnostics: inSourceOrder(diagnostics) };
  } catch (e) {
    // Recursive descent: a thousand nested parentheses exhaust the JS stack.
    if (e instanceof RangeError) {
      const deepest = deepestBracket(text);
      const message =
        deepest.depth > 1
          ? `the source is nested too deeply to parse: ${deepest.depth} brackets open here; flowc parses up to a few hundred levels`
          : `the source is nested too deeply to parse: ${deepest.run} operators in a row here`;
      return { program: undefined, diagnostics: [error(file, deepest.span, message)] };
    }
    return { program: undefined, diagnostics: [error(file, undefined, `internal parser error: ${e instanceof Error ? e.message : String(e)}`)] };
  }
}

/** Where the brackets of `text` are nested deepest ('(' and '[' opened, not yet closed), for the "nested too deeply" diagnostic. */
function deepestBracket(text: string): { span: ReturnType<Locator['span']>; depth: number; run: number } {
  const tokens = T.flowLexer.tokenize(text).tokens;
  let depth = 0;
  let best = 0;
  let at = 0;
  // without brackets: the longest run of one repeated token (- - - 1, | | | x)
  let run = 0;
  let runAt = 0;
  for (let i = 0, k = 0; i < tokens.length; i = k) {
    for (k = i + 1; k < tokens.length && tokens[k].tokenType === tokens[i].tokenType; k++);
    if (k - i > run) [run, runAt] = [k - i, tokens[i].startOffset];
  }
  for (const t of tokens) {
    if (t.tokenType === T.LParen || t.tokenType === T.LBracket) {
      depth++;
      if (depth > best) [best, at] = [depth, t.startOffset];
    } else if (t.tokenType === T.RParen || t.tokenType === T.RBracket) depth = Math.max(0, depth - 1);
  }
  const where = best > 1 ? at : runAt;
  return { span: new Locator(text).span(where, where + 1), depth: best, run };
}

function syntaxDiagnostic(e: IRecognitionException, locator: Locator, file: string): Diagnostic {
  const token = e.token;
  // EOF and tokens inserted by recovery have no offsets: point at the end of the text
  const span = Number.isNaN(token.startOffset)
    ? locator.span(locator.length, locator.length)
    : locator.span(token.startOffset, (token.endOffset ?? token.startOffset) + 1);
  return error(file, span, e.message);
}

/** Sort by position (stable) and drop repeats of the same message at the same place. */
function inSourceOrder(diagnostics: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics
    .map((d, i) => ({ d, i }))
    .sort((a, b) => (a.d.span?.start ?? Infinity) - (b.d.span?.start ?? Infinity) || a.i - b.i)
    .map(({ d }) => d)
    .filter((d) => {
      const key = `${d.span?.start}:${d.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}
