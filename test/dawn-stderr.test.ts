// Dawn's log lines stay off the user's terminal (issue 11, item 7;
// src/cli/dawn-stderr.ts): the line filter, which commands run filtered, a
// child writing to fd 2 directly (as native code does) through runFiltered,
// and a real run on the gpu backend (webgpu through Dawn) through the binary.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DAWN_LINE, lineFilter, mayLoadDawn } from '../src/cli/dawn-stderr.js';
import { flowc, ROOT, tempDir } from './helpers.js';
import { execFileSync } from 'node:child_process';

const DAWN = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to fit dynamic offset allocation limit.\n';

describe('the line filter', () => {
  it("drops Dawn's lines and keeps flowc's, whatever the chunks", () => {
    const text = `${DAWN}s.flow: warning: F rose from 1 to 2\nInfo: adapter\nError: device lost\n[=====     ] 50/100 steps\r[======    ] 60/100\nflowc: done\n`;
    // every way of cutting the text into two or three chunks gives the same output
    for (let i = 0; i <= text.length; i += 7)
      for (let j = i; j <= text.length; j += 11) {
        let out = '';
        const f = lineFilter((s) => (out += s));
        for (const chunk of [text.slice(0, i), text.slice(i, j), text.slice(j)]) f.push(chunk);
        f.end();
        expect(out).toBe('s.flow: warning: F rose from 1 to 2\nError: device lost\n[=====     ] 50/100 steps\r[======    ] 60/100\nflowc: done\n');
        expect(f.dropped).toEqual([DAWN.trimEnd(), 'Info: adapter']);
      }
  });

  it('passes a partial line (a progress bar) at once unless it may still become a Dawn line', () => {
    let out = '';
    const f = lineFilter((s) => (out += s));
    f.push('\r[===   ] 30/100');
    expect(out).toBe('\r[===   ] 30/100');
    f.push('Warn');
    // the line began with the bar: not a Dawn line, so it goes on passing
    expect(out).toBe('\r[===   ] 30/100Warn');
    f.push('\nWarn');
    expect(out).toBe('\r[===   ] 30/100Warn\n');
    f.push('ing: x\n');
    expect(out).toBe('\r[===   ] 30/100Warn\n');
  });

  it('runs filtered exactly the commands that may load Dawn', () => {
    expect(mayLoadDawn(['run', 's.flow', '--backend', 'gpu'])).toBe(true);
    expect(mayLoadDawn(['run', 's.flow', '--backend=gpu:webgpu'])).toBe(true);
    expect(mayLoadDawn(['sweep', 's.flow', '--backend', 'gpu:webasm', '--grid', 'a=1,2'])).toBe(true);
    expect(mayLoadDawn(['doctor'])).toBe(true);
    expect(mayLoadDawn(['run', 's.flow', '--backend', 'cpu'])).toBe(false);
    expect(mayLoadDawn(['check', 's.flow'])).toBe(false);
    expect(DAWN_LINE.test('s.flow: warning: x')).toBe(false);
  });
});

describe('runFiltered', () => {
  it("leaves out what a child writes to fd 2 in Dawn's format, keeps the rest and the exit code", () => {
    const dir = tempDir({
      'child.mjs': `import fs from 'node:fs';
fs.writeSync(2, ${JSON.stringify(DAWN)});
process.stderr.write('child: a message of its own\\n');
fs.writeSync(2, 'Info: something\\n');
process.stdout.write('out\\n');
process.exitCode = 3;
`,
      'parent.mjs': `import { runFiltered } from ${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'dawn-stderr.js'))};
process.exitCode = await runFiltered(process.argv[2], []);
`,
    });
    let r: { status: number | null; stdout: string; stderr: string };
    try {
      execFileSync(process.execPath, [path.join(dir, 'parent.mjs'), path.join(dir, 'child.mjs')], { encoding: 'utf8', stdio: 'pipe' });
      throw new Error('expected exit code 3');
    } catch (e) {
      r = e as { status: number | null; stdout: string; stderr: string };
    }
    expect([r.status, r.stdout, r.stderr]).toEqual([3, 'out\n', 'child: a message of its own\n']);
  });
});

describe('a run on the gpu backend (webgpu through Dawn)', () => {
  it("prints flowc's summary and no Dawn line; FLOWC_DAWN_LOG=show lets Dawn's through", () => {
    const dir = tempDir({
      's.flow': `flow dawn_quiet
seed 1
particles mu in R^2: 64 ~ normal([0, 0], 1)
sample nu in R^2: 64 ~ normal([2, 0], 0.5)
kernel k(x, y) = exp(-|x - y|^2 / 2)
energy F = 1/2 * mmd2(mu, nu; k)
scheme euler(step = 1, steps = 5)
record every 5: F
`,
    });
    const r = flowc(['run', 's.flow', '--backend', 'gpu:webgpu', '--out', 'o'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('backend    gpu:webgpu (float32)');
    expect(r.stderr.split('\n').filter((l) => DAWN_LINE.test(l))).toEqual([]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'o', 'run.json'), 'utf8')).status).toBe('ok');
    // unfiltered, the same run: whatever Dawn printed here is what the filter took out
    const shown = flowc(['run', 's.flow', '--backend', 'gpu:webgpu', '--out', 'o', '--force', '--quiet'], { cwd: dir, env: { FLOWC_DAWN_LOG: 'show' } });
    expect(shown.code).toBe(0);
    const dawn = shown.stderr.split('\n').filter((l) => l.length);
    expect(dawn.every((l) => DAWN_LINE.test(l)), shown.stderr).toBe(true);
  });
});
