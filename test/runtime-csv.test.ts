import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FlowError, type Diagnostic, type Span } from '../src/compiler/diagnostics.js';
import { readPointsCsv, type PointsCsvOptions } from '../src/runtime/csv.js';

let root: string; // holds spec/ (the spec's folder) and a file outside it
let specDir: string;
let specFile: string;
const specSpan: Span = { start: 40, end: 47, line: 3, column: 24 };

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'flowc-csv-'));
  specDir = path.join(root, 'spec');
  fs.mkdirSync(path.join(specDir, 'data'), { recursive: true });
  specFile = path.join(specDir, 'model.flow');
  fs.writeFileSync(path.join(root, 'secret.csv'), '1,2,3\n');
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let counter = 0;
/** Write `text` to a fresh CSV in the spec's folder; return its relative path. */
function csv(text: string): string {
  const rel = `f${counter++}.csv`;
  fs.writeFileSync(path.join(specDir, rel), text);
  return rel;
}

function read(text: string, width: number, extra: Partial<PointsCsvOptions> = {}) {
  return readPointsCsv({ specFile, specSpan, relPath: csv(text), width, ...extra });
}

/** The single diagnostic of the FlowError that `f` throws. */
function diagnosticOf(f: () => unknown): Diagnostic {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(FlowError);
    const list = (e as FlowError).diagnostics;
    expect(list).toHaveLength(1);
    return list[0];
  }
  throw new Error('expected a FlowError');
}

/** Read `text` expecting an error; return message, the CSV-relative file check, line and column. */
function csvError(text: string, width: number, extra: Partial<PointsCsvOptions> = {}) {
  const relPath = csv(text);
  const d = diagnosticOf(() => readPointsCsv({ specFile, specSpan, relPath, width, ...extra }));
  expect(d.file).toBe(path.join(specDir, relPath));
  expect(d.severity).toBe('error');
  return { message: d.message, line: d.span?.line, column: d.span?.column, span: d.span, notes: d.notes };
}

describe('readPointsCsv: valid files', () => {
  it('reads rows of numbers, row-major', () => {
    const r = read('1,2,3\n4.5,-6e-1,+7\n', 3);
    expect(r.rows).toBe(2);
    expect([...r.data]).toEqual([1, 2, 3, 4.5, -0.6, 7]);
    expect(r.warnings).toEqual([]);
  });

  it('accepts CRLF, trailing and interior blank lines, spaces, tabs, a BOM and # comments', () => {
    const r = read('\uFEFF# written by numpy.savetxt\r\n 1 ,\t2\r\n\r\n  3,4  \r\n\r\n\r\n', 2);
    expect([...r.data]).toEqual([1, 2, 3, 4]);
    expect(r.rows).toBe(2);
  });

  it('accepts a file without a final newline', () => {
    expect([...read('1,2\n3,4', 2).data]).toEqual([1, 2, 3, 4]);
  });

  it('accepts a header naming the columns', () => {
    const r = read('w, theta0, theta1\n0.1, 1, 0\n', 3, { columnNames: ['w', 'theta0', 'theta1'] });
    expect([...r.data]).toEqual([0.1, 1, 0]);
    expect(r.warnings).toEqual([]);
    expect([...read('x,theta[1],u.w\n1,2,3\n', 3).data]).toEqual([1, 2, 3]);
  });

  it('tolerates a header that differs from the column names, with a warning', () => {
    const r = read('a,b\n1,2\n', 2, { columnNames: ['x', 'y'] });
    expect([...r.data]).toEqual([1, 2]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0].severity).toBe('warning');
    expect(r.warnings[0].message).toBe(
      "the header names the columns (a, b) but the space's columns are (x, y); columns are read by position",
    );
    expect(r.warnings[0].span?.line).toBe(1);
  });

  it('round-trips 17 significant digits exactly', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 30 }), (xs) => {
        // toPrecision drops the sign of -0; the reader keeps it
        const show = (x: number) => (Object.is(x, -0) ? '-0.0' : x.toPrecision(17));
        const r = read(xs.map((x) => `${show(x)}\n`).join(''), 1);
        expect(r.rows).toBe(xs.length);
        xs.forEach((x, i) => expect(Object.is(r.data[i], x)).toBe(true));
      }),
      { numRuns: 50 },
    );
    const r = read('0.10000000000000001,2.2250738585072014e-308,4.9406564584124654e-324,1.7976931348623157e308\n', 4);
    expect([...r.data]).toEqual([0.1, 2.2250738585072014e-308, 5e-324, Number.MAX_VALUE]);
  });

  it('names the file relative to the spec as the spec was named', () => {
    const relSpec = path.relative(process.cwd(), specFile); // e.g. ../../tmp/flowc-csv-XXXX/spec/model.flow
    const good = csv('1\n');
    const r = readPointsCsv({ specFile: relSpec, relPath: `data/../${good}`, width: 1 });
    expect(r.path).toBe(path.join(path.dirname(relSpec), good));
    expect(path.isAbsolute(r.path)).toBe(false);
    const bad = csv('x\n1\ny\n');
    const d = diagnosticOf(() => readPointsCsv({ specFile: relSpec, relPath: bad, width: 1 }));
    expect(d.file).toBe(path.join(path.dirname(relSpec), bad));
    expect(d.span?.line).toBe(3);
  });

  it('reads files in subfolders of the spec folder', () => {
    fs.writeFileSync(path.join(specDir, 'data', 'pts.csv'), '5,6\n');
    const r = readPointsCsv({ specFile, relPath: 'data/pts.csv', width: 2 });
    expect([...r.data]).toEqual([5, 6]);
    expect(r.path).toBe(path.join(specDir, 'data', 'pts.csv'));
  });
});

