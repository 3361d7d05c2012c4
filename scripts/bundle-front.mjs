#!/usr/bin/env node
// Part of `npm run build` (after tsc): bundles src/cli/front-commands.ts, the
// front end of flowc (parser, compiler, data loading) and nothing else, into
// one CommonJS file, dist/front.cjs, which `flowc check` and `flowc compile`
// (summary) run with V8's code cache (src/cli/fast-start.ts). The bundle is
// built from the same sources as dist/src/, so they give the same answers either way
// (test/fast-start.test.ts compares them). Caches of an earlier bundle in
// dist/ are removed, and one check of a spec writes the new one, so that the
// first check after a build starts as fast as the next ones.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const OUT = path.join(ROOT, 'dist', 'front.cjs');
const CHEVROTAIN = path.join(ROOT, 'node_modules', 'chevrotain', 'lib', 'chevrotain.mjs');

await esbuild.build({
  entryPoints: [path.join(ROOT, 'src', 'cli', 'front-commands.ts')],
  outfile: OUT,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [
    {
      name: 'chevrotain-bundle',
      setup(build) {
        // grammar/chevrotain.ts finds chevrotain's one-file build with import.meta.resolve
        // and a top-level await (neither exists in CommonJS); here it is imported by its path
        build.onLoad({ filter: /[\\/]grammar[\\/]chevrotain\.ts$/ }, () => ({
          contents: `export { createToken, Lexer, CstParser, EOF, tokenLabel } from ${JSON.stringify(CHEVROTAIN)};`,
          loader: 'ts',
          resolveDir: ROOT,
        }));
      },
    },
  ],
});
// the caches of an earlier bundle (check.cjs: its name before it served compile too)
for (const f of fs.readdirSync(path.dirname(OUT))) if (/^(check|front)\.cjs(\..*)?\.v8cache$/.test(f) || f === 'check.cjs') fs.rmSync(path.join(path.dirname(OUT), f));
// the code cache (src/cli/fast-start.ts); a failure here only leaves the first check slower
spawnSync(process.execPath, [path.join(ROOT, 'bin', 'flowc.js'), 'check', path.join(ROOT, 'specs', 'mmd-three-modes.flow')], { stdio: 'ignore' });
