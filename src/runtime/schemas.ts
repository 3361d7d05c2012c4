// JSON Schemas of the JSON files flowc reads back: run.json (plot, report,
// --resume) and golden files (flowc test). A file that does not match is a
// diagnostic naming the file and the place in it (a JSON pointer, and the
// line when it can be found), never a crash further on.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { error, FlowError, type Span } from '../compiler/diagnostics.js';

const num = { type: 'number' } as const;
const nums = { type: 'array', items: num } as const;
/** JSON has no NaN or infinities: flowc writes them as strings */
const figure = { anyOf: [num, { type: 'string', enum: ['NaN', 'Infinity', '-Infinity'] }, { type: 'null' }] } as const;
const set = { type: 'object', additionalProperties: nums } as const;

export const RUN_JSON_SCHEMA = {
  type: 'object',
  required: ['flow', 'status', 'set', 'steps', 'measures'],
  properties: {
    flowc: { type: 'string' },
    spec: {
      anyOf: [
        { type: 'string' },
        { type: 'object', required: ['file', 'sha256', 'text'], properties: { file: { type: 'string' }, sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, text: { type: 'string' } } },
      ],
    },
    flow: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, title: { type: 'string' } } },
    status: { type: 'string', enum: ['running', 'ok', 'diverged', 'interrupted'] },
    seed: { type: 'integer' },
    set,
    constants: { type: 'object', additionalProperties: { anyOf: [num, nums] } },
    scheme: { type: 'object', required: ['name', 'step', 'steps'], properties: { name: { type: 'string' }, step: num, steps: { type: 'integer', minimum: 0 } } },
    steps: { type: 'integer', minimum: 0 },
    records: { type: 'integer', minimum: 0 },
    checkpoint_every: { type: 'integer', minimum: 0 },
    backend_request: { type: 'string' },
    precision_request: { enum: ['float64', 'float32'] },
    measures: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'role', 'points', 'dim'],
        properties: { name: { type: 'string' }, role: { enum: ['particles', 'sample', 'model'] }, points: { type: 'integer', minimum: 0 }, dim: { type: 'integer', minimum: 1 }, source: { type: 'string' } },
      },
    },
    data: { type: 'array', items: { type: 'object', required: ['measure', 'file', 'sha256'], properties: { measure: { type: 'string' }, file: { type: 'string' }, sha256: { type: 'string' } } } },
    files: { type: 'array', items: { type: 'string' } },
    final: { type: 'object', additionalProperties: figure },
  },
} as const;

export const GOLDEN_SCHEMA = {
  type: 'object',
  required: ['tolerance', 'set', 'status', 'steps', 'trace', 'final'],
  properties: {
    flowc: { type: 'string' },
    spec: { type: 'string' },
    backend: { type: 'string' },
    tolerance: { type: 'object', required: ['rtol', 'atol'], properties: { rtol: { type: 'number', minimum: 0 }, atol: { type: 'number', minimum: 0 } } },
    set,
    status: { type: 'string' },
    steps: { type: 'integer', minimum: 0 },
    trace: { type: 'object', required: ['columns', 'rows'], properties: { columns: { type: 'array', items: { type: 'string' } }, rows: { type: 'array', items: nums } } },
    final: {
      type: 'object',
      additionalProperties: { type: 'object', required: ['mean', 'std', 'first'], properties: { mean: nums, std: nums, first: { type: 'array', items: nums } } },
    },
  },
} as const;

export interface RunMetaJson {
  flowc?: string;
  spec?: string | { file: string; sha256: string; text: string };
  flow: { name: string; title?: string };
  status: 'running' | 'ok' | 'diverged' | 'interrupted';
  seed?: number;
  set: Record<string, number[]>;
  scheme: { name: string; step: number; steps: number };
  steps: number;
  records?: number;
  checkpoint_every?: number;
  backend_request?: string;
  precision_request?: 'float64' | 'float32';
  measures: { name: string; role: 'particles' | 'sample' | 'model'; points: number; dim: number; source?: string }[];
  data?: { measure: string; file: string; sha256: string }[];
  files?: string[];
}

// ajv is loaded on first use: commands that read no JSON file (check, compile) start without it
let ajv: InstanceType<typeof import('ajv').Ajv> | undefined;
const validators = new Map<object, ValidateFunction>();

/** The line and column of the value at a JSON pointer in `text` (the first key of the pointer's last segment after its parent's), or undefined. */
function locate(text: string, pointer: string): Span | undefined {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let at = 0;
  for (const p of parts) {
    if (/^\d+$/.test(p)) continue; // array index: stay at the array
    const key = JSON.stringify(p);
    const k = text.indexOf(key + ':', at) >= 0 ? text.indexOf(key + ':', at) : text.indexOf(key, at);
    if (k < 0) return undefined;
    at = k;
  }
  if (!parts.length) return undefined;
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return { start: at, end: at + 1, line, column: at - before.lastIndexOf('\n') };
}

function describe(e: ErrorObject): string {
  const where = e.instancePath || '(the top level)';
  if (e.keyword === 'required') return `${where}: '${(e.params as { missingProperty: string }).missingProperty}' is missing`;
  if (e.keyword === 'enum') return `${where}: ${e.message} (${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')})`;
  return `${where}: ${e.message}`;
}

/** Parse and validate a JSON file against `schema`; a mismatch is a located diagnostic ending with `hint`. */
export function readJsonFile<T>(file: string, schema: object, what: string, hint = ''): T {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new Error('not a regular file');
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new FlowError(error(file, undefined, `not ${what}: cannot read it (${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message})${hint}`));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FlowError(error(file, undefined, `not ${what}: invalid JSON (${(e as Error).message})${hint}`));
  }
  let validate = validators.get(schema);
  if (!validate) {
    ajv ??= new (createRequire(import.meta.url)('ajv') as typeof import('ajv')).Ajv({ allErrors: false, allowUnionTypes: true });
    validators.set(schema, (validate = ajv.compile(schema)));
  }
  if (!validate(value)) {
    const e = validate.errors![0];
    throw new FlowError(error(file, locate(text, e.instancePath), `not ${what}: ${describe(e)}${hint}`));
  }
  return value as T;
}

export function readRunJson(dir: string): RunMetaJson {
  return readJsonFile<RunMetaJson>(path.join(dir, 'run.json'), RUN_JSON_SCHEMA, 'a valid run.json');
}
