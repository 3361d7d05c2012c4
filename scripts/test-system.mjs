#!/usr/bin/env node
// What flowc's tests need from the system, installed before `npm test` runs
// the suite (package.json: "test"). Node and `npm ci` bring everything else.
//
//   chromium            test/report.test.ts opens the HTML reports in it (playwright-core)
//   fonts-dejavu-core   PNG plots draw their text with DejaVu Sans (test/plot.test.ts)
//   libegl-dev          the gpu backend's webgpu mode: Dawn loads libEGL.so by that name
//   libgl1-mesa-dri     ... and renders with Mesa's software driver (test/gpu-*.test.ts)
//   bsdutils            `script`, the pseudo-terminal of test/progress.test.ts
//   slurmctld, slurmd,  test/slurm.test.ts brings up a single-node Slurm cluster
//   slurm-client, munge   (test/slurm/cluster.sh)
//
// Missing packages are installed with apt-get when this runs as root on a
// system that has it; otherwise it stops at once, printing the one command
// to run. It never skips: a test that lacks its system part fails.
//
// FLOWC_SYSTEM_ROOT (a folder standing for /) and FLOWC_SYSTEM_UID exist for
// the test of this script (test/test-system.test.ts).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib64', '/lib64', '/usr/lib', '/lib'];

/** Each need: the Debian package, why, and the files any one of which shows it is there. */
export const NEEDS = [
  { pkg: 'chromium', why: 'test/report.test.ts opens the HTML reports in chromium', files: ['/usr/lib/chromium/chromium', '/usr/bin/chromium'] },
  { pkg: 'fonts-dejavu-core', why: 'PNG plots draw their text with DejaVu Sans', files: ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'] },
  { pkg: 'libegl-dev', why: "the gpu backend's webgpu mode loads libEGL.so", files: LIB_DIRS.map((d) => `${d}/libEGL.so`) },
  { pkg: 'libgl1-mesa-dri', why: "the webgpu mode renders with Mesa's software driver", files: LIB_DIRS.map((d) => `${d}/dri/swrast_dri.so`) },
  { pkg: 'bsdutils', why: 'test/progress.test.ts runs flowc on a pseudo-terminal with script', files: ['/usr/bin/script', '/bin/script'] },
  { pkg: 'slurmctld', why: 'test/slurm.test.ts starts a one-node Slurm cluster', files: ['/usr/sbin/slurmctld'] },
  { pkg: 'slurmd', why: '... its compute daemon', files: ['/usr/sbin/slurmd'] },
  { pkg: 'slurm-client', why: '... sbatch and sinfo', files: ['/usr/bin/sbatch'] },
  { pkg: 'munge', why: "... Slurm's authentication", files: ['/usr/sbin/munged'] },
];

/** The needs whose files are all absent under `root`. */
export function missing(root = '/') {
  return NEEDS.filter((n) => !n.files.some((f) => fs.existsSync(path.join(root, f))));
}

export function installCommand(pkgs) {
  return `apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

function main() {
  const root = process.env.FLOWC_SYSTEM_ROOT ?? '/';
  const uid = process.env.FLOWC_SYSTEM_UID !== undefined ? Number(process.env.FLOWC_SYSTEM_UID) : process.getuid?.();
  const lack = missing(root);
  if (!lack.length) return 0;
  const pkgs = lack.map((n) => n.pkg);
  const list = lack.map((n) => `  ${n.pkg.padEnd(18)} ${n.why}`).join('\n');
  const hasApt = process.platform === 'linux' && spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (uid === 0 && hasApt && root === '/') {
    process.stderr.write(`flowc's tests need system packages that are missing; installing them with apt-get:\n${list}\n`);
    // wait for another apt-get rather than fail on its lock
    const apt = (args) => spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (apt(['update']).status !== 0 || apt(['install', '-y', '--no-install-recommends', ...pkgs]).status !== 0) {
      process.stderr.write(`apt-get failed; install the packages yourself:\n\n  ${installCommand(pkgs)}\n\n`);
      return 1;
    }
    const still = missing(root);
    if (still.length) {
      process.stderr.write(`still missing after apt-get: ${still.map((n) => n.pkg).join(', ')}\n`);
      return 1;
    }
    return 0;
  }
  process.stderr.write(
    `flowc's tests need system packages that are missing:\n${list}\n` +
      (hasApt || root !== '/'
        ? `Install them (as root), then run npm test again:\n\n  sudo ${installCommand(pkgs)}\n\n`
        : `Install these (Debian package names; find your system's equivalents), then run npm test again.\n`),
  );
  return 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main();
