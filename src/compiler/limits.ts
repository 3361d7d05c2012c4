// What the compiler does when a spec is larger than its recursive passes can
// take: a located diagnostic instead of a stack overflow. The passes recurse
// once per level of an expression tree, so a spec nested (or chained: a sum
// of terms is a chain of '+') thousands of levels deep exhausts the JS stack;
// compile() catches that and points at the deepest expression.

import type { Diagnostic, Span } from './diagnostics.js';
import { error } from './diagnostics.js';

/** The node of a parsed tree (any object with a span) that lies deepest, found without recursion. */
export function deepestSpan(root: unknown): { span?: Span; depth: number } {
  let best: { span?: Span; depth: number } = { depth: 0 };
  const stack: [unknown, number][] = [[root, 0]];
  const seen = new Set<object>();
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (!node || typeof node !== 'object' || seen.has(node)) continue;
    seen.add(node);
    const span = (node as { span?: Span }).span;
    const level = span ? depth + 1 : depth;
    if (span && level > best.depth) best = { span, depth: level };
    for (const [key, child] of Object.entries(node)) if (key !== 'span' && child && typeof child === 'object') stack.push([child, level]);
  }
  return best;
}

/** Whether `e` is the engine running out of stack or of array length, or a function over WebAssembly's limit of locals (a spec too large for the compiler, not a bug in it). */
export function isResourceLimit(e: unknown): e is RangeError {
  return e instanceof RangeError && /call stack|array length|Invalid string length|Array buffer allocation|too many locals/i.test(e.message);
}

/** The diagnostic for a spec too large for a compiler stage. */
export function tooLarge(file: string, ast: unknown, stage: string, e: RangeError): Diagnostic {
  const deepest = deepestSpan(ast);
  const what = /call stack/.test(e.message)
    ? `this expression is nested too deeply for the compiler (${deepest.depth} levels; a chain a + b + ... is one level per term): the ${stage} stage ran out of stack; split it with let or fn`
    : `this spec is too large for the compiler (the ${stage} stage: ${e.message})`;
  return error(file, deepest.span, what);
}
