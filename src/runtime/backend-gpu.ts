// The gpu backend: each reduction stage of the plan runs as gpu.js kernels
// (float32) generated from the same stage description as the cpu backend's
// JavaScript (codegen-gpujs.ts); the host adds the kernels' per-chunk partial
// sums in float64 and runs the stage's float64 "post" function (normalise,
// store buffers, evaluate outputs). Stages whose bodies keep nested
// expectations inline have no kernels and run the cpu function.
//
// What stays on the device (webgpu): every array a kernel reads is one
// device buffer, written from a float32 mirror that is allocated once. Fixed
// measures are written once; the particle positions, the parameters (n, t)
// and the buffers that depend on the particles are rewritten when they
// change, once per program run, whatever the number of kernels reading them.
// cpu and webasm read the float32 mirrors directly. Kernel results come back
// at every call (the post functions run on the host), except in resident
// Euler steps.
//
// Resident Euler steps (webgpu): when the flow is explicit W2 Euler without
// noise or diffusion and its velocity is one stage of kernels, a step runs
// entirely on the device: the reduction kernels in pipeline mode, then one
// update kernel that adds their chunk partial sums, evaluates the velocity
// and writes x + step v into a new device buffer (two update kernels take
// turns: a kernel may not read its own output). The positions stay on the
// device and are read back only by sync(), before a record. FLOWC_GPU_RESIDENT=0
// turns this off.

import { stageArrays, type FlowState } from './arrays.js';
import type { Compiled } from '../compiler/compile.js';
import { generateGpuStage, generateResidentEuler, MAX_RESIDENT_CHUNKS, residentEulerStage, type GpuKernel } from '../compiler/codegen-gpujs.js';
import { QUERY } from '../compiler/schedule.js';
import { error, FlowError } from '../compiler/diagnostics.js';
import type { Stage } from '../compiler/schedule.js';
import { compileStage, type Backend, type StageFn } from './backend-cpu.js';
import { gpuFor, gpujs, type GpuJs, type GpuJsKernel, type GpuMode, type WebGpuContext } from './gpu/modes.js';
import type { MeasureData } from './inputs.js';

/**
 * Points per chunk of a reduction: the literal loop bound of every kernel.
 * Mesa's software shaders stop any loop after 65535 iterations (TOOLCHAIN.md),
 * and the number of chunks K = ceil(M / C) multiplies the threads (N·K), which
 * helps small N; 16384 measured best on llvmpipe (/tmp/gpuproto, bench.js).
 */
export const DEFAULT_CHUNK = 16384;

/** WebGPU's default maxStorageBuffersPerShaderStage. */
const MAX_STORAGE_BUFFERS = 8;

/** gpu.js's WGSL computes thread and array indices in f32: exact below 2^24. */
const F32_EXACT = 2 ** 24;

/** A float32 copy of a float64 host array that kernels read: a device buffer on webgpu. */
class DeviceArray {
  readonly host: Float32Array;
  /** what kernels receive: the mirror, or a handle to the device buffer */
  readonly arg: unknown;
  dirty = true;
  private readonly buffer?: { destroy(): void };

  constructor(
    readonly source: Float64Array,
    private readonly ctx: WebGpuContext | undefined,
  ) {
    this.host = new Float32Array(source.length);
    if (!ctx) {
      this.arg = this.host;
      return;
    }
    // STORAGE | COPY_DST; a binding must not be empty
    this.buffer = ctx.device.createBuffer({ size: Math.max(4, this.host.byteLength), usage: 0x80 | 0x08 });
    this.arg = new (gpujs().WebGPUBufferResult)({ buffer: this.buffer, output: [Math.max(1, this.host.length)], componentCount: 1, context: ctx, kernel: null });
  }

  refresh(): void {
    if (!this.dirty) return;
    this.host.set(this.source);
    this.ctx?.device.queue.writeBuffer(this.buffer, 0, this.host);
    this.dirty = false;
  }

