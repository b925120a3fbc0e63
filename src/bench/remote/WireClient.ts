// Child-process entry of the remote benchmark's viewer: a bare WebSocket client that attaches to a
// VM and counts what arrives, so the server process's CPU figures never include the client's.
// IPC in:  {kind:'connect', url, vm ('-' = no ATTACH), types: [message type codes to report]},
//          {kind:'bytes', id}, {kind:'disconnect'}, {kind:'exit'}.
// IPC out: {kind:'ready'}, {kind:'open', conn}, {kind:'msg', conn, type, sock, messages},
//          {kind:'bytes', id, sock, messages}, {kind:'closed', conn}, {kind:'error', message}.
import { WebSocket } from 'ws';
import { encodeAttach } from '../../protocol/RemoteProtocol.ts';

interface Command { kind: 'connect' | 'bytes' | 'disconnect' | 'exit'; url?: string; vm?: string; types?: number[]; id?: number }

const send = (m: unknown): void => { process.send?.(m); };
let ws: WebSocket | undefined;
let conn = 0;
let messages = 0;
let report = new Set<number>();
const sock = (): number => (ws as unknown as { _socket?: { bytesRead: number } } | undefined)?._socket?.bytesRead ?? 0;

function connect(c: Command): void {
  ws?.terminate();
  const id = ++conn;
  messages = 0;
  report = new Set(c.types ?? []);
  const w = new WebSocket(c.url!, { perMessageDeflate: false });
  ws = w;
  w.on('open', () => {
    if (c.vm !== undefined && c.vm !== '-') w.send(encodeAttach(c.vm));
    send({ kind: 'open', conn: id });
  });
  w.on('message', (data: Buffer) => {
    if (w !== ws) return;
    messages++;
    const type = data[0] ?? 0;
    if (report.has(type)) send({ kind: 'msg', conn: id, type, sock: sock(), messages });
  });
  w.on('error', (err) => send({ kind: 'error', message: String(err) }));
  w.on('close', () => send({ kind: 'closed', conn: id }));
}

process.on('message', (c: Command) => {
  if (c.kind === 'connect') connect(c);
  else if (c.kind === 'bytes') send({ kind: 'bytes', id: c.id, sock: sock(), messages });
  else if (c.kind === 'disconnect') ws?.close();
  else if (c.kind === 'exit') {
    ws?.terminate();
    process.disconnect?.();
  }
});
process.on('disconnect', () => {
  ws?.terminate();
  process.exit(0);
});
send({ kind: 'ready' });
