// Diagnostics: every user-facing failure of flowc is one of these, never a stack trace.
// A span is 1-based line/column plus 0-based offsets into the source text.

export interface Span {
  /** 0-based offset of the first character */
  start: number;
  /** 0-based offset one past the last character */
  end: number;
  /** 1-based line of `start` */
  line: number;
  /** 1-based column of `start` */
  column: number;
}

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  severity: Severity;
  message: string;
  /** file the span refers to (a .flow file, or a CSV file for data errors) */
  file: string;
  span?: Span;
  /** optional extra lines (e.g. "in a call of phi at 12:4") */
  notes?: string[];
}

/** Thrown by a stage that cannot continue; carries one or more diagnostics. */
export class FlowError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[] | Diagnostic) {
    const list = Array.isArray(diagnostics) ? diagnostics : [diagnostics];
    super(list.map((d) => formatDiagnosticShort(d)).join('\n'));
    this.name = 'FlowError';
    this.diagnostics = list;
  }
}

export function error(file: string, span: Span | undefined, message: string, notes?: string[]): Diagnostic {
  return { severity: 'error', message, file, span, notes };
}

export function formatDiagnosticShort(d: Diagnostic): string {
  const where = d.span ? `${d.file}:${d.span.line}:${d.span.column}` : d.file;
  const message = d.message.length > MAX_MESSAGE ? `${d.message.slice(0, MAX_MESSAGE)}… (${d.message.length - MAX_MESSAGE} more characters)` : d.message;
  return `${escapeControls(where)}: ${d.severity}: ${escapeControls(message)}`;
}

/** Longest message printed whole, and the widest window of a source line shown under it. */
const MAX_MESSAGE = 1000;
const WINDOW = 160;

/** A character as a terminal may show it: control characters, bidi overrides and BOMs escaped (\x07, \u202e), tabs as one space. */
function shown(ch: string): string {
  const c = ch.codePointAt(0)!;
  if (ch === '\t') return ' ';
  if (c < 0x20 || c === 0x7f) return `\\x${c.toString(16).padStart(2, '0')}`;
  if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c === 0xfeff || (c >= 0xd800 && c <= 0xdfff)) return `\\u${c.toString(16).padStart(4, '0')}`;
  return ch;
}

/** Text with its control characters escaped (newlines too: a diagnostic is one line). */
export function escapeControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]/.test(text) ? Array.from(text.split(''), shown).join('') : text;
}

/**
 * Render a diagnostic as the CLI prints it:
 *   spec.flow:3:12: error: unknown name 'sigmaa'
 *     3 | kernel k(x, y) = exp(-|x - y|^2 / sigmaa)
 *       |                                   ^^^^^^
 * A long line is shown as a window around the caret; control characters are escaped.
 */
export function formatDiagnostic(d: Diagnostic, source?: string): string {
  const lines = [formatDiagnosticShort(d)];
  if (d.span && source !== undefined) {
    const srcLines = source.split(/\r?\n/);
    const text = srcLines[d.span.line - 1];
    if (text !== undefined) {
      const num = String(d.span.line);
      const pad = ' '.repeat(num.length);
      const col = Math.min(d.span.column - 1, text.length);
      const width = Math.max(1, Math.min(d.span.end - d.span.start, text.length - col));
      const from = text.length > WINDOW ? Math.max(0, Math.min(col - 40, text.length - WINDOW)) : 0;
      const to = Math.min(text.length, from + WINDOW);
      const units = text.slice(from, to).split('');
      const before = units.slice(0, col - from).map(shown).join('');
      const marked = units.slice(col - from, Math.min(col - from + width, units.length)).map(shown).join('');
      const lead = from > 0 ? '…' : '';
      lines.push(`  ${num} | ${lead}${units.map(shown).join('')}${to < text.length ? '…' : ''}`);
      lines.push(`  ${pad} | ${' '.repeat(lead.length + before.length)}${'^'.repeat(Math.max(1, marked.length))}`);
    }
  }
  for (const n of d.notes ?? []) lines.push(`  note: ${escapeControls(n)}`);
  return lines.join('\n');
}

/** Compute a span from offsets in a source text. */
export function spanAt(source: string, start: number, end: number): Span {
  let line = 1;
  let col = 1;
  for (let i = 0; i < start && i < source.length; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      col = 1;
    } else col++;
  }
  return { start, end, line, column: col };
}
