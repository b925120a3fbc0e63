#!/usr/bin/env node
// vnc-check [HOST:]PORT — the smallest RFB 3.8 client: handshake (security None), ask for the
// whole screen in Raw, and print the first FramebufferUpdate. Exit 0 when one arrived.
import { connect } from 'node:net';

const arg = process.argv[2] ?? '';
const m = /^(?:(.+):)?(\d+)$/.exec(arg);
if (!m) {
  console.error('usage: vnc-check [HOST:]PORT');
  process.exit(2);
}
const host = m[1] ?? '127.0.0.1';
const sock = connect({ host, port: Number(m[2]) });
let buf = Buffer.alloc(0);
let step = 'version';
let width = 0;
let height = 0;
const fail = (why) => { console.error(`vnc-check: ${why}`); process.exit(1); };
setTimeout(() => fail('no FramebufferUpdate within 60 s'), 60_000).unref();
sock.on('error', (e) => fail(e.message));
sock.on('close', () => fail(`connection closed during ${step}`));
sock.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  for (;;) {
    if (step === 'version' && buf.length >= 12) {
      const v = buf.subarray(0, 12).toString();
      if (v !== 'RFB 003.008\n') fail(`server speaks ${JSON.stringify(v)}`);
      buf = buf.subarray(12);
      sock.write('RFB 003.008\n');
      step = 'security';
    } else if (step === 'security' && buf.length >= 1 && buf.length >= 1 + buf[0]) {
      const types = [...buf.subarray(1, 1 + buf[0])];
      if (!types.includes(1)) fail(`no security type None offered (${types})`);
      buf = buf.subarray(1 + buf[0]);
      sock.write(Buffer.of(1));
      step = 'result';
    } else if (step === 'result' && buf.length >= 4) {
      if (buf.readUInt32BE(0) !== 0) fail('security failed');
      buf = buf.subarray(4);
      sock.write(Buffer.of(1)); // shared
      step = 'init';
    } else if (step === 'init' && buf.length >= 24 && buf.length >= 24 + buf.readUInt32BE(20)) {
      width = buf.readUInt16BE(0);
      height = buf.readUInt16BE(2);
      const name = buf.subarray(24, 24 + buf.readUInt32BE(20)).toString();
      buf = buf.subarray(24 + buf.readUInt32BE(20));
      console.log(`ServerInit: ${width}x${height} "${name}"`);
      const enc = Buffer.from([2, 0, 0, 1, 0, 0, 0, 0]); // SetEncodings: Raw
      const req = Buffer.alloc(10);
      req[0] = 3;
      req.writeUInt16BE(width, 6);
      req.writeUInt16BE(height, 8);
      sock.write(Buffer.concat([enc, req]));
      step = 'update';
    } else if (step === 'update' && buf.length >= 4) {
      if (buf[0] !== 0) fail(`expected a FramebufferUpdate, got message type ${buf[0]}`);
      console.log(`FramebufferUpdate: ${buf.readUInt16BE(2)} rectangle(s) for ${width}x${height}`);
      step = 'done';
      sock.removeAllListeners('close');
      sock.destroy();
      process.exit(0);
    } else {
      return;
    }
  }
});
