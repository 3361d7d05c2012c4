// Child of fuzz/run.ts: runs inputs FROM..END-1, one JSON line per input on stdout.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fuzzOne } from './harness.js';
import { fuzzInput } from './inputs.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const [from, end] = process.argv.slice(2).map(Number);
for (let k = from; k < end; k++) {
  process.stdout.write(JSON.stringify({ k, kind: 'start' }) + '\n');
  const { text, file } = fuzzInput(root, k);
  const o = await fuzzOne(text, file);
  process.stdout.write(JSON.stringify({ k, ...o }) + '\n');
}
