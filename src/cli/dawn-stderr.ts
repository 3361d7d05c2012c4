// Dawn's log lines kept off the user's terminal (issue 11, item 7).
//
// Dawn (the npm package `webgpu`, native code) writes its own log lines
// straight to file descriptor 2, e.g. on Mesa
//   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to fit dynamic offset allocation limit.
// dawn.node offers no option to silence them (its create() flags are Dawn
// toggles, backend and adapter), and Node cannot redirect fd 2 of its own
// process (no dup2). So a command that may load Dawn (`--backend gpu...`,
// `flowc doctor`) runs flowc in a child process whose stderr is a pipe:
// bin/flowc.js starts it, and this module copies the child's stderr to ours,
// line by line, leaving out Dawn's lines (`Warning: `, `Info: `, `Debug: `
// at the start of a line; flowc's own messages never start so, and Dawn's
// `Error: ` lines still pass). FLOWC_DAWN_LOG=show turns the filter off.
//
// Partial lines (the progress bar redraws its line with \r) pass as soon as
// they cannot be the start of a Dawn line. The child is told that its stderr
// is a terminal when ours is (so the bar still shows). It runs in its own
// session (detached), so that a Ctrl-C, or a signal to our process group,
// reaches it once, forwarded by the parent, not twice (flowc run takes a
// second SIGINT as "stop at once").

import { spawn } from 'node:child_process';

/** The start of one of Dawn's log lines. */
export const DAWN_LINE = /^(Warning|Info|Debug): /;
const PREFIXES = ['Warning: ', 'Info: ', 'Debug: '];

/** Whether a command line may load Dawn: --backend gpu[:MODE] (either spelling), or flowc doctor. */
export function mayLoadDawn(argv: readonly string[]): boolean {
  return argv[0] === 'doctor' || argv.some((a, i) => a.startsWith('--backend=gpu') || (a === '--backend' && (argv[i + 1] ?? '').startsWith('gpu')));
}

/** A stream filter by lines: `push` text as it comes, `end` at the end; what `drop` rejects is left out (and kept in `dropped`). */
export function lineFilter(write: (s: string) => void, drop: (line: string) => boolean = (l) => DAWN_LINE.test(l)) {
  let pending = '';
  /** the current line was found not to be dropped and is being written as it comes */
  let passing = false;
  const dropped: string[] = [];
  const couldBeDropped = (partial: string) => PREFIXES.some((p) => p.startsWith(partial) || partial.startsWith(p));
  return {
    dropped,
    push(chunk: string): void {
      let s = chunk;
      while (s.length) {
        const nl = s.indexOf('\n');
        const piece = nl < 0 ? s : s.slice(0, nl + 1);
        s = nl < 0 ? '' : s.slice(nl + 1);
        if (passing) {
          write(piece);
          if (nl >= 0) passing = false;
          continue;
        }
        pending += piece;
        if (pending.endsWith('\n')) {
          if (drop(pending)) dropped.push(pending.trimEnd());
          else write(pending);
          pending = '';
        } else if (!couldBeDropped(pending)) {
          write(pending);
          pending = '';
          passing = true;
        }
      }
    },
    end(): void {
      if (pending && !drop(pending)) write(pending);
      else if (pending) dropped.push(pending);
      pending = '';
    },
  };
}

/** In the child: pretend stderr is the terminal the parent has. */
export function childSide(): void {
  const tty = process.env.FLOWC_DAWN_CHILD_TTY;
  if (tty) {
    const err = process.stderr as NodeJS.WriteStream & { isTTY: boolean; columns: number };
    err.isTTY = true;
    err.columns = Number(tty) || 80;
  }
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** In the parent: run `main` (bin/flowc.js) with `argv` in a child whose stderr is filtered; resolves to the exit code. */
export function runFiltered(main: string, argv: string[]): Promise<number> {
  return new Promise((resolve) => {
    const err = process.stderr;
    const child = spawn(process.execPath, [...process.execArgv, main, ...argv], {
      stdio: ['inherit', 'inherit', 'pipe'],
      detached: true,
      env: { ...process.env, FLOWC_DAWN_CHILD: '1', ...(err.isTTY ? { FLOWC_DAWN_CHILD_TTY: String(err.columns ?? 80) } : {}) },
    });
    const filter = lineFilter((s) => err.write(s));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => filter.push(s));
    const onSignal = (sig: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    };
    for (const sig of FORWARDED) process.on(sig, onSignal);
    child.on('close', (code, signal) => {
      filter.end();
      for (const sig of FORWARDED) process.off(sig, onSignal);
      resolve(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1));
    });
  });
}
