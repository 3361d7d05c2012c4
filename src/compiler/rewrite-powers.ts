// Pass (between derive and schedule): powers with an exponent known at
// compile time become cheaper operations. A number, a `let` constant (its
// value is fixed once --set is applied) or an expression of those is a
// static exponent; `x^2` → x*x, `x^0.5` → sqrt(x), `x^-0.5` → 1/sqrt(x),
// `x^1.5` → x*sqrt(x), small integer powers → products (binary powering),
// negative ones → 1/product. A general pow costs an exp and a log per
// evaluation (Math.pow, or wasm-math.ts's exp(b log|a|)); these cost a
// multiplication or a square root. The derivative of `x^beta` is
// `beta * x^(beta - 1)`: its exponent is static too and is rewritten the same
// way. Results agree with Math.pow to rounding (a few ulp).

import * as ir from './ir.js';
import type { Node } from './ir.js';
import { OPS } from './ops.js';

/** Integer exponents up to this magnitude become products. */
export const MAX_INTEGER_POWER = 8;

/** The value of an expression of numbers and let constants, or undefined when it reads anything else. */
export function staticValue(n: Node, lets: ReadonlyMap<string, readonly number[]>, memo = new Map<number, number | undefined>()): number | undefined {
  if (memo.has(n.id)) return memo.get(n.id);
  let v: number | undefined;
  switch (n.kind) {
    case 'num':
      v = n.value;
      break;
    case 'param':
      v = lets.get(n.name)?.[n.c];
      break;
    case 'op': {
      const args = n.args.map((a) => staticValue(a, lets, memo));
      v = args.every((a) => a !== undefined) ? OPS[n.op].evaluate(args as number[]) : undefined;
      break;
    }
    default:
      v = undefined;
  }
  memo.set(n.id, v);
  return v;
}

/** x^p by cheaper operations, or undefined when p is not one of the rewritten exponents. */
export function powerOf(x: Node, p: number): Node | undefined {
  if (p === 0) return ir.num(1);
  if (p === 1) return x;
  if (p === 0.5) return ir.op('sqrt', [x]);
  if (p === -0.5) return ir.div(ir.num(1), ir.op('sqrt', [x]));
  if (p === 1.5) return ir.mul(x, ir.op('sqrt', [x]));
  if (p === -1.5) return ir.div(ir.num(1), ir.mul(x, ir.op('sqrt', [x])));
  if (Number.isInteger(p) && Math.abs(p) <= MAX_INTEGER_POWER) {
    const m = integerPower(x, Math.abs(p));
    return p > 0 ? m : ir.div(ir.num(1), m);
  }
  return undefined;
}

/** x^k, k >= 1, by binary powering (x^2 = x*x is shared by the smart constructors' hash-consing). */
function integerPower(x: Node, k: number): Node {
  if (k === 1) return x;
  const half = integerPower(x, Math.floor(k / 2));
  const sq = ir.mul(half, half);
  return k % 2 ? ir.mul(sq, x) : sq;
}

/** Rewrite the powers of several roots (one memo: shared subexpressions are rewritten once). */
export function rewritePowers(roots: readonly Node[], lets: readonly { name: string; value: number[] }[]): Node[] {
  const values = new Map(lets.map((p) => [p.name, p.value] as [string, number[]]));
  const memo = new Map<number, Node>();
  const statics = new Map<number, number | undefined>();
  return roots.map((r) =>
    ir.rewrite(
      r,
      (n) => {
        if (n.kind !== 'op' || n.op !== 'pow') return n;
        const p = staticValue(n.args[1], values, statics);
        return (p !== undefined && powerOf(n.args[0], p)) || n;
      },
      memo,
    ),
  );
}
