// scripts/test-system.mjs, which `npm test` runs before the suite: it finds
// the system packages the tests need, and when it cannot install them it
// stops at once with the one command to run (never a silent skip).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers.js';

const SCRIPT = path.join(ROOT, 'scripts', 'test-system.mjs');
const run = (root: string, uid: number) =>
  spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', env: { ...process.env, FLOWC_SYSTEM_ROOT: root, FLOWC_SYSTEM_UID: String(uid) } });

describe('scripts/test-system.mjs', () => {
  it('npm test runs it before the suite, and .ci/run calls exactly the README\'s test command', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.test).toBe('node scripts/test-system.mjs && vitest run');
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toMatch(/^npm test +# the test suite$/m);
    const ci = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(ci.slice(-2)).toEqual(['npm ci --strict-allow-scripts', 'npm test']);
  });

  it('on a system that lacks the packages, without root, it stops and prints the one command to run', () => {
    const r = run(tempDir(), 1000);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const pkgs = ['chromium', 'fonts-dejavu-core', 'libegl-dev', 'libgl1-mesa-dri', 'bsdutils', 'slurmctld', 'slurmd', 'slurm-client', 'munge'];
    for (const pkg of pkgs) expect(r.stderr).toContain(`  ${pkg} `);
    const commands = r.stderr.split('\n').filter((l) => l.trim().startsWith('sudo '));
    expect(commands).toEqual([`  sudo apt-get install -y --no-install-recommends ${pkgs.join(' ')}`]);
  });

  it('names only what is missing, and passes silently when nothing is', () => {
    const root = tempDir({
      'usr/bin/chromium': '',
      'usr/share/fonts/truetype/dejavu/DejaVuSans.ttf': '',
      'usr/lib/x86_64-linux-gnu/libEGL.so': '',
      'usr/bin/script': '',
      'usr/sbin/slurmctld': '',
      'usr/sbin/slurmd': '',
      'usr/bin/sbatch': '',
      'usr/sbin/munged': '',
    });
    const r = run(root, 1000);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('sudo apt-get install -y --no-install-recommends libgl1-mesa-dri\n');
    fs.mkdirSync(path.join(root, 'usr/lib/x86_64-linux-gnu/dri'));
    fs.writeFileSync(path.join(root, 'usr/lib/x86_64-linux-gnu/dri/swrast_dri.so'), '');
    expect(run(root, 1000)).toMatchObject({ status: 0, stdout: '', stderr: '' });
  });
});
