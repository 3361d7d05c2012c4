// Pass: schedule the derived IR into a plan of fused reduction stages
// (DESIGN.md, "Dimensions are known at compile time ... reduction stage").
//
// Every `expect` whose body reads at most one outer point variable u becomes a
// buffer: one number per point of u's measure (or one number when closed),
// computed as `B(u_i) = (1/M) sum_j body(u_i, y_j)`. No N×M array exists: a
// stage loops over its domain's points and, inside, over the reduced
// measure's points. Expectations reading two or more outer variables stay
// inline as nested loops (O(1) memory, recomputed). Buffers that read only
// fixed measures are hoisted into the setup, run once before the time loop.
// Buffers of the same domain and dependency level share one outer loop; their
// reductions over the same measure share one inner loop.

import * as ir from './ir.js';
import type { Node, VarInfo } from './ir.js';

/** The query domain: the points where the velocity field is evaluated. */
export const QUERY = '%query';

export interface Buffer {
  id: number;
  /** domain measure name, QUERY, or null for a closed (scalar) reduction */
  domain: string | null;
  /** `expect(measure, I_measure, body)` with the canonical variables of the plan */
  expr: ir.NodeOf<'expect'>;
  hoisted: boolean;
  level: number;
  /** read by another stage: stored in an array (else it lives in a register) */
  stored: boolean;
}

export interface Reduction {
  measure: string;
  /** canonical variable bound to the reduced measure's point */
  v: number;
  /** buffers computed by this reduction, each the sum of its expect's body */
  buffers: number[];
}

export interface Stage {
  /** measure (or QUERY) whose points the stage loops over; null: no outer loop */
  domain: string | null;
  /** canonical variable bound to the domain point */
  v: number | null;
  reductions: Reduction[];
  /** program outputs written per domain point after the reductions */
  outputs: Node[];
  /** dependency level: a stage reads only buffers of lower levels (and its own, in outputs) */
  level: number;
}

export interface ProgramPlan {
  domain: string | null;
  stages: Stage[];
  /** per domain point: the root expressions (OUT[i * roots.length + k]) */
  roots: Node[];
}

export interface Plan {
  /** canonical outer (domain) and inner (reduced) variables per measure */
  vars: VarInfo[];
  buffers: Buffer[];
  setup: Stage[];
  programs: Record<string, ProgramPlan>;
}

export interface ProgramInput {
  /** QUERY or a measure (roots in one free point of it, one output row per point), or null (closed roots) */
  domain: string | null;
  roots: Node[];
  /** the free variable of the roots when domain is not null */
  queryVar?: VarInfo;
}

/**
 * `evolving`: the measures whose points change between steps (the particles,
 * models, and pseudo-measures the host rewrites); `movingParams`: the
 * parameters the host rewrites (states, critics). Reductions reading either
 * are never hoisted.
 */
