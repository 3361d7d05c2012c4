// flowc as a library.
export { compileFile, compileOrThrow, runCompiled, runFile, prepareInputs, type FlowOptions, type RunOptions, type FlowRun } from './api.js';
export { compile, type Compiled, type CompileResult } from './compiler/compile.js';
export { FlowError, formatDiagnostic, type Diagnostic } from './compiler/diagnostics.js';
export type { RunResult, Trace } from './runtime/simulate.js';
