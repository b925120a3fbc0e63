import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * The module `rel` (written with `.ts`) beside `base` (an `import.meta.url`): the `.ts` file when
 * `base` runs from the sources under tsx (the repository), the `.js` file when it was compiled
 * (the package's dist/).
 */
export function siblingModule(rel: string, base: string): URL {
  return new URL(base.endsWith('.ts') ? rel : rel.replace(/\.ts$/, '.js'), base);
}

/**
 * Start a worker running the module at `url`. A `.ts` module must register tsx in the worker
 * before it loads (Node 20 ignores --import in a worker's execArgv); compiled JS needs none of that.
 */
export function startModuleWorker(url: URL, opts: WorkerOptions = {}): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, opts);
  const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(code, { ...opts, eval: true });
}

/** Start a worker from a module next to this one (see siblingModule). */
export function startWorker(rel: string, opts: WorkerOptions = {}): Worker {
  return startModuleWorker(siblingModule(rel, import.meta.url), opts);
}
