import { build } from 'esbuild';

/** The viewer as three in-memory files, ready to serve (see buildViewer). */
export interface ViewerBundle {
  /** ES module, served as `viewer.js` (the page loads it relative to itself). */
  readonly js: string;
  /** Served as `viewer.css`. */
  readonly css: string;
  /** Served as `index.html` (or at `/`). */
  readonly html: string;
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
<link rel="stylesheet" href="viewer.css">
<script type="module" src="viewer.js"></script>
</head>
<body>
<div id="app"><noscript>The vgpu-display viewer needs JavaScript.</noscript></div>
</body>
</html>
`;

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
  return { js: text(js), css: text(css), html: VIEWER_HTML };
}