  dispose(): void {
    this.buffer?.destroy();
  }
}

interface KernelRun {
  spec: GpuKernel;
  kernel: CachedKernel;
  args: unknown[];
  /** the device arrays among args */
  reads: DeviceArray[];
  /** output size: domain points × chunks */
  threads: number;
  nDomain: number;
}

interface StageRun {
  stage: Stage;
  /** the post function (kernels present) or the whole stage (kernels null) */
  fn: StageFn;
  kernels: KernelRun[] | null;
  nDomain: number;
  /** the stored buffers this stage writes: their device copies are stale after it runs */
  writes: Float64Array[];
}

/** Call a kernel; its first call's wall time (gpu.js compiles then) is kept as its compile time. */
async function firstCallTimed(k: CachedKernel, args: unknown[]): Promise<unknown> {
  if (k.firstCallMs !== undefined) return k.fn(...args);
  const t0 = performance.now();
  const out = await k.fn(...args);
  k.firstCallMs = performance.now() - t0;
  return out;
}

interface ResidentRun {
  reductions: (KernelRun & { moving: boolean[] })[];
  spec: GpuKernel;
  args: unknown[];
  reads: DeviceArray[];
  /** two instances of the update kernel, taking turns */
  updates: CachedKernel[];
  threads: number;
  positions: DeviceArray;
  ctx: WebGpuContext;
  /** per reduction kernel: its pipeline output read as a flat array */
  flats: ({ buffer: unknown; handle: unknown } | null)[];
  /** per reduction kernel: the handle the update reads this step */
  partials: unknown[];
}

interface CachedKernel {
  fn: GpuJsKernel;
  /** wall time of the first call (gpu.js compiles then), ms */
  firstCallMs?: number;
}

/** Kernels per gpu.js instance, by source text (and role): compiled once per process, whatever the sizes. */
const kernelCache = new WeakMap<GpuJs, Map<string, CachedKernel>>();

/**
 * role '' : a kernel whose results are read back; 'pipeline': its result stays
 * on the device; 'pipeline:A' / 'pipeline:B': the two update kernels of
 * resident steps (the same source, two instances).
 */
function kernelFor(gpu: GpuJs, spec: GpuKernel, role = ''): { cached: CachedKernel; reused: boolean } {
  let byText = kernelCache.get(gpu);
  if (!byText) kernelCache.set(gpu, (byText = new Map()));
  const key = role ? `${role}\n${spec.source}` : spec.source;
  const hit = byText.get(key);
  if (hit) return { cached: hit, reused: true };
  const argumentTypes = Object.fromEntries(
    spec.args.map((a, i) => [spec.argNames[i], a.kind === 'size' || a.kind === 'chunks' ? 'Integer' : a.kind === 'one' || a.kind === 'step' ? 'Float' : 'Array']),
  );
  const fn = gpu.createKernel(spec.source, {
    returnType: spec.buffers.length <= 1 ? 'Number' : `Array(${spec.buffers.length})`,
    argumentTypes,
    ...(role ? { pipeline: true } : {}),
    // sizes change between runs of one compiled kernel: constants would be
    // baked at the first call (TOOLCHAIN.md pitfalls), so they are arguments
    output: [1],
    dynamicOutput: true,
    dynamicArguments: true,
    precision: 'single',
    tactic: 'precision',
  });
  const cached = { fn };
  byText.set(key, cached);
  return { cached, reused: false };
}


export class GpuBackend implements Backend {
  readonly name: string;
  readonly precision = 'float32' as const;
  readonly params: Float64Array;
  readonly state: FlowState;
  private readonly D: Float64Array[];
  private readonly S: Int32Array;
  private readonly B: Float64Array[];
  private readonly SUMS: Float64Array[];
  private readonly programs = new Map<string, StageRun[]>();
  /** one device array per host array, whichever slots or kernels read it */
  private readonly devices = new Map<Float64Array, DeviceArray>();
  /** the arrays the host rewrites between programs: uploaded again at each program run */
  private readonly dynamic: DeviceArray[];
  private readonly paramsArray: DeviceArray;
  private readonly reports: { program: string; stage: number; spec: GpuKernel; kernel: CachedKernel; threads: number; reused: boolean }[] = [];
  private readonly gpu: GpuJs;

