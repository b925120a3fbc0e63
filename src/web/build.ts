import { build } from 'esbuild';
import { encodePng } from '../render/Png.ts';

/** The viewer as three in-memory files, ready to serve (see buildViewer). */
export interface ViewerBundle {
  /** ES module, served as `viewer.js` (the page loads it relative to itself). */
  readonly js: string;
  /** Served as `viewer.css`. */
  readonly css: string;
  /** Served as `index.html` (or at `/`). */
  readonly html: string;
  /** The tab icon (browsers ask for /favicon.ico: answered, never a 404). */
  readonly 'favicon.ico': Uint8Array;
}

export interface BuildOptions {
  /** Minify (default false: readable stack traces in a lab tool). */
  readonly minify?: boolean;
  /** Inline source map in the JS (default true). */
  readonly sourcemap?: boolean;
}

/** Files next to this one, as absolute paths (no Node API: only import.meta.url). */
function here(name: string): string {
  return decodeURIComponent(new URL(name, import.meta.url).pathname);
}

/** The page: relative URLs, so it works below any prefix the server mounts it at. */
export const VIEWER_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vgpu-display</title>
<link rel="icon" href="favicon.ico">
<link rel="stylesheet" href="viewer.css">
<script type="module" src="viewer.js"></script>
</head>
<body>
<div id="app"><noscript>The vgpu-display viewer needs JavaScript.</noscript></div>
</body>
</html>
`;

/** A 32×32 icon: a monitor in the viewer's accent blue. ICO holding one PNG (Vista+ format). */
export function faviconIco(): Uint8Array {
  const n = 32;
  const rgba = new Uint8Array(n * n * 4);
  const put = (x: number, y: number, c: readonly number[]): void => rgba.set(c, (y * n + x) * 4);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const frame = x >= 2 && x < 30 && y >= 4 && y < 24;
      const glass = x >= 4 && x < 28 && y >= 6 && y < 22;
      const stand = (x >= 13 && x < 19 && y >= 24 && y < 27) || (x >= 9 && x < 23 && y >= 27 && y < 29);
      if (glass) put(x, y, y < 14 ? [0x6a, 0xb0, 0xff, 255] : [0x2a, 0x5a, 0x9a, 255]);
      else if (frame || stand) put(x, y, [0xd8, 0xd8, 0xde, 255]);
    }
  }
  const png = encodePng(rgba, n, n);
  const ico = new Uint8Array(22 + png.byteLength);
  const v = new DataView(ico.buffer);
  v.setUint16(2, 1, true); // type: icon
  v.setUint16(4, 1, true); // one image
  ico[6] = n;
  ico[7] = n;
  v.setUint16(10, 1, true); // planes
  v.setUint16(12, 32, true); // bits per pixel
  v.setUint32(14, png.byteLength, true);
  v.setUint32(18, 22, true);
  ico.set(png, 22);
  return ico;
}

/**
 * Bundle the browser viewer (src/web/main.ts and viewer.css) with esbuild in memory (nothing is
 * written to disk), for the server to serve at `index.html`, `viewer.js` and `viewer.css`.
 */
export async function buildViewer(options: BuildOptions = {}): Promise<ViewerBundle> {
  const common = {
    bundle: true, write: false, minify: options.minify ?? false, logLevel: 'silent' as const,
    target: 'chrome120', legalComments: 'none' as const,
  };
  const [js, css] = await Promise.all([
    build({ ...common, entryPoints: [here('./main.ts')], format: 'esm', platform: 'browser',
      sourcemap: options.sourcemap ?? true ? 'inline' : false, outfile: 'viewer.js' }),
    build({ ...common, entryPoints: [here('./viewer.css')], outfile: 'viewer.css' }),
  ]);
  const text = (r: typeof js): string => r.outputFiles?.[0]?.text ?? '';
  return { js: text(js), css: text(css), html: VIEWER_HTML, 'favicon.ico': faviconIco() };
}
