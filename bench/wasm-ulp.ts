// The measured error of every op's WebAssembly SIMD form against its JS
// evaluation (test/wasm-ulp.ts), in ulp and relative, as JSON.
//   npx tsx bench/wasm-ulp.ts
import { F32, F64 } from '../src/compiler/wasm-math.js';
import { OPS, type OpName } from '../src/compiler/ops.js';
import { ulpReport } from '../test/wasm-ulp.js';

const out: Record<string, Record<string, { maxUlp: number; maxRel: number }>> = {};
for (const t of [F64, F32]) {
  out[t.v] = {};
  for (const op of Object.keys(OPS) as OpName[]) out[t.v][op] = await ulpReport(op, t);
}
console.log(JSON.stringify(out, null, 1));
