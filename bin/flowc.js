#!/usr/bin/env node
// The flowc command. The TypeScript sources are compiled into dist/ by
// `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// SIGINT and SIGTERM during start-up (loading the compiler takes a second or
// more) are held here for `flowc run`, which stops after its first step and
// keeps valid files; main() hands them over (src/cli/main.ts, earlySignal).
globalThis.flowcEarlySignal = { signal: undefined, handler: undefined };
globalThis.flowcEarlySignal.handler = (sig) => {
  if (globalThis.flowcEarlySignal.signal) process.exit(sig === 'SIGINT' ? 130 : 143);
  globalThis.flowcEarlySignal.signal = sig;
};
process.on('SIGINT', globalThis.flowcEarlySignal.handler);
process.on('SIGTERM', globalThis.flowcEarlySignal.handler);

const main = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('flowc: not built yet; run `npm run build` in the flowc folder first\n');
  process.exit(1);
}
const { main: run } = await import(main);
process.exitCode = await run(process.argv.slice(2));
