// The progress bar of `flowc run` (cli-progress), on stderr only:
//
//   [██████████░░░░░░░░░░] 1200/2400 steps · 812 steps/s · ETA 2s · F 0.00342
//
// It appears only when the stream is a terminal and the run has lasted more
// than a second, so short runs, pipes, files and `--quiet` never see it; it
// clears its line when the run ends, leaving the summary alone.

import cliProgress from 'cli-progress';

/** The part of a write stream the bar needs (a TTY's stderr, or a fake one in tests). */
export type ProgressStream = Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean; columns?: number };

export interface ProgressOptions {
  stream?: ProgressStream;
  /** the energy's name, shown before its latest recorded value */
  energy: string;
  /** no bar before the run has lasted this long (ms) */
  delayMs?: number;
  /** the terminal type (default: $TERM); 'dumb' gets no bar */
  term?: string;
}

export interface Progress {
  /** the `onStep` hook of a run: steps done, steps in all, the latest recorded energy */
  onStep(step: number, steps: number, energy?: number): void;
  /** clear the bar (if it was shown) */
  stop(): void;
}

/** A bar for one run, or undefined when nothing may be shown (not a terminal, or quiet). */
export function createProgress(options: ProgressOptions & { quiet?: boolean }): Progress | undefined {
  const stream = options.stream ?? process.stderr;
  // TERM=dumb: a terminal that cannot move the cursor (an editor's shell, a CI log) gets no bar
  if (options.quiet || !stream.isTTY || (options.term ?? process.env.TERM) === 'dumb') return undefined;
  const delay = options.delayMs ?? 1000;
  const start = performance.now();
  let bar: cliProgress.SingleBar | undefined;
  let lastUpdate = 0;
  return {
    onStep(step, steps, energy) {
      const now = performance.now();
      // updates at most 10 times a second: a step may take microseconds
      if (now - start < delay || (now - lastUpdate < 100 && step < steps)) return;
      lastUpdate = now;
      const payload = {
        rate: (step / (Math.max(now - start, 1) / 1000)).toPrecision(3),
        energy: energy === undefined ? '' : ` · ${options.energy} ${energy.toPrecision(4)}`,
      };
      if (!bar) {
        bar = new cliProgress.SingleBar({
          stream: stream as NodeJS.WriteStream,
          format: '{bar} {value}/{total} steps · {rate} steps/s · ETA {eta_formatted}{energy}',
          barsize: Math.max(10, Math.min(30, (stream.columns ?? 80) - 70)),
          barCompleteChar: '█',
          barIncompleteChar: '░',
          clearOnComplete: true,
          // leave the terminal's settings alone, so that Ctrl-C never leaves it changed
          linewrap: true,
          hideCursor: false,
          etaBuffer: 20,
        });
        bar.start(steps, step, payload);
      } else bar.update(step, payload);
    },
    stop() {
      bar?.stop();
    },
  };
}
