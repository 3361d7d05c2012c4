// Syntax highlighting from the grammar's own tokens: the document is run
// through flowc's lexer (grammar/lexer.ts) and each token gets a class by
// its kind, so the colours follow the language exactly (a keyword is what
// the lexer calls a keyword, nothing else).

import { RangeSetBuilder } from '@codemirror/state';
import { Decoration, ViewPlugin, type DecorationSet, type EditorView, type ViewUpdate } from '@codemirror/view';
import { flowLexer, Identifier, keywords, NumberLiteral, StringLiteral, UnterminatedString, WhiteSpace } from '../../grammar/lexer.js';

const KEYWORDS = new Set(keywords.map((k) => k.name));

function tokenClass(name: string): string | undefined {
  if (KEYWORDS.has(name)) return 'tok-keyword';
  if (name === NumberLiteral.name) return 'tok-number';
  if (name === StringLiteral.name) return 'tok-string';
  if (name === UnterminatedString.name) return 'tok-invalid';
  if (name === Identifier.name || name === WhiteSpace.name) return undefined;
  return 'tok-operator';
}

const marks = new Map<string, Decoration>();
const mark = (cls: string) => marks.get(cls) ?? marks.set(cls, Decoration.mark({ class: cls })).get(cls)!;

function decorate(view: EditorView): DecorationSet {
  const builder = new RangeSetBuilder<Decoration>();
  const text = view.state.doc.toString();
  const { tokens, errors, groups } = flowLexer.tokenize(text);
  const spans: [number, number, string][] = [];
  for (const t of [...tokens, ...(groups.unterminated ?? [])]) {
    const cls = tokenClass(t.tokenType.name);
    if (cls) spans.push([t.startOffset, t.startOffset + t.image.length, cls]);
  }
  for (const e of errors) spans.push([e.offset, e.offset + e.length, 'tok-invalid']);
  // the lexer skips white space and comments: what is left between the spans, past white space, is a comment
  spans.sort((a, b) => a[0] - b[0]);
  const comments: [number, number, string][] = [];
  const COMMENT = /#[^\n\r]*/g;
  let at = 0;
  for (const [from, to] of [...spans, [text.length, text.length] as const]) {
    if (from > at) for (const m of text.slice(at, from).matchAll(COMMENT)) comments.push([at + m.index!, at + m.index! + m[0].length, 'tok-comment']);
    at = Math.max(at, to);
  }
  spans.push(...comments);
  spans.sort((a, b) => a[0] - b[0]);
  let last = 0;
  for (const [from, to, cls] of spans) {
    if (from < last || to <= from) continue;
    builder.add(from, to, mark(cls));
    last = to;
  }
  return builder.finish();
}

export const flowHighlight = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = decorate(view);
    }
    update(u: ViewUpdate) {
      if (u.docChanged) this.decorations = decorate(u.view);
    }
  },
  { decorations: (v) => v.decorations },
);
