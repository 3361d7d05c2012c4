// Replay fuzzer inputs by number: npx tsx fuzz/replay.ts K... [--print]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fuzzOne } from './harness.js';
import { fuzzInput } from './inputs.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
for (const k of args.filter((a) => !a.startsWith('--')).map(Number)) {
  const { text, file } = fuzzInput(root, k);
  if (args.includes('--print')) console.log(text);
  const t0 = Date.now();
  const o = await fuzzOne(text, file);
  console.log(k, JSON.stringify(o).slice(0, 400), `${Date.now() - t0} ms`);
}
