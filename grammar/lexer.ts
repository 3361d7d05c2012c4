// Tokens of the .flow language (LANGUAGE.md, "Lexical rules").
//
// Keywords are reserved, but only as whole words: every keyword has
// `longer_alt: Identifier`, so `flows`, `Exp`, `E2` or `energyX` lex as
// identifiers. `R` is not a keyword: the parser reads spaces from the
// identifier `R`, and elsewhere `R` is an ordinary name.
//
// Every token the parser sees has a `label` (`'='`, `a name`, ...) for the parser's
// error messages.

import type { TokenType } from 'chevrotain';
import { createToken, Lexer } from './chevrotain.js';

// ---------------------------------------------------------------- skipped

export const WhiteSpace = createToken({
  name: 'WhiteSpace',
  pattern: /\s+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});

export const Comment = createToken({
  name: 'Comment',
  pattern: /#[^\n\r]*/,
  group: Lexer.SKIPPED,
});

// ---------------------------------------------------------------- literals

/**
 * A letter (any script) or `_`, then letters, digits, `_` or `'`.
 * A custom pattern because chevrotain rebuilds regex patterns with its own
 * flags and drops `u`, which `\p{L}` needs.
 */
const identifierRegex = /[\p{L}_][\p{L}\p{Nd}_']*/uy;
export const Identifier = createToken({
  name: 'Identifier',
  pattern: {
    exec(text: string, offset: number) {
      identifierRegex.lastIndex = offset;
      return identifierRegex.exec(text);
    },
  },
  line_breaks: false,
  label: 'a name',
});

/** `2`, `0.5`, `.5`, `1e-3`, `2.5E+4`; `2.` is the number 2 followed by a dot. */
export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: /(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?/,
  label: 'a number',
});

/** `"..."` on one line, no escapes (file paths and titles). */
export const StringLiteral = createToken({
  name: 'StringLiteral',
  pattern: /"[^"\n\r]*"/,
  label: 'a string',
});

/**
 * A `"` with no closing `"` on its line. Kept out of the parser's tokens
 * (group `unterminated`) and reported by parse(), which hands the parser a
 * string in its place, so the rest of the line does not cause further errors.
 */
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /"[^"\n\r]*/,
  group: 'unterminated',
});

// ---------------------------------------------------------------- keywords

function keyword(word: string): TokenType {
  const name = word === 'E' ? 'Expect' : word[0].toUpperCase() + word.slice(1);
  return createToken({ name, pattern: new RegExp(word), longer_alt: Identifier, label: `'${word}'` });
}

export const Flow = keyword('flow');
export const Let = keyword('let');
export const Seed = keyword('seed');
export const Particles = keyword('particles');
export const Sample = keyword('sample');
export const State = keyword('state');
export const Critic = keyword('critic');
export const Model = keyword('model');
export const Fn = keyword('fn');
export const Kernel = keyword('kernel');
export const Energy = keyword('energy');
export const Metric = keyword('metric');
export const Scheme = keyword('scheme');
export const Noise = keyword('noise');
export const Diffusion = keyword('diffusion');
export const Record = keyword('record');
export const Every = keyword('every');
export const Checkpoint = keyword('checkpoint');
export const In = keyword('in');
export const From = keyword('from');
/** `E` of `E[x ~ mu] ...` */
export const Expect = keyword('E');

export const keywords: TokenType[] = [
  Flow, Let, Seed, Particles, Sample, State, Critic, Model, Fn, Kernel, Energy,
  Metric, Scheme, Noise, Diffusion, Record, Every, Checkpoint, In, From, Expect,
];

// ---------------------------------------------------------------- punctuation

function punct(name: string, text: string, categories: TokenType[] = []): TokenType {
  const pattern = new RegExp(text.replace(/[.*+?^$()[\]|\\/]/g, '\\$&'));
  // (chevrotain chokes on an explicit `categories: undefined`)
  return createToken({ name, pattern, label: `'${text}'`, categories });
}

/** Category of `+` and binary `-`, so the CST keeps the operators of a sum in order. */
export const AdditiveOperator = createToken({ name: 'AdditiveOperator', pattern: Lexer.NA, label: "'+' or '-'" });
/** Category of `*` and `/`. */
export const MultiplicativeOperator = createToken({ name: 'MultiplicativeOperator', pattern: Lexer.NA, label: "'*' or '/'" });

export const Arrow = punct('Arrow', '=>');
export const LParen = punct('LParen', '(');
export const RParen = punct('RParen', ')');
export const LBracket = punct('LBracket', '[');
export const RBracket = punct('RBracket', ']');
export const Comma = punct('Comma', ',');
export const Colon = punct('Colon', ':');
export const Semicolon = punct('Semicolon', ';');
export const Tilde = punct('Tilde', '~');
/** `x != y` in `E[x ~ mu, y ~ mu, x != y]`: distinct pairs */
export const NotEqual = punct('NotEqual', '!=');
export const Equals = punct('Equals', '=');
export const Plus = punct('Plus', '+', [AdditiveOperator]);
export const Minus = punct('Minus', '-', [AdditiveOperator]);
export const Star = punct('Star', '*', [MultiplicativeOperator]);
export const Slash = punct('Slash', '/', [MultiplicativeOperator]);
export const Caret = punct('Caret', '^');
export const Bar = punct('Bar', '|');
export const Dot = punct('Dot', '.');

/** All token types, in matching order (the parser's vocabulary too). */
export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  ...keywords,
  Identifier,
  NumberLiteral, // before Dot: `.5` is a number
  StringLiteral,
  UnterminatedString, // after StringLiteral
  Arrow, // before Equals
  LParen, RParen, LBracket, RBracket, Comma, Colon, Semicolon, Tilde, NotEqual, Equals,
  AdditiveOperator, Plus, Minus,
  MultiplicativeOperator, Star, Slash,
  Caret, Bar, Dot,
];

/**
 * The lexer. parse() uses only the tokens' offsets and computes line/column
 * itself, with the same rule as spanAt (only `\n` ends a line).
 */
export const flowLexer = makeLexer(false);

/** `validate`: chevrotain's checks of the token definitions (skipped at start-up; test/parser.test.ts runs them). */
export function makeLexer(validate: boolean): InstanceType<typeof Lexer> {
  return new Lexer(allTokens, { skipValidations: !validate });
}
