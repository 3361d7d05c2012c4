// Messages between the page (main.ts) and the run worker (run-worker.ts).

import type { Diagnostic } from '../../src/compiler/diagnostics.js';

export type BackendChoice = 'cpu' | 'cpu:js' | 'gpu:webgpu';

/** Slots of the shared control array (an Int32Array on a SharedArrayBuffer, when the page is cross-origin isolated). */
export const CTL = { STOP: 0, STEP: 1, LENGTH: 2 } as const;

export interface RunRequest {
  type: 'run';
  id: number;
  /** the spec's path in the worker's file system (relative to '/'): diagnostics name it */
  file: string;
  source: string;
  /** data files by path (relative to '/'), written before the run */
  data: Record<string, Uint8Array>;
  /** `--steps` */
  steps?: number;
  backend: BackendChoice;
  /** `--threads`; absent: as flowc run, every core from PARALLEL_MIN_PARTICLES particles on (one where memory cannot be shared) */
  threads?: number;
  /** CTL slots; absent: Stop comes as a message */
  ctl?: Int32Array;
}

export type ToWorker = RunRequest | { type: 'stop'; id: number };

export interface RunInfo {
  flow: string;
  energy: string;
  columns: string[];
  steps: number;
  /** the particles, when the flow has them and records their positions */
  particles?: { name: string; size: number; dim: number };
  /** fixed measures of the particles' dimension (the targets), drawn under them */
  samples: { name: string; size: number; dim: number; data: Float64Array }[];
  backend: string;
}

export type FromWorker =
  | { type: 'started'; id: number; info: RunInfo }
  | { type: 'record'; id: number; row: number[]; positions?: Float64Array }
  | { type: 'progress'; id: number; step: number; steps: number; rate: number }
  | {
      type: 'done';
      id: number;
      status: 'ok' | 'diverged' | 'interrupted';
      steps: number;
      /** steps per second over the run's steps (run.json's timings_ms.steps) */
      rate: number;
      message?: string;
      /** what ran (run.json's "backend") */
      backend: { name: string; precision: string; threads: number } & Record<string, unknown>;
      /** the run folder's files, as `flowc run` writes them */
      files: Record<string, Uint8Array>;
      dir: string;
      warnings: Diagnostic[];
    }
  | { type: 'failed'; id: number; diagnostics: Diagnostic[] };