  private constructor(
    compiled: Compiled,
    measures: MeasureData[],
    positions: Float64Array,
    readonly mode: GpuMode,
    private readonly info: Record<string, unknown>,
    ctx: WebGpuContext | undefined,
    readonly chunk: number,
  ) {
    this.name = `gpu:${mode}`;
    this.gpu = gpuFor(mode);
    const { layout, plan } = compiled;
    const arrays = stageArrays(compiled, measures, positions);
    ({ params: this.params, D: this.D, S: this.S, B: this.B, state: this.state } = arrays);
    const sizeOf = arrays.sizeOf;
    this.SUMS = new Array<Float64Array>(plan.buffers.length);

    const device = (source: Float64Array) => {
      let a = this.devices.get(source);
      if (!a) this.devices.set(source, (a = new DeviceArray(source, ctx)));
      return a;
    };
    this.paramsArray = device(this.params);
    const st = this.state;
    this.dynamic = [this.paramsArray, ...[st.positions, st.query, st.weights, st.cg, ...[...st.extra.values()].map((x) => x.data)].flatMap((a) => (a && a.length ? [device(a)] : []))];

    const bindStages = (program: string, stages: Stage[]): StageRun[] =>
      stages.map((stage, index) => {
        const nDomain = sizeOf(stage.domain);
        const gen = generateGpuStage(stage, layout, chunk);
        const writes = stage.reductions.flatMap((r) => r.buffers.filter((b) => plan.buffers[b].stored).map((b) => this.B[b]));
        if (!gen.kernels) return { stage, fn: compileStage(gen.host), kernels: null, nDomain, writes };
        const kernels = gen.kernels.map((spec): KernelRun => {
          const threads = nDomain * Math.ceil(this.S[spec.reducedSlot] / chunk);
          const reads: DeviceArray[] = [];
          const args = spec.args.map((a) => {
            switch (a.kind) {
              case 'size':
                return this.S[a.slot];
              case 'one':
                return 1; // the opaque 1 of the guarded Kahan sum (codegen-gpujs.ts)
              case 'params':
                reads.push(this.paramsArray);
                return this.paramsArray.arg;
              case 'data':
                reads.push(device(this.D[a.slot]));
                return device(this.D[a.slot]).arg;
              case 'buffer':
                reads.push(device(this.B[a.buffer]));
                return device(this.B[a.buffer]).arg;
              default:
                throw new Error(`internal: argument ${a.kind} of a reduction kernel`);
            }
          });
          if (ctx) this.checkExact(compiled.ir.file, threads, reads);
          for (const b of spec.buffers) this.SUMS[b] ??= new Float64Array(nDomain);
          const { cached, reused } = kernelFor(this.gpu, spec);
          const run = { spec, kernel: cached, args, reads, threads, nDomain };
          this.reports.push({ program, stage: index, spec, kernel: cached, threads, reused });
          return run;
        });
        return { stage, fn: compileStage(gen.host), kernels, nDomain, writes };
      });
    this.programs.set('setup', bindStages('setup', plan.setup));
    for (const [name, p] of Object.entries(plan.programs)) this.programs.set(name, bindStages(name, p.stages));
    this.resident = ctx ? this.bindResident(compiled, ctx, device) : { why: `mode ${mode} has no device memory to keep the positions in` };
    if ('run' in this.resident) this.deviceStep = (gamma: number) => this.residentStep(gamma);
  }

  /** What resident Euler steps run (or why they do not), decided once. */
  private readonly resident: { why: string } | { run: ResidentRun };
  /** The positions on the device after the latest resident step (null: the host's are current). */
  private current: unknown = null;
  /** whether the host positions are older than `current` */
  private stale = false;
  private turn = 0;
  /** one explicit W2 Euler step on the device (present only when the flow allows it) */
  readonly deviceStep?: (gamma: number) => Promise<void>;

