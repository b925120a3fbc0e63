import { existsSync, readFileSync } from 'node:fs';

/** One file the server can send: bytes in memory, never a filesystem path. */
export interface StaticAsset {
  readonly body: Uint8Array;
  readonly type: string;
}

/** URL path ('/', '/viewer.js', …) → asset. Anything else is a 404, so traversal has no target. */
export type StaticAssets = ReadonlyMap<string, StaticAsset>;

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
  json: 'application/json; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  txt: 'text/plain; charset=utf-8',
};

const SAFE_NAME = /^[\w][\w.-]{0,99}$/u;

function typeOf(name: string): string {
  const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  return TYPES[ext] ?? 'application/octet-stream';
}

function bytesOf(v: unknown): Uint8Array | undefined {
  if (typeof v === 'string') return new TextEncoder().encode(v);
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return undefined;
}

/**
 * Turn what a web build returns into assets. Accepted shapes: a Map or plain object of file name →
 * string/bytes ('index.html', 'viewer.js', …; a leading '/' is fine), the same under `files`, or
 * `{ html, js, css }`. Names must be plain file names: no directories, no dots first.
 */
export function assetsFrom(output: unknown): Map<string, StaticAsset> {
  const out = new Map<string, StaticAsset>();
  if (typeof output !== 'object' || output === null) return out;
  let files: Iterable<[string, unknown]>;
  if (output instanceof Map) files = output as Map<string, unknown>;
  else if ('files' in output && typeof output.files === 'object') return assetsFrom(output.files);
  else files = Object.entries(output);
  for (const [rawName, value] of files) {
    const alias: Record<string, string> = { html: 'index.html', js: 'viewer.js', css: 'viewer.css' };
    const name = alias[rawName] ?? rawName.replace(/^\/+/, '');
    const body = bytesOf(value);
    if (body === undefined || !SAFE_NAME.test(name)) continue;
    out.set(`/${name}`, { body, type: typeOf(name) });
  }
  const index = out.get('/index.html');
  if (index !== undefined) out.set('/', index);
  return out;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page served when the viewer is not built (yet): says so instead of a blank 404. */
export function placeholderAssets(reason: string): Map<string, StaticAsset> {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vgpu-display</title></head>
<body>
<h1>vgpu-display lab server</h1>
<p>The browser viewer is not available: ${escapeHtml(reason)}</p>
<p>The WebSocket remote display protocol is served at <code>/ws</code>.</p>
</body></html>
`;
  const asset = { body: new TextEncoder().encode(html), type: TYPES.html! };
  return new Map([['/', asset], ['/index.html', asset]]);
}

/**
 * The viewer: from the repository, built in memory with `src/web/build.ts` (`buildViewer()`,
 * esbuild) so a source edit shows on the next start; from the package, the bundle the package
 * build wrote beside the compiled server (`dist/web/`: index.html, viewer.js, viewer.css).
 * Otherwise, or when the build fails, a placeholder page that says why.
 */
export async function loadViewerAssets(log: (line: string) => void = () => {}): Promise<Map<string, StaticAsset>> {
  const url = new URL('../web/build.ts', import.meta.url);
  if (!existsSync(url)) return prebuiltViewer();
  try {
    // A computed specifier: the web build is optional and type-checked in its own project.
    const mod = (await import(url.href)) as { buildViewer?: () => unknown };
    if (typeof mod.buildViewer !== 'function') return placeholderAssets('src/web/build.ts has no buildViewer().');
    const assets = assetsFrom(await mod.buildViewer());
    if (!assets.has('/')) return placeholderAssets('the viewer build produced no index.html.');
    return assets;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log(`viewer build failed: ${msg}`);
    return placeholderAssets(`the viewer build failed: ${msg.split('\n')[0]}`);
  }
}

const PREBUILT = ['index.html', 'viewer.js', 'viewer.css'] as const;

function prebuiltViewer(): Map<string, StaticAsset> {
  const files = PREBUILT.map((name) => [name, new URL(`../web/${name}`, import.meta.url)] as const);
  if (!files.every(([, u]) => existsSync(u))) {
    return placeholderAssets('neither src/web/build.ts nor a prebuilt viewer (dist/web/) exists.');
  }
  return assetsFrom(new Map(files.map(([name, u]) => [name, new Uint8Array(readFileSync(u))])));
}
