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
const argv = process.argv.slice(2);
// Dawn (the gpu backend) writes log lines to fd 2 that Node cannot redirect
// in-process: a command that may load it runs in a child whose stderr is
// filtered (src/cli/dawn-stderr.ts; FLOWC_DAWN_LOG=show to see them)
const dawnStderr = () => import(fileURLToPath(new URL('../dist/src/cli/dawn-stderr.js', import.meta.url)));
const mayLoadDawn = argv[0] === 'doctor' || argv.some((a, i) => a.startsWith('--backend=gpu') || (a === '--backend' && (argv[i + 1] ?? '').startsWith('gpu')));
if (mayLoadDawn && !process.env.FLOWC_DAWN_CHILD && process.env.FLOWC_DAWN_LOG !== 'show') {
  for (const sig of ['SIGINT', 'SIGTERM']) process.off(sig, globalThis.flowcEarlySignal.handler);
  const { runFiltered } = await dawnStderr();
  process.exitCode = await runFiltered(fileURLToPath(import.meta.url), argv);
} else {
  if (process.env.FLOWC_DAWN_CHILD) (await dawnStderr()).childSide();
  const { main: run } = await import(main);
  process.exitCode = await run(argv);
}
