// Materialise the measures of a flow: draw them from their distributions
// (counter-based RNG, stream "init:NAME") or read them from CSV files.

import type { FlowIR } from '../compiler/lower.js';
import type { Diagnostic } from '../compiler/diagnostics.js';
import { readPointsCsv } from './csv.js';
import { sampleMeasure } from './distributions.js';
import { purposeId } from './rng.js';
import { showType } from '../compiler/types.js';

export interface MeasureData {
  name: string;
  /** row-major size × dim */
  data: Float64Array;
  size: number;
  dim: number;
  /** a measure read from a file: the file as diagnostics name it and the sha256 of its bytes (run.json) */
  file?: { path: string; sha256: string };
}

export function loadMeasures(flow: FlowIR): { measures: MeasureData[]; warnings: Diagnostic[] } {
  const warnings: Diagnostic[] = [];
  const loaded = new Map<string, MeasureData>();
  const measures = flow.measures.map((m) => {
    if (m.source.kind === 'model') return m; // after the samples it pushes forward
    if (m.source.kind === 'dist') {
      const data = sampleMeasure(m.source.dist, m.source.count, m.dim, flow.seed, purposeId(`init:${m.name}`));
      return { name: m.name, data, size: m.source.count, dim: m.dim };
    }
    const csv = readPointsCsv({
      specFile: flow.file,
      specSpan: m.source.span,
      relPath: m.source.path,
      width: m.dim,
      columnNames: m.type.t === 'record' ? m.type.blocks.flatMap((b) => (b.size === 1 ? [b.name] : Array.from({ length: b.size }, (_, c) => `${b.name}[${c}]`))) : undefined,
      what: `${m.name} in ${m.type.t === 'scalar' ? 'R' : showType(m.type)}`,
    });
    warnings.push(...csv.warnings);
    return { name: m.name, data: csv.data, size: csv.rows, dim: m.dim, file: { path: csv.path, sha256: csv.sha256 } };
  });
  for (const m of measures) if ('data' in m) loaded.set(m.name, m);
  // a model's points are computed from the states (runtime/state-flow.ts); here they are zeros of the right size
  const out = measures.map((m): MeasureData => {
    if ('data' in m) return m;
    const base = loaded.get((m.source as { base: string }).base)!;
    return { name: m.name, data: new Float64Array(base.size * m.dim), size: base.size, dim: m.dim };
  });
  return { measures: out, warnings };
}