  private bindResident(compiled: Compiled, ctx: WebGpuContext, device: (a: Float64Array) => DeviceArray): { why: string } | { run: ResidentRun } {
    const flow = compiled.ir;
    if (process.env.FLOWC_GPU_RESIDENT === '0') return { why: 'FLOWC_GPU_RESIDENT=0' };
    if (flow.metric.name !== 'W2' || flow.scheme.name !== 'euler' || flow.noise || flow.diffusion || flow.states.length)
      return { why: 'the positions stay on the device only for explicit W2 Euler steps without noise or diffusion (and without critics)' };
    const velocity = this.programs.get('velocity')!;
    const stage = residentEulerStage(compiled.plan.programs.velocity.stages, compiled.layout);
    if (!stage || !velocity[0].kernels) return { why: 'the velocity is not one stage of kernels' };
    const reductions = velocity[0].kernels;
    if (reductions.some((k) => k.threads / k.nDomain > MAX_RESIDENT_CHUNKS)) return { why: `more than ${MAX_RESIDENT_CHUNKS} chunks per reduction` };
    const x = this.state.positions;
    const moving = new Set([this.D[compiled.layout.slot.get(flow.particles!)!], this.D[compiled.layout.slot.get(QUERY)!]]);
    const pipelined = reductions.map((k) => {
      const { cached, reused } = kernelFor(this.gpu, k.spec, 'pipeline');
      this.reports.push({ program: 'velocity (on device)', stage: 0, spec: k.spec, kernel: cached, threads: k.threads, reused });
      // its own argument list: the slots of the positions are set at each step
      return { ...k, args: [...k.args], kernel: cached, moving: k.spec.args.map((a) => a.kind === 'data' && moving.has(this.D[a.slot])) };
    });
    const spec = generateResidentEuler(stage, compiled.layout, reductions.map((k) => k.spec));
    const reads: DeviceArray[] = [];
    const args = spec.args.map((a) => {
      switch (a.kind) {
        case 'size':
          return this.S[a.slot];
        case 'params':
          reads.push(this.paramsArray);
          return this.paramsArray.arg;
        case 'buffer':
          reads.push(device(this.B[a.buffer]));
          return device(this.B[a.buffer]).arg;
        case 'chunks':
          return reductions[a.kernel].threads / reductions[a.kernel].nDomain;
        case 'data':
        case 'partials':
        case 'step':
          return null; // set at each step
        default:
          throw new Error(`internal: argument ${a.kind} of the resident update`);
      }
    });
    // storage buffers per shader stage: WebGPU's default is 8; dawn.ts asks for what the adapter offers
    const limit = ctx.device.limits?.maxStorageBuffersPerShaderStage ?? MAX_STORAGE_BUFFERS;
    const arrays = spec.args.filter((a) => a.kind === 'data' || a.kind === 'partials' || a.kind === 'params' || a.kind === 'buffer').length + 1; // + its output
    if (arrays > limit) return { why: `the update kernel would bind ${arrays} storage buffers; this device allows ${limit} per kernel` };
    const updates = (['pipeline:A', 'pipeline:B'] as const).map((role) => {
      const { cached, reused } = kernelFor(this.gpu, spec, role);
      this.reports.push({ program: 'euler update (on device)', stage: 0, spec, kernel: cached, threads: x.length, reused });
      return cached;
    });
    return { run: { reductions: pipelined, spec, args, reads, updates, threads: x.length, positions: device(x), ctx, flats: reductions.map(() => null), partials: reductions.map(() => null) } };
  }

