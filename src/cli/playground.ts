// `flowc playground`: serves the playground's static site (built by
// `npm run playground` into playground/dist) on 127.0.0.1 and prints its
// address. A plain static server over node:http: GET and HEAD of the files
// in that one folder, nothing else. It sends the two headers that make the
// page cross-origin isolated (COOP and COEP), so that the page may use
// WebAssembly shared memory: the cpu backend's module imports one.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { error, FlowError } from '../compiler/diagnostics.js';

/** playground/dist of this checkout (dist/src/cli/playground.js → ../../../playground/dist). */
export function defaultPlaygroundDir(): string {
  return fileURLToPath(new URL('../../../playground/dist', import.meta.url));
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** The file a request path names inside `root`, or undefined (outside it, or not a file). */
function fileFor(root: string, urlPath: string): string | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath.split('?')[0].split('#')[0]);
  } catch {
    return undefined;
  }
  if (rel.includes('\0')) return undefined;
  const file = path.resolve(root, `.${path.posix.normalize(`/${rel}`)}`);
  if (file !== root && !file.startsWith(root + path.sep)) return undefined;
  const target = fs.statSync(file, { throwIfNoEntry: false })?.isDirectory() ? path.join(file, 'index.html') : file;
  return fs.statSync(target, { throwIfNoEntry: false })?.isFile() ? target : undefined;
}

export function playgroundServer(root: string): http.Server {
  return http.createServer((req, res) => {
    const send = (status: number, body: string) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'only GET and HEAD\n');
    const file = fileFor(root, req.url ?? '/');
    if (!file) return send(404, 'not found\n');
    let body: Buffer;
    try {
      body = fs.readFileSync(file);
    } catch {
      return send(404, 'not found\n');
    }
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Length': body.length,
      'Cache-Control': 'no-cache',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
}

/** Serve `dir` on 127.0.0.1:`port` (0: any free port) until SIGINT or SIGTERM; prints the address. */
export async function servePlayground(options: { port: number; dir?: string }, out: (s: string) => void): Promise<number> {
  const root = path.resolve(options.dir ?? defaultPlaygroundDir());
  if (!fs.existsSync(path.join(root, 'index.html')))
    throw new FlowError(error(root, undefined, `no playground built here (no index.html); build it with \`npm run playground\`${options.dir ? '' : ' in the flowc folder'}`));
  const server = playgroundServer(root);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new FlowError(error(root, undefined, e.code === 'EADDRINUSE' ? `port ${options.port} on 127.0.0.1 is in use; choose another with --port` : `cannot serve on 127.0.0.1:${options.port}: ${e.message}`))),
    );
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  out(`flowc playground: serving ${root} at http://127.0.0.1:${port}/ (Ctrl-C stops)\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}
