// The latency bench's viewer: a WebSocket client on its own thread, so it reads the server's
// bytes when the kernel delivers them — as a viewer in another process does — and not only after
// the server's event loop has finished its turn (a client on the server's thread reads then).
// It attaches to `vm` and posts the time of every socket read (process.hrtime, ms: one clock for
// every thread of the process). workerData: { url, vm }.
import { parentPort, workerData } from 'node:worker_threads';
import { WebSocket } from 'ws';
import { encodeAttach } from '../protocol/RemoteProtocol.ts';

/** What the worker posts: 'open' once attached, then one read time (ms) per socket read. */
export type WireClientMessage = 'open' | number;

const { url, vm } = workerData as { url: string; vm: string };
const ws = new WebSocket(url, { perMessageDeflate: false });
ws.once('open', () => {
  const socket = (ws as unknown as { _socket: NodeJS.EventEmitter })._socket;
  socket.on('data', () => parentPort!.postMessage(Number(process.hrtime.bigint()) / 1e6));
  ws.send(encodeAttach(vm));
  parentPort!.postMessage('open');
});
ws.once('error', (e) => { throw e; });
parentPort!.on('message', (m) => {
  if (m === 'close') {
    ws.terminate();
    parentPort!.close();
  }
});