  /**
   * One explicit Euler step with the positions on the device. Should the
   * first one fail (a kernel the device refuses), the run goes on with host
   * steps and run.json says why.
   */
  private async residentStep(gamma: number): Promise<void> {
    if (this.residentFailure === undefined)
      try {
        return await this.residentStepOnDevice(gamma);
      } catch (e) {
        if (this.stale) throw e;
        this.residentFailure = e instanceof Error ? e.message.split('\n')[0] : String(e);
        this.current = null;
      }
    this.hostVelocity ??= new Float64Array(this.state.positions.length);
    await this.run('velocity', this.hostVelocity);
    const x = this.state.positions;
    for (let k = 0; k < x.length; k++) x[k] += gamma * this.hostVelocity[k];
  }

  private residentFailure?: string;
  private hostVelocity?: Float64Array;

  /** One explicit Euler step with the positions on the device: nothing is read back. */
  private async residentStepOnDevice(gamma: number): Promise<void> {
    const r = (this.resident as { run: ResidentRun }).run;
    if (this.current === null) {
      r.positions.dirty = true;
      r.positions.refresh();
      this.current = r.positions.arg;
    }
    this.paramsArray.dirty = true;
    // argument lists are filled in place: a step allocates no arrays of its own
    const partials = r.partials;
    for (const [g, k] of r.reductions.entries()) {
      for (const a of k.reads) a.refresh();
      k.moving.forEach((m, i) => {
        if (m) k.args[i] = this.current;
      });
      k.kernel.fn.setOutput([k.threads]);
      const out = (await firstCallTimed(k.kernel, k.args)) as { buffer: unknown };
      // an Array(m) result read as a flat array of threads · m numbers (stride m)
      let flat = r.flats[g];
      if (!flat || flat.buffer !== out.buffer) {
        flat = r.flats[g] = { buffer: out.buffer, handle: new (gpujs().WebGPUBufferResult)({ buffer: out.buffer, output: [k.threads * Math.max(1, k.spec.buffers.length)], componentCount: 1, context: r.ctx, kernel: null }) };
      }
      partials[g] = flat.handle;
    }
    for (const a of r.reads) a.refresh();
    const args = r.args;
    r.spec.args.forEach((a, i) => {
      if (a.kind === 'data') args[i] = this.current;
      else if (a.kind === 'partials') args[i] = partials[a.kernel];
      else if (a.kind === 'step') args[i] = gamma;
    });
    const update = r.updates[this.turn];
    this.turn = 1 - this.turn;
    update.fn.setOutput([r.threads]);
    this.current = await firstCallTimed(update, args);
    this.stale = true;
  }

  /** Bring the device positions of resident steps back to the host (before a record). */
  async sync(): Promise<void> {
    if (!this.stale) return;
    const data = (await (this.current as { toArray(): Promise<Float32Array> }).toArray()) as Float32Array;
    this.state.positions.set(data);
    this.stale = false;
  }

  /** A backend on a mode already probed as available; `info` says which mode and why, for run.json. */
  static async open(
    compiled: Compiled,
    measures: MeasureData[],
    positions: Float64Array,
    mode: GpuMode,
    info: Record<string, unknown>,
    chunk = DEFAULT_CHUNK,
  ): Promise<GpuBackend> {
    const ctx = mode === 'webgpu' ? await gpujs().WebGPUContext.acquire() : undefined;
    return new GpuBackend(compiled, measures, positions, mode, info, ctx, chunk);
  }

  /** gpu.js's webgpu kernels index in f32 (TOOLCHAIN.md): refuse sizes it would index wrongly. */
  private checkExact(file: string, threads: number, reads: DeviceArray[]): void {
    const big = Math.max(threads, ...reads.map((a) => a.host.length));
    if (big >= F32_EXACT)
      throw new FlowError(
        error(file, undefined, `too large for gpu:webgpu: an array of ${big} values, but its kernels compute indices in float32 (exact below 2^24 = ${F32_EXACT}); use --backend cpu`),
      );
  }

