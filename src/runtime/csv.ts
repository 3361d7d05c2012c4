// Reading point clouds from CSV: one point per row, comma-separated numbers.
//
// Accepted: an optional header (the first content line, if all its fields are
// column names and not all of them spell numbers), blank lines anywhere,
// comment lines starting with `#` (as numpy.savetxt writes its header),
// `\r\n` line endings, a UTF-8 byte-order mark, spaces or tabs around fields.
// Numbers are decimal float literals parsed by Number() (correctly rounded,
// so 17 significant digits round-trip exactly); hex, empty fields, NaN and
// infinities (written or by overflow, like 1e400) are errors.
//
// Path errors are reported at the spec (specFile / specSpan); content errors
// at the offending line and column of the CSV itself.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { error, FlowError, spanAt, type Diagnostic, type Span } from '../compiler/diagnostics.js';

export interface PointsCsvOptions {
  /** the .flow file that names the data file */
  specFile: string;
  /** span of the file name in the spec, for path errors */
  specSpan?: Span;
  /** the path as written in the spec, relative to the spec's folder */
  relPath: string;
  /** number of columns the space needs */
  width: number;
  /** column names of the space; a header that differs only draws a warning */
  columnNames?: string[];
  /** the space, for the width message: "the space of mu is R^3" */
  what?: string;
}

export interface PointsCsv {
  /** row-major rows × width */
  data: Float64Array;
  rows: number;
  /** the data file as diagnostics name it: the spec's folder joined with relPath */
  path: string;
  /** sha256 of the file's bytes (run.json's provenance) */
  sha256: string;
  /** e.g. a header whose names differ from columnNames */
  warnings: Diagnostic[];
}