export function schedule(
  programs: Record<string, ProgramInput>,
  evolving: readonly string[],
  dims: Map<string, number>,
  movingParams: ReadonlySet<string> = new Set(),
): Plan {
  const moving = new Set(evolving);
  // Facts about every node, memoised by node id (the bodies of the d
  // expectations of a gradient share their kernel: walking each body anew made
  // this pass quadratic in d).
  const readsMovingParam = memoDag((n) => n.kind === 'param' && movingParams.has(n.name));
  const hasMovingExpect = memoDag((n) => n.kind === 'expect' && moving.has(n.measure));
  const loads = loadSets();
  /** renameVars with one memo per renaming (the same renaming recurs for every expectation over one measure) */
  const renameMemos = new Map<string, Map<number, Node>>();
  const rename = (n: Node, map: Map<number, number>) => {
    const key = [...map].map(([a, b]) => `${a}>${b}`).join(',');
    let memo = renameMemos.get(key);
    if (!memo) renameMemos.set(key, (memo = new Map()));
    return ir.renameVars(n, map, memo);
  };
  const outerVar = new Map<string, VarInfo>();
  const innerVar = new Map<string, VarInfo>();
  const dimOf = (m: string) => {
    const d = dims.get(m);
    if (d === undefined) throw new Error(`internal: unknown measure ${m}`);
    return d;
  };
  const outer = (m: string) => {
    if (!outerVar.has(m)) outerVar.set(m, ir.newVar(m, dimOf(m), m === QUERY ? 'X' : `i_${m}`));
    return outerVar.get(m)!;
  };
  const inner = (m: string) => {
    if (!innerVar.has(m)) innerVar.set(m, ir.newVar(m, dimOf(m), `j_${m}`));
    return innerVar.get(m)!;
  };

  const buffers: Buffer[] = [];
  const byKey = new Map<number, Buffer>(); // canonical expect node id → buffer
  const freeVars = ir.freeVarsOf();

  const bufferFor = (domain: string | null, e: ir.NodeOf<'expect'>): Buffer => {
    const hit = byKey.get(e.id);
    if (hit && hit.domain === domain) return hit;
    const deps = [...loads(e.body)].map((b) => buffers[b]);
    const level = 1 + Math.max(0, ...deps.map((d) => d.level));
    // an expectation left inline in the body (two or more outer points) may
    // integrate over the evolving measure too
    const readsEvolving =
      domain === QUERY ||
      (domain !== null && moving.has(domain)) ||
      moving.has(e.measure) ||
      deps.some((d) => !d.hoisted) ||
      hasMovingExpect(e.body) ||
      (movingParams.size > 0 && readsMovingParam(e.body));
    const b: Buffer = { id: buffers.length, domain, expr: e, hoisted: !readsEvolving, level, stored: false };
    buffers.push(b);
    byKey.set(e.id, b);
    return b;
  };

  /** Replace liftable expectations by loads, innermost first (one pass). */
  const liftOnce = (root: Node, memo: Map<number, Node>): Node =>
    ir.rewrite(
      root,
      (n) => {
        if (n.kind !== 'expect') return n;
        const free = [...freeVars(n)];
        if (free.length > 1) return n; // inline nested loop
        const m = n.measure;
        const u = free.length ? ir.varInfo(free[0]) : undefined;
        const renames = new Map([[n.v, inner(m).id]]);
        if (u) renames.set(u.id, outer(u.measure).id);
        // renaming can turn the body into -x or s * x again: keep those outside the sum
        let body = rename(n.body, renames);
        let wrap = (x: Node): Node => x;
        for (;;) {
          const outerWrap = wrap;
          if (body.kind === 'op' && body.op === 'neg') {
            wrap = (x) => outerWrap(ir.neg(x));
            body = body.args[0];
          } else if (body.kind === 'op' && body.op === 'mul' && ir.isStatic(body.args[0])) {
            const s = body.args[0];
            wrap = (x) => outerWrap(ir.mul(s, x));
            body = body.args[1];
          } else break;
        }
        const buffer = bufferFor(u ? u.measure : null, ir.expectNode(m, inner(m).id, body));
        return wrap(ir.load(buffer.id, u ? u.id : null, 0));
      },
      memo,
    );
  // Rebuilding a node through the smart constructors can make a new expect
  // node inside it (E[b] with b = -x becomes -E[x]) that the pass did not
  // visit: lift again until nothing changes.
  const lift = (root: Node, memo: Map<number, Node>): Node => {
    for (let r = root; ; ) {
      const next = liftOnce(r, memo);
      if (next === r) return r;
      r = next;
    }
  };

  const lifted: Record<string, { domain: string | null; roots: Node[] }> = {};
  for (const [name, p] of Object.entries(programs)) {
    const memo = new Map<number, Node>();
    let roots = p.roots.map((r) => lift(r, memo));
    if (p.domain !== null) {
      if (!p.queryVar) throw new Error('internal: query program without its variable');
      roots = roots.map((r) => rename(r, new Map([[p.queryVar!.id, outer(p.domain!).id]])));
    }
    lifted[name] = { domain: p.domain, roots };
  }

  // stages: group buffers by (level, domain); setup holds the hoisted ones
  const makeStages = (bufs: Buffer[]): Stage[] => {
    const groups = new Map<string, Buffer[]>();
    for (const b of [...bufs].sort((a, c) => a.level - c.level || a.id - c.id)) {
      // a closed reduction's domain is null: its key must differ from a measure called 'null'
      const key = b.domain === null ? `${b.level}` : `${b.level}|${b.domain}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(b);
    }
    return [...groups.values()].map((group) => {
      const domain = group[0].domain;
      const reductions: Reduction[] = [];
      for (const b of group) {
        let r = reductions.find((x) => x.measure === b.expr.measure);
        if (!r) reductions.push((r = { measure: b.expr.measure, v: b.expr.v, buffers: [] }));
        r.buffers.push(b.id);
      }
      return { domain, v: domain === null ? null : outer(domain).id, reductions, outputs: [], level: group[0].level };
    });
  };

  const setup = makeStages(buffers.filter((b) => b.hoisted));
  const plans: Record<string, ProgramPlan> = {};
  for (const [name, p] of Object.entries(lifted)) {
    const needed = reachableBuffers(p.roots, buffers, loads).filter((b) => !b.hoisted);
    const stages = makeStages(needed);
    // fuse the root outputs into the last stage of their domain when it is the
    // deepest dependency; otherwise they get a stage of their own. The host
    // runs last: the outputs may read buffers that other stages of the same
    // level (another domain) reduce.
    const rootLevel = Math.max(0, ...p.roots.flatMap((r) => [...loads(r)]).map((b) => (buffers[b].hoisted ? 0 : buffers[b].level)));
    const host = stages.find((s) => s.level === rootLevel && s.domain === p.domain);
    if (host) {
      host.outputs = p.roots;
      stages.splice(stages.indexOf(host), 1);
      stages.push(host);
    } else stages.push({ domain: p.domain, v: p.domain === null ? null : outer(p.domain).id, reductions: [], outputs: p.roots, level: rootLevel + 1 });
    plans[name] = { domain: p.domain, stages, roots: p.roots };
  }

  // a buffer needs an array when a stage other than the one reducing it reads it
  for (const s of [...setup, ...Object.values(plans).flatMap((p) => p.stages)]) {
    const own = new Set(s.reductions.flatMap((r) => r.buffers));
    const reads = [...s.reductions.flatMap((r) => r.buffers.map((b) => buffers[b].expr.body)), ...s.outputs].flatMap((n) => [...loads(n)]);
    for (const b of reads) if (!own.has(b)) buffers[b].stored = true;
  }

  return { vars: [...outerVar.values(), ...innerVar.values()], buffers, setup, programs: plans };
}

/** Buffer ids loaded anywhere in an expression (deduplicated, in order). */
export function loadsIn(root: Node): number[] {
  const out = new Set<number>();
  for (const n of ir.topoOrder([root])) if (n.kind === 'load') out.add(n.buffer);
  return [...out];
}

/** Whether any node of a DAG satisfies `test`, memoised per node id (iterative: no recursion on deep expressions). */
function memoDag(test: (n: Node) => boolean): (root: Node) => boolean {
  const memo = new Map<number, boolean>();
  return (root) => {
    const hit = memo.get(root.id);
    if (hit !== undefined) return hit;
    for (const n of ir.topoOrderUnseen([root], memo)) memo.set(n.id, test(n) || ir.children(n).some((k) => memo.get(k.id)!));
    return memo.get(root.id)!;
  };
}

/** The buffers loaded anywhere in an expression, memoised per node id (nodes without loads share one empty set). */
function loadSets(): (root: Node) => ReadonlySet<number> {
  const memo = new Map<number, ReadonlySet<number>>();
  const empty: ReadonlySet<number> = new Set();
  return (root) => {
    const hit = memo.get(root.id);
    if (hit) return hit;
    for (const n of ir.topoOrderUnseen([root], memo)) {
      if (n.kind === 'load') {
        memo.set(n.id, new Set([n.buffer]));
        continue;
      }
      let out = empty;
      for (const k of ir.children(n)) {
        const s = memo.get(k.id)!;
        if (s === empty || s === out) continue;
        if (out === empty) out = s;
        else out = new Set([...out, ...s]);
      }
      memo.set(n.id, out);
    }
    return memo.get(root.id)!;
  };
}

function reachableBuffers(roots: Node[], buffers: Buffer[], loads: (n: Node) => ReadonlySet<number>): Buffer[] {
  const seen = new Set<number>();
  const stack = roots.flatMap((r) => [...loads(r)]);
  while (stack.length) {
    const b = stack.pop()!;
    if (seen.has(b)) continue;
    seen.add(b);
    stack.push(...loads(buffers[b].expr.body));
  }
  return [...seen].map((b) => buffers[b]);
}
