// node:os in the browser build: what flowc's runtime asks (byte order, cores).

const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const cores = () => Math.max(1, (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency ?? 1);

export const endianness = (): 'LE' | 'BE' => (little ? 'LE' : 'BE');
export const availableParallelism = cores;
export const cpus = () => Array.from({ length: cores() }, () => ({ model: 'browser', speed: 0 }));
export const homedir = () => '/';
export const hostname = () => 'browser';
export const tmpdir = () => '/tmp';
export const platform = () => 'browser';
export const EOL = '\n';

export default { endianness, availableParallelism, cpus, homedir, hostname, tmpdir, platform, EOL };
