import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Start a worker from a module next to this one. Under tsx (running from src/*.ts) the worker
 * must register tsx itself before importing the .ts entry (Node 20 ignores --import in a worker's
 * execArgv); compiled JS needs none of that.
 */
export function startWorker(rel: string, opts: WorkerOptions = {}): Worker {
  const isTs = import.meta.url.endsWith('.ts');
  const url = new URL(isTs ? rel : rel.replace(/\.ts$/, '.js'), import.meta.url);
  if (!isTs) return new Worker(url, opts);
  const entry = JSON.stringify(url.href);
  const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${entry}); })`;
  return new Worker(code, { ...opts, eval: true });
}
