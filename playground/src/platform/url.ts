// node:url in the browser build: file: URLs of the in-memory file system.

export function fileURLToPath(url: string | URL): string {
  const u = typeof url === 'string' ? new URL(url) : url;
  if (u.protocol !== 'file:') throw new TypeError(`not a file URL: ${String(url)}`);
  return decodeURIComponent(u.pathname);
}

export function pathToFileURL(p: string): URL {
  return new URL(`file://${encodeURI(p)}`);
}

export default { fileURLToPath, pathToFileURL };