/** One comma-separated field, trimmed; start/end are offsets in the file text. */
interface Field {
  text: string;
  start: number;
  end: number;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i;
const COLUMN_NAME = /^[\p{L}_][\p{L}\p{N}_.']*(\[\d+\])?$/u;

export function readPointsCsv(opts: PointsCsvOptions): PointsCsv {
  const { specFile, specSpan, relPath, width } = opts;
  const atSpec = (message: string) => new FlowError(error(specFile, specSpan, message));
  const specDir = path.dirname(specFile);
  const shown = path.join(specDir, relPath);
  const dirAbs = path.resolve(specDir);
  const fileAbs = path.resolve(dirAbs, relPath);

  const outside = () => atSpec(`data file "${relPath}" is outside the spec's folder`);
  if (path.isAbsolute(relPath) || !isInside(dirAbs, fileAbs)) throw outside();
  let text: string;
  let sha256: string;
  try {
    // Symlinks may point anywhere: compare the real paths too.
    if (!isInside(fs.realpathSync(dirAbs), fs.realpathSync(fileAbs))) throw outside();
    // Spans are offsets into the text without its byte-order mark, so that
    // columns count what an editor shows.
    // a FIFO or a device would block or never end: regular files only
    const st = fs.statSync(fileAbs);
    if (!st.isFile() && !st.isDirectory()) throw atSpec(`data file "${relPath}" is not a regular file (a FIFO, socket or device); flowc reads data from regular files only`);
    const bytes = fs.readFileSync(fileAbs);
    sha256 = createHash('sha256').update(bytes).digest('hex');
    text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  } catch (e) {
    if (e instanceof FlowError) throw e;
    throw atSpec(`cannot read data file "${relPath}": ${describeFsError(e)}`);
  }

  const at = (start: number, end: number, message: string, notes?: string[]) =>
    new FlowError(error(shown, spanAt(text, start, end), message, notes));

  const values: number[] = [];
  let header: { fields: Field[]; line: number } | undefined;
  let first: { count: number; line: number; start: number; end: number } | undefined;
  let line = 0;
  for (let pos = 0; pos <= text.length; ) {
    line++;
    const newline = text.indexOf('\n', pos);
    const next = newline < 0 ? text.length + 1 : newline + 1;
    let stop = newline < 0 ? text.length : newline;
    if (stop > pos && text.charCodeAt(stop - 1) === 13) stop--;
    const lineStart = pos;
    pos = next;

    const fields = splitFields(text, lineStart, stop);
    if (fields[0].text.startsWith('#') || (fields.length === 1 && fields[0].text === '')) continue;
    // Only the first content line may be a header.
    if (header === undefined && first === undefined && isHeader(fields)) {
      header = { fields, line };
      continue;
    }
    const rowStart = fields[0].start;
    const rowEnd = fields[fields.length - 1].end;
    if (first === undefined) {
      first = { count: fields.length, line, start: rowStart, end: rowEnd };
      if (header !== undefined && header.fields.length !== fields.length)
        throw at(
          header.fields[0].start,
          header.fields[header.fields.length - 1].end,
          `the header names ${header.fields.length} columns but row ${line} has ${fields.length} values`,
        );
    } else if (fields.length !== first.count) {
      throw at(rowStart, rowEnd, `row ${line} has ${fields.length} value${fields.length === 1 ? '' : 's'}, expected ${first.count}`, [
        `the column count is set by row ${first.line}, which has ${first.count}`,
      ]);
    }
    for (const f of fields) values.push(parseField(f, at));
  }

  if (first === undefined) {
    const message =
      header === undefined
        ? `data file "${relPath}" is empty (no data rows)`
        : `data file "${relPath}" has a header but no data rows`;
    throw at(0, 0, message);
  }
  if (first.count !== width) {
    const space = opts.what === undefined ? '' : ` (${opts.what})`;
    const notes = specSpan ? [`the file is read at ${specFile}:${specSpan.line}:${specSpan.column}`] : undefined;
    throw at(first.start, first.end, `expected ${width} columns${space} but the file has ${first.count}`, notes);
  }

  const warnings: Diagnostic[] = [];
  const names = opts.columnNames;
  if (header !== undefined && names !== undefined) {
    const got = header.fields.map((f) => f.text);
    if (got.length !== names.length || got.some((g, i) => g !== names[i])) {
      const h = header.fields;
      warnings.push({
        ...error(
          shown,
          spanAt(text, h[0].start, h[h.length - 1].end),
          `the header names the columns (${got.join(', ')}) but the space's columns are (${names.join(', ')}); columns are read by position`,
        ),
        severity: 'warning',
      });
    }
  }
  return { data: Float64Array.from(values), rows: values.length / width, path: shown, sha256: sha256!, warnings };
}

/** Whether `file` is `dir` or lies below it (both absolute, normalised). */
function isInside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel);
}

function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file';
  if (code === 'EISDIR') return 'it is a folder';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return e instanceof Error ? e.message : String(e);
}

/** Split text[start, stop) at commas, trimming spaces and tabs around each field. */
function splitFields(text: string, start: number, stop: number): Field[] {
  const fields: Field[] = [];
  let a = start;
  for (;;) {
    const comma = text.indexOf(',', a);
    const b = comma < 0 || comma >= stop ? stop : comma;
    let s = a;
    let e = b;
    while (s < e && isBlank(text.charCodeAt(s))) s++;
    while (e > s && isBlank(text.charCodeAt(e - 1))) e--;
    fields.push({ text: text.slice(s, e), start: s, end: e });
    if (b === stop) return fields;
    a = b + 1;
  }
}

function isBlank(ch: number): boolean {
  return ch === 32 || ch === 9;
}

/** All fields are names, and not all of them spell numbers (like `nan`, `inf`). */
function isHeader(fields: Field[]): boolean {
  return fields.every((f) => COLUMN_NAME.test(f.text)) && !fields.every((f) => NON_FINITE.test(f.text));
}

function parseField(f: Field, at: (start: number, end: number, message: string) => FlowError): number {
  if (f.text === '') throw at(f.start, f.end, 'empty field, expected a number');
  if (DECIMAL.test(f.text)) {
    const v = Number(f.text);
    if (Number.isFinite(v)) return v;
  } else if (!NON_FINITE.test(f.text)) {
    throw at(f.start, f.end, `'${f.text}' is not a number`);
  }
  throw at(f.start, f.end, `value '${f.text}' is not a finite number`);
}
