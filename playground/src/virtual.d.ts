// Modules made by build.mjs.
declare module 'virtual:worker' {
  /** the run worker's bundled code (run-worker.ts) */
  const source: string;
  export default source;
}
declare module 'virtual:examples' {
  const examples: { specs: { name: string; source: string }[]; data: Record<string, string> };
  export default examples;
}
