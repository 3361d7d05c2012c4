// node:child_process in the browser build: there are no processes to start.

export function spawn(): never {
  throw new Error('playground: no child processes in a browser');
}
export const spawnSync = spawn;
export default { spawn, spawnSync };
