#!/usr/bin/env node
// Builds the playground into one static folder (default playground/dist):
// index.html, app.js (the page: editor, compiler for the diagnostics, the run
// worker's code, the example specs and their data) and style.css. No server
// code: any static host serves it, and a browser opens it from file:// too.
//
// flowc's sources (grammar/, src/compiler/, src/runtime/) go in unchanged;
// what they import from Node is mapped onto playground/src/platform/
// (an in-memory file system, POSIX paths, sha256, one thread), see
// docs/playground.md.
//
//   node playground/build.mjs [OUT_DIR]      (npm run playground)

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const PLATFORM = path.join(HERE, 'src', 'platform');
const CHEVROTAIN = path.join(ROOT, 'node_modules', 'chevrotain', 'lib', 'chevrotain.mjs');

/** Node's modules as flowc's sources import them → the browser's stand-ins. */
const NODE_MODULES = { fs: 'fs.ts', path: 'path.ts', crypto: 'crypto.ts', os: 'os.ts', url: 'url.ts', module: 'module.ts', worker_threads: 'worker_threads.ts', child_process: 'child_process.ts' };

const platformPlugin = {
  name: 'flowc-platform',
  setup(build) {
    build.onResolve({ filter: /^(node:)?(fs|path|crypto|os|url|module|worker_threads|child_process)$/ }, (args) => ({ path: path.join(PLATFORM, NODE_MODULES[args.path.replace(/^node:/, '')]) }));
    // grammar/chevrotain.ts finds chevrotain's one-file bundle with import.meta.resolve and a top-level
    // await (Node's start-up time); here the same bundle is imported by its path
    build.onLoad({ filter: /[\\/]grammar[\\/]chevrotain\.ts$/ }, () => ({
      contents: `export { createToken, Lexer, CstParser, EOF, tokenLabel } from ${JSON.stringify(CHEVROTAIN)};`,
      loader: 'ts',
      resolveDir: ROOT,
    }));
  },
};

/** A module made here: `virtual:NAME` → its JavaScript text. */
function virtualPlugin(modules) {
  return {
    name: 'flowc-virtual',
    setup(build) {
      build.onResolve({ filter: /^virtual:/ }, (args) => ({ path: args.path, namespace: 'virtual' }));
      build.onLoad({ filter: /.*/, namespace: 'virtual' }, (args) => ({ contents: modules[args.path], loader: 'js' }));
    },
  };
}

const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;

const common = {
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  write: false,
  logLevel: 'silent',
  inject: [path.join(PLATFORM, 'globals.ts')],
  // run-folder.ts reads flowc's version from package.json next to dist/: the in-memory file system has it there
  define: { 'import.meta.url': '"file:///flowc/dist/src/run-folder.js"', __FLOWC_VERSION__: JSON.stringify(version) },
};

/** The example specs and every data file under specs/data/ (the specs name them relative to specs/). */
function examples() {
  const dir = path.join(ROOT, 'specs');
  const specs = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.flow'))
    .sort()
    .map((f) => ({ name: f.replace(/\.flow$/, ''), source: fs.readFileSync(path.join(dir, f), 'utf8') }));
  const data = Object.fromEntries(
    fs
      .readdirSync(path.join(dir, 'data'))
      .sort()
      .map((f) => [`data/${f}`, fs.readFileSync(path.join(dir, 'data', f), 'utf8')]),
  );
  return { specs, data };
}

/** Build into `out` (created; the files it writes replaced); returns each file's size and its gzip size in bytes. */
export async function buildPlayground(out = path.join(HERE, 'dist')) {
  const worker = await esbuild.build({ ...common, entryPoints: [path.join(HERE, 'src', 'run-worker.ts')], plugins: [platformPlugin] });
  const workerJs = worker.outputFiles[0].text;
  const page = await esbuild.build({
    ...common,
    entryPoints: [path.join(HERE, 'src', 'main.ts')],
    plugins: [
      platformPlugin,
      virtualPlugin({
        'virtual:worker': `export default ${JSON.stringify(workerJs)};`,
        'virtual:examples': `export default ${JSON.stringify(examples())};`,
      }),
    ],
  });
  fs.mkdirSync(out, { recursive: true });
  const files = {
    'index.html': fs.readFileSync(path.join(HERE, 'index.html'), 'utf8').replace('__FLOWC_VERSION__', version),
    'style.css': fs.readFileSync(path.join(HERE, 'style.css'), 'utf8'),
    'app.js': page.outputFiles[0].text,
  };
  const sizes = {};
  for (const [name, text] of Object.entries(files)) {
    fs.writeFileSync(path.join(out, name), text);
    const bytes = Buffer.byteLength(text);
    sizes[name] = { bytes, gzip: zlib.gzipSync(text, { level: 9 }).length };
  }
  sizes['(worker, inside app.js)'] = { bytes: Buffer.byteLength(workerJs), gzip: zlib.gzipSync(workerJs, { level: 9 }).length };
  return { out, sizes };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { out, sizes } = await buildPlayground(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
    const total = Object.entries(sizes).filter(([n]) => !n.startsWith('('));
    const sum = (k) => total.reduce((a, [, s]) => a + s[k], 0);
    for (const [name, s] of Object.entries(sizes)) console.log(`  ${name.padEnd(26)} ${String(s.bytes).padStart(9)} bytes  ${String(s.gzip).padStart(8)} gzip`);
    console.log(`built the playground into ${path.relative(process.cwd(), out) || '.'}: ${sum('bytes')} bytes, ${sum('gzip')} gzip (flowc playground serves it)`);
  } catch (e) {
    const errors = e.errors ?? [];
    for (const m of errors) console.error(`${m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : ''}error: ${m.text}`);
    if (!errors.length) console.error(`playground build failed: ${e.message}`);
    process.exit(1);
  }
}
