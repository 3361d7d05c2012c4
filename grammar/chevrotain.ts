// chevrotain, loaded from its one-file bundle. The package's entry point
// (lib/src/api.js) imports some 700 small ES modules (its own and lodash-es),
// which took most of `flowc check`'s start-up; the bundle it ships next to it
// (lib/chevrotain.mjs, the same build) is one file. The package's exports map
// does not list the bundle, so it is imported by its path, found from the
// entry point. Types come from the package as usual.

import type * as Chevrotain from 'chevrotain';

const entry = import.meta.resolve('chevrotain'); // .../chevrotain/lib/src/api.js
const bundle = (await import(new URL('../chevrotain.mjs', entry).href)) as typeof Chevrotain;

export const { createToken, Lexer, CstParser, EOF, tokenLabel } = bundle;
