// Replay fuzzer inputs by number: npx tsx fuzz/replay.ts K... [--print]
// or saved ones (fuzz/run.ts writes DIR/crash-K.json): npx tsx fuzz/replay.ts --json FILE...
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fuzzOne } from './harness.js';
import { fuzzInput } from './inputs.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
if (args.includes('--json')) {
  for (const f of args.filter((a) => a.endsWith('.json'))) {
    const { text, file } = JSON.parse(fs.readFileSync(f, 'utf8')) as { text: string; file: string };
    if (args.includes('--print')) console.log(text);
    const t0 = Date.now();
    const o = await fuzzOne(text, path.isAbsolute(file) && fs.existsSync(path.dirname(file)) ? file : path.join(root, 'specs', path.basename(file)));
    console.log(f, JSON.stringify(o).slice(0, 400), `${Date.now() - t0} ms`);
  }
  process.exit(0);
}
for (const k of args.filter((a) => !a.startsWith('--')).map(Number)) {
  const { text, file } = fuzzInput(root, k);
  if (args.includes('--print')) console.log(text);
  const t0 = Date.now();
  const o = await fuzzOne(text, file);
  console.log(k, JSON.stringify(o).slice(0, 400), `${Date.now() - t0} ms`);
}
