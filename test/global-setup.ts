// Build dist/ once before the tests (what `npm run build` does: tsc, then the
// bundle of `flowc check` and `flowc compile`), so that CLI tests spawn the
// real `flowc` binary compiled from the current sources.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit' });
  execFileSync(process.execPath, [path.join(root, 'scripts/bundle-front.mjs')], { stdio: 'inherit' });
}
