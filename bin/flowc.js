#!/usr/bin/env node
// The flowc command. The TypeScript sources are compiled into dist/ by
// `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('flowc: not built yet; run `npm run build` in the flowc folder first\n');
  process.exit(1);
}
const { main: run } = await import(main);
process.exitCode = await run(process.argv.slice(2));
