// flowc as a library: compile and run (src/library.ts) for programs and
// notebooks; the lower layers the CLI is built on; the figures of a run folder.
export { compile, run, plot, report, type CompileOptions, type Flow, type FlowResult, type Positions, type RunFlowOptions } from './library.js';
export { compileFile, compileOrThrow, runCompiled, runFile, prepareInputs, type FlowOptions, type RunOptions, type FlowRun } from './api.js';
export { compile as compileSource, type Compiled, type CompileResult } from './compiler/compile.js';
export type { PlotOptions } from './draw/plot.js';
export { FlowError, formatDiagnostic, type Diagnostic } from './compiler/diagnostics.js';
export type { RunResult, Trace } from './runtime/simulate.js';
