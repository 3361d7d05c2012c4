// Build dist/ once before the tests (what `npm run build` does: tsc, then the
// bundle of `flowc check` and `flowc compile`), so that CLI tests spawn the
// real `flowc` binary compiled from the current sources. The tests' flowc
// keeps its user cache (user-cache.ts) in a folder of their own, removed at
// the end: never the user's ~/.cache/flowc.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): () => void {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'flowc-test-cache-'));
  process.env.XDG_CACHE_HOME = cache;
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit' });
  execFileSync(process.execPath, [path.join(root, 'scripts/bundle-front.mjs')], { stdio: 'inherit' });
  return () => fs.rmSync(cache, { recursive: true, force: true });
}
