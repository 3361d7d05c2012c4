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
  return `${where}: ${d.severity}: ${d.message}`;
}

/**
 * Render a diagnostic as the CLI prints it:
 *   spec.flow:3:12: error: unknown name 'sigmaa'
 *     3 | kernel k(x, y) = exp(-|x - y|^2 / sigmaa)
 *       |                                   ^^^^^^
 */
export function formatDiagnostic(d: Diagnostic, source?: string): string {
  const lines = [formatDiagnosticShort(d)];
  if (d.span && source !== undefined) {
    const srcLines = source.split(/\r?\n/);
    const text = srcLines[d.span.line - 1];
    if (text !== undefined) {
      const num = String(d.span.line);
      const pad = ' '.repeat(num.length);
      const width = Math.max(1, Math.min(d.span.end - d.span.start, text.length - (d.span.column - 1)));
      lines.push(`  ${num} | ${text}`);
      lines.push(`  ${pad} | ${' '.repeat(Math.max(0, d.span.column - 1))}${'^'.repeat(width)}`);
    }
  }
  for (const n of d.notes ?? []) lines.push(`  note: ${n}`);
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