  async run(which: string, out: Float64Array): Promise<void> {
    const stages = this.programs.get(which);
    if (!stages) throw new Error(`internal: no program ${which}`);
    for (const a of this.dynamic) a.dirty = true;
    for (const s of stages) {
      if (s.kernels) await this.runKernels(s.kernels);
      s.fn(this.params, this.D, this.S, this.B, out, 0, s.nDomain, s.kernels ? this.SUMS : null);
      for (const w of s.writes) {
        const a = this.devices.get(w);
        if (a) a.dirty = true;
      }
    }
  }

  /** All kernels of a stage at once; their chunk partial sums added into SUMS in float64. */
  private async runKernels(kernels: KernelRun[]): Promise<void> {
    const results = await Promise.all(
      kernels.map(async (k) => {
        for (const a of k.reads) a.refresh();
        const { fn } = k.kernel;
        fn.setOutput([k.threads]);
        if (k.kernel.firstCallMs !== undefined) return fn(...k.args);
        const t0 = performance.now();
        const r = await fn(...k.args);
        k.kernel.firstCallMs = performance.now() - t0;
        return r;
      }),
    );
    kernels.forEach((k, ki) => {
      const r = results[ki] as ArrayLike<number> & ArrayLike<ArrayLike<number>>;
      const n = k.nDomain;
      const chunks = k.threads / n;
      const single = k.spec.buffers.length === 1;
      k.spec.buffers.forEach((b, c) => {
        const sums = this.SUMS[b];
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < chunks; j++) s += single ? (r[j * n + i] as number) : r[j * n + i][c];
          sums[i] = s;
        }
      });
    });
  }

  /**
   * Milliseconds per call of the kernels of the first velocity stage that has
   * any (best of a few calls after a warm-up that compiles them), or null when
   * every velocity stage runs on the host. For choosing a mode (gpu/select.ts).
   */
  async timeFirstStage(budgetMs = 300): Promise<number | null> {
    const s = (this.programs.get('velocity') ?? this.programs.get('firstVariation') ?? []).find((x) => x.kernels);
    if (!s) return null;
    for (const a of this.dynamic) a.dirty = true;
    await this.runKernels(s.kernels!);
    let best = Infinity;
    const start = performance.now();
    for (let rep = 0; rep < 5 && (rep === 0 || performance.now() - start < budgetMs); rep++) {
      const t0 = performance.now();
      await this.runKernels(s.kernels!);
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  }

  async setup(): Promise<void> {
    await this.run('setup', new Float64Array(0));
  }

  velocity(out: Float64Array): Promise<void> {
    return this.run('velocity', out);
  }

  observe(out: Float64Array): Promise<void> {
    return this.run('observe', out);
  }

  describe(): Record<string, unknown> {
    // compile_ms: the first call's wall time (gpu.js compiles then); null when
    // an earlier run in this process compiled the same kernel, or it never ran
    // kernels that never ran (the host velocity kernels of a resident run) are left out
    const kernels = this.reports.flatMap(({ program, stage, spec, kernel, threads, reused }) => {
      const first = kernel.firstCallMs;
      if (first === undefined) return [];
      const fallback = kernel.fn.kernel?.fallbackReason;
      return [
        {
          program,
          stage,
          buffers: spec.buffers,
          threads,
          compile_ms: reused ? null : Math.round(first * 10) / 10,
          ...(fallback ? { fell_back_to_cpu: fallback } : {}),
        },
      ];
    });
    const cpuStages = [...this.programs.entries()].flatMap(([p, ss]) => ss.flatMap((s, i) => (s.kernels ? [] : [`${p}[${i}]`])));
    const resident =
      'run' in this.resident && this.residentFailure === undefined
        ? { resident: true }
        : { resident: false, resident_why_not: 'run' in this.resident ? `the device refused the update kernel: ${this.residentFailure}` : this.resident.why };
    return { mode: this.mode, ...this.info, chunk: this.chunk, ...resident, kernels, ...(cpuStages.length ? { cpu_stages: cpuStages } : {}) };
  }

  dispose(): void {
    for (const a of this.devices.values()) a.dispose();
  }
}
