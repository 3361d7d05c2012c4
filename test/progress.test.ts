// The progress bar: only on a terminal, only after a second, never with
// --quiet; it shows steps, steps/s, ETA and the energy, and clears itself.
// Unit tests on a fake terminal, then the real binary under a pseudo-terminal
// (util-linux `script`) and through a pipe.

import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createProgress, type ProgressStream } from '../src/cli/progress.js';
import { BIN, tempDir } from './helpers.js';

function fakeTerminal(isTTY = true): ProgressStream & { text: () => string } {
  const chunks: string[] = [];
  return { isTTY, columns: 100, write: (s: string | Uint8Array) => (chunks.push(String(s)), true), text: () => chunks.join('') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('createProgress', () => {
  it('shows nothing when the stream is not a terminal, or when quiet', () => {
    expect(createProgress({ stream: fakeTerminal(false), energy: 'F' })).toBeUndefined();
    expect(createProgress({ stream: fakeTerminal(), energy: 'F', quiet: true, term: 'xterm' })).toBeUndefined();
  });

  it('shows nothing on a terminal that cannot move the cursor (TERM=dumb)', () => {
    expect(createProgress({ stream: fakeTerminal(), energy: 'F', delayMs: 0, term: 'dumb' })).toBeUndefined();
    expect(createProgress({ stream: fakeTerminal(), energy: 'F', delayMs: 0, term: 'xterm' })).toBeDefined();
  });

  it('shows nothing during the first second', () => {
    const tty = fakeTerminal();
    const p = createProgress({ stream: tty, energy: 'F', term: 'xterm' })!;
    for (let s = 1; s <= 100; s++) p.onStep(s, 100, 0.5);
    p.stop();
    expect(tty.text()).toBe('');
  });

  it('shows steps done, steps per second, the ETA and the energy, then clears its line', async () => {
    const tty = fakeTerminal();
    const p = createProgress({ stream: tty, energy: 'F', delayMs: 0, term: 'xterm' })!;
    p.onStep(1, 200, 0.25);
    await sleep(250);
    p.onStep(50, 200, 0.0123456);
    const shown = tty.text();
    expect(shown).toMatch(/1\/200 steps · [\d.e+]+ steps\/s · ETA \S+ · F 0\.2500/);
    expect(shown).toMatch(/50\/200 steps · [\d.]+ steps\/s · ETA \d+s · F 0\.01235/);
    expect(shown).toContain('█');
    p.stop();
    // the line is erased (ESC [2K) so that what follows starts clean
    expect(tty.text().endsWith('\x1b[2K')).toBe(true);
  });
});

// ~2 s of steps: long enough for the bar (shown after 1 s) on any machine
const SLOW = `flow slow
seed 1
particles mu in R^2: 300 ~ normal([0, 0], 1)
sample nu in R^2: 300 ~ normal([2, 0], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 0.2, steps = 1000)
record every 100: F
`;

function sh(file: string, args: string[], cwd: string, term = 'xterm'): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(file, args, { cwd, encoding: 'utf8', env: { ...process.env, TERM: term } }, (e, stdout, stderr) => resolve({ code: e ? Number(e.code) : 0, stdout, stderr })),
  );
}

describe('flowc run and the progress bar', () => {
  it('draws on a terminal, never through a pipe, with --quiet or on TERM=dumb', async () => {
    const dir = tempDir({ 'slow.flow': SLOW });
    // `script` runs the command on a pseudo-terminal and copies what it shows
    const onTerminal = (extra: string, term?: string) => sh('script', ['-qec', `'${process.execPath}' '${BIN}' run slow.flow --force ${extra}`, '/dev/null'], dir, term);
    const [tty, quiet, piped, dumb] = await Promise.all([
      onTerminal('--out a'),
      onTerminal('--out b --quiet'),
      sh(process.execPath, [BIN, 'run', 'slow.flow', '--out', 'c'], dir),
      onTerminal('--out d', 'dumb'),
    ]);
    expect(dumb.code).toBe(0);
    expect(dumb.stdout).toContain('flowc slow');
    expect(dumb.stdout).not.toContain('steps/s');

    expect(tty.code).toBe(0);
    expect(tty.stdout).toMatch(/\d+\/1000 steps · [\d.]+ steps\/s · ETA \d+s · F 0\.\d+/);
    // the bar is erased before the summary
    expect(tty.stdout).toMatch(/\x1b\[2Kflowc slow\r?\n/);

    expect(quiet).toEqual({ code: 0, stdout: '', stderr: '' });

    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
    expect(piped.stdout).not.toContain('steps/s');
  });
});
