// Preloaded (`node --import`) into a CLI process by src/cli/ExitCodes.test.ts: appends a line to
// $START_PROBE_LOG whenever the process starts something a bad flag must never start — a listening
// socket (every server is a net.Server) or a worker thread (every guest boots in one).
import { appendFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import workerThreads from 'node:worker_threads';

const log = process.env.START_PROBE_LOG;
const record = (what) => { if (log) appendFileSync(log, `${what}\n`); };

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  record('listen');
  return listen.apply(this, args);
};

const Worker = workerThreads.Worker;
workerThreads.Worker = class extends Worker {
  constructor(...args) {
    record('worker');
    super(...args);
  }
};
// ESM importers of node:worker_threads see the patched class too.
syncBuiltinESMExports();
