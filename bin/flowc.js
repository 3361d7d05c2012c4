#!/usr/bin/env node
// The flowc command. The TypeScript sources are compiled into dist/ by
// `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// One handler for SIGINT and SIGTERM for the whole life of the process, so
// that no signal ever meets the default action (death by the signal, no
// message, no checkpoint) once these lines have run. While flowc loads (a
// second or more), the first signal is held for `flowc run`, which stops after
// its first step and keeps valid files; main() installs `on` for the rest of
// a run (src/cli/main.ts, takeEarlySignals and catchSignals), and detaches it
// for the other commands, whose Ctrl-C must stop even a long compile at once.
// After main() returns, a signal ends the process at once with 130 / 143.
const exitCode = (sig) => (sig === 'SIGINT' ? 130 : 143);
const signals = (globalThis.flowcSignals = {
  early: undefined,
  on: undefined,
  attached: false,
  attach() {
    if (!signals.attached) for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, handler);
    signals.attached = true;
  },
  /** back to the default action, which ends even a long synchronous computation (a compile) at once */
  detach() {
    if (signals.attached) for (const sig of ['SIGINT', 'SIGTERM']) process.off(sig, handler);
    signals.attached = false;
  },
});
const handler = (sig) => {
  if (signals.on) return signals.on(sig);
  if (signals.early) process.exit(exitCode(sig));
  signals.early = sig;
};
signals.attach();
// A reader that stops early (`flowc compile --emit wasm | head`) closes the pipe: the
// rest of stdout is dropped and the command goes on (a run still writes its folder),
// with no stack trace for the EPIPE
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
  });
// `ps` and `top` show flowc and its arguments; fuzz/interrupt-trials.ts also
// reads it (/proc/PID/cmdline) to know that the handler above is in place
// (a signal before that, in node's own start-up, meets the default action).
process.title = ['flowc', ...process.argv.slice(2)].join(' ');

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
  const { runFiltered } = await dawnStderr();
  // the child runs in its own session and gets the signals runFiltered forwards; this process waits for it
  if (signals.early) process.exit(exitCode(signals.early));
  signals.on = () => {};
  process.exitCode = await runFiltered(fileURLToPath(import.meta.url), argv);
} else {
  if (process.env.FLOWC_DAWN_CHILD) (await dawnStderr()).childSide();
  let code;
  if (argv[0] === 'check' || argv[0] === 'compile') {
    // check and compile start from one bundle with V8's code cache (src/cli/fast-start.ts); like
    // every command but run, they end on a signal that came while they loaded (one turn of the event
    // loop lets a signal already delivered reach the handler), then get the default action back
    const { fastFront } = await import(fileURLToPath(new URL('../dist/src/cli/fast-start.js', import.meta.url)));
    await new Promise((resolve) => setImmediate(resolve));
    if (signals.early) process.exit(exitCode(signals.early));
    signals.detach();
    code = fastFront(argv);
  }
  if (code === undefined) {
    const { main: run } = await import(main);
    code = await run(argv);
  }
  process.exitCode = code;
}
signals.on = (sig) => process.exit(exitCode(sig));
signals.attach();