describe('readPointsCsv: path errors, reported at the spec', () => {
  function specError(relPath: string) {
    const d = diagnosticOf(() => readPointsCsv({ specFile, specSpan, relPath, width: 3 }));
    expect(d.file).toBe(specFile);
    expect(d.span).toEqual(specSpan);
    return d.message;
  }

  it('rejects a path that leaves the folder', () => {
    expect(specError('../secret.csv')).toBe(`data file "../secret.csv" is outside the spec's folder`);
    expect(specError('data/../../secret.csv')).toBe(`data file "data/../../secret.csv" is outside the spec's folder`);
    const abs = path.join(root, 'secret.csv');
    expect(specError(abs)).toBe(`data file "${abs}" is outside the spec's folder`);
  });

  it('rejects a symlink that resolves outside the folder', () => {
    fs.symlinkSync(path.join(root, 'secret.csv'), path.join(specDir, 'link.csv'));
    expect(specError('link.csv')).toBe(`data file "link.csv" is outside the spec's folder`);
  });

  it('reports a missing file, or a folder', () => {
    expect(specError('x.csv')).toBe('cannot read data file "x.csv": no such file');
    expect(specError('data')).toBe('cannot read data file "data": it is a folder');
  });
});

describe('readPointsCsv: content errors, reported in the CSV', () => {
  it('rejects an empty file, or one with only blank lines', () => {
    for (const text of ['', '\n\n', '  \r\n']) {
      const e = csvError(text, 2);
      expect(e.message).toMatch(/^data file "f\d+\.csv" is empty \(no data rows\)$/);
      expect([e.line, e.column]).toEqual([1, 1]);
    }
  });

  it('rejects a header without data rows', () => {
    expect(csvError('x,y\n', 2).message).toMatch(/^data file "f\d+\.csv" has a header but no data rows$/);
  });

  it('rejects a ragged row at its line', () => {
    const e = csvError('1,2,3\n4,5,6\n  7,8\n9,10,11\n', 3);
    expect(e.message).toBe('row 3 has 2 values, expected 3');
    expect([e.line, e.column]).toEqual([3, 3]);
    expect(e.notes).toEqual(['the column count is set by row 1, which has 3']);
    expect(csvError('a,b,c\n1,2,3\n\n4,5,6,7\n', 3).message).toBe('row 4 has 4 values, expected 3');
  });

  it('rejects a header whose column count differs from the rows', () => {
    const e = csvError('x,y\n1,2,3\n', 3);
    expect(e.message).toBe('the header names 2 columns but row 2 has 3 values');
    expect([e.line, e.column]).toEqual([1, 1]);
  });

  it('rejects a non-numeric field at its column', () => {
    const e = csvError('1,2,3\n1.0, abc, 3\n', 3);
    expect(e.message).toBe("'abc' is not a number");
    expect([e.line, e.column]).toEqual([2, 6]);
    expect(e.span!.end - e.span!.start).toBe(3);
    expect(csvError('1,2\n0x10,1\n', 2).message).toBe("'0x10' is not a number");
    expect(csvError('1,2\n1_000,1\n', 2).message).toBe("'1_000' is not a number");
    // a name on a later line is not a header
    expect(csvError('1,2\nx,y\n', 2).message).toBe("'x' is not a number");
  });

  it('rejects an empty field', () => {
    const e = csvError('1,2,3\r\n1,,3\r\n', 3);
    expect(e.message).toBe('empty field, expected a number');
    expect([e.line, e.column]).toEqual([2, 3]);
  });

  it('rejects NaN and infinite values, written or by overflow', () => {
    const cases: [string, string, number][] = [
      ['1,nan\n', 'nan', 3],
      ['1, NaN\n', 'NaN', 4],
      ['inf,1\n', 'inf', 1],
      ['1,-Infinity\n', '-Infinity', 3],
      ['1,1e400\n', '1e400', 3],
      ['nan,nan\n', 'nan', 1], // number-like names do not make a header
    ];
    for (const [text, field, column] of cases) {
      const e = csvError(text, 2);
      expect(e.message).toBe(`value '${field}' is not a finite number`);
      expect([e.line, e.column]).toEqual([1, column]);
    }
  });

  it('reports the width expected by the space', () => {
    const e = csvError('\n1,2\n3,4\n', 3, { what: 'the space of mu is R^3' });
    expect(e.message).toBe('expected 3 columns (the space of mu is R^3) but the file has 2');
    expect([e.line, e.column]).toEqual([2, 1]);
    expect(e.notes).toEqual([`the file is read at ${specFile}:3:24`]);
    expect(csvError('1,2\n', 1).message).toBe('expected 1 columns but the file has 2');
  });

  it('columns count the BOM-free text of line 1', () => {
    const e = csvError('\uFEFF1,x\n', 2);
    expect([e.line, e.column]).toEqual([1, 3]);
  });
});
