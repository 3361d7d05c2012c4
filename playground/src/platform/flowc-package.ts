// flowc's package.json in the in-memory file system, where run-folder.ts
// looks for it (next to dist/: build.mjs sets import.meta.url so), for
// run.json's "flowc" version. Imported first by run-worker.ts, so that it is
// there before run-folder.ts reads it, as that module loads.

import fs from './fs.js';

declare const __FLOWC_VERSION__: string;

fs.mkdirSync('/flowc', { recursive: true });
fs.writeFileSync('/flowc/package.json', JSON.stringify({ name: 'flowc', version: __FLOWC_VERSION__ }));
