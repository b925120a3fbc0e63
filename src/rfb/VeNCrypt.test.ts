/**
 * VeNCrypt on a real socket: RfbServer's TCP port, Node's TLS client on the client side (a TLS
 * stack nobody here wrote; libvncclient's GnuTLS runs in test/vnc/NativeClient.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, createSecureContext } from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import { VmChannel } from '../server/VmChannel.ts';
import { VmRegistry, type LabVm } from '../server/VmRegistry.ts';
import { doubleBuffered, gvtVm, type TestVm } from '../testkit/node/LabRig.ts';
import { selfSignedCert, type SelfSignedCert } from '../testkit/node/SelfSignedCert.ts';
import type { GuestBuffer } from '../testkit/GvtGuest.ts';
import type { RfbSecurity } from './RfbConnection.ts';
import { RfbServer, type ChannelHost } from './RfbServer.ts';
import { vncAuthResponse } from './VncAuth.ts';

const W = 160;
const H = 100;

function channels(): ChannelHost {
  const map = new Map<LabVm, VmChannel>();
  return {
    channelFor: (vm) => map.get(vm) ?? (map.set(vm, new VmChannel(vm)), map.get(vm)!),
    channelUnused: (ch) => { if (ch.clientCount === 0) { map.delete(ch.vm); ch.dispose(); } },
  };
}

/** Exact reads from whichever socket RFB is on now (the TCP one, then TLS over it). */
class Reader {
  public closed = false;
  private _buf = Buffer.alloc(0);
  private _wake: (() => void) | undefined;
  public constructor(public socket: Socket) {
    this.attach(socket);
  }

  public attach(s: Socket): void {
    this.socket = s;
    s.on('data', (d: Buffer) => { this._buf = Buffer.concat([this._buf, d]); this._wake?.(); });
    s.on('close', () => { this.closed = true; this._wake?.(); });
    s.on('error', () => {});
  }

  public get buffered(): number {
    return this._buf.length;
  }

  public async read(n: number): Promise<Buffer> {
    while (this._buf.length < n) {
      if (this.closed) throw new Error(`closed with ${this._buf.length} of ${n} bytes`);
      await new Promise<void>((r) => { this._wake = r; });
    }
    const out = this._buf.subarray(0, n);
    this._buf = this._buf.subarray(n);
    return out;
  }

  /** Resolves once the socket has closed (the server closed it). */
  public async closedNow(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => { this._wake = r; });
  }
}

const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; };

/** RFB 3.8 up to VeNCrypt's subtype list. */
async function toSubtypes(port: number): Promise<{ r: Reader; subtypes: number[] }> {
  const s = tcpConnect({ host: '127.0.0.1', port });
  const r = new Reader(s);
  assert.equal((await r.read(12)).toString(), 'RFB 003.008\n');
  s.write('RFB 003.008\n');
  assert.deepEqual([...(await r.read(2))], [1, 19], 'VeNCrypt is the one security type');
  s.write(Buffer.of(19));
  assert.deepEqual([...(await r.read(2))], [0, 2]);
  s.write(Buffer.of(0, 2));
  const [ok, n] = [...(await r.read(2))];
  assert.equal(ok, 0);
  const list = await r.read(4 * n!);
  const subtypes = Array.from({ length: n! }, (_, i) => list.readUInt32BE(4 * i));
  return { r, subtypes };
}

/** RFB 3.8 up to VeNCrypt's ack; returns the offered subtypes and the ack byte. */
async function negotiate(port: number, subtype?: number): Promise<{ r: Reader; subtypes: number[]; ack: number }> {
  const { r, subtypes } = await toSubtypes(port);
  r.socket.write(u32(subtype ?? subtypes[0]!));
  const ack = (await r.read(1))[0]!;
  return { r, subtypes, ack };
}

/** TLS over the negotiated socket, trusting `ca` and checking the address as a client would. */
async function startTls(r: Reader, ca: Buffer): Promise<{ authorized: boolean }> {
  assert.equal(r.buffered, 0, 'nothing in clear after the ack');
  const t = tlsConnect({ socket: r.socket, ca, host: '127.0.0.1' });
  await new Promise<void>((res, rej) => { t.once('secureConnect', () => res()); t.once('error', rej); });
  r.attach(t);
  return { authorized: t.authorized };
}

describe('VeNCrypt X509 on RfbServer', () => {
  let dir = '';
  let cert: SelfSignedCert;
  let other: SelfSignedCert;
  let vm: TestVm;
  let shown: GuestBuffer;
  const servers: RfbServer[] = [];
  const logs: string[] = [];

  async function serve(security: RfbSecurity, tlsHandshakeMs?: number): Promise<RfbServer> {
    const s = new RfbServer({
      vms: new VmRegistry([vm]), channels: channels(), port: 0, security, log: (l) => logs.push(l),
      ...(tlsHandshakeMs === undefined ? {} : { tlsHandshakeMs }),
    });
    await s.listen();
    servers.push(s);
    return s;
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vencrypt-'));
    cert = selfSignedCert(dir, 'server');
    other = selfSignedCert(dir, 'other');
    vm = gvtVm('vm1');
    [shown] = doubleBuffered(vm, W, H);
    for (let y = 0; y < H; y++) vm.guest.fillRect(shown, 0, y, W, 1, 0xff000000 | (y * 2) << 16 | (255 - y), false);
    vm.guest.fillRect(shown, 30, 20, 40, 30, 0xffffffff, false);
    vm.refresh();
  });
  after(async () => {
    for (const s of servers) await s.close();
    vm?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('X509None: TLS with the server certificate, SecurityResult, ServerInit and a Raw frame equal to the guest, all inside TLS', async () => {
    const context = createSecureContext({ cert: cert.cert, key: cert.key });
    const server = await serve({ type: 'vencrypt', context });
    const { r, subtypes, ack } = await negotiate(server.ports[0]!.port);
    assert.deepEqual(subtypes, [260]);
    assert.equal(ack, 1);
    assert.equal((await startTls(r, cert.cert)).authorized, true);
    assert.equal((await r.read(4)).readUInt32BE(0), 0, 'SecurityResult ok');
    r.socket.write(Buffer.of(1));
    const init = await r.read(24);
    assert.deepEqual([init.readUInt16BE(0), init.readUInt16BE(2)], [W, H]);
    assert.equal((await r.read(init.readUInt32BE(20))).toString(), 'vm1');
    // SetEncodings [Raw], then a full FramebufferUpdateRequest; the server's format is B,G,R,X.
    r.socket.write(Buffer.concat([Buffer.of(2, 0, 0, 1), u32(0)]));
    r.socket.write(Buffer.from([3, 0, 0, 0, 0, 0, W >> 8, W & 255, H >> 8, H & 255]));
    let covered = 0;
    let bad = 0;
    while (covered < W * H) {
      const h = await r.read(4);
      assert.equal(h[0], 0, 'FramebufferUpdate');
      for (let i = h.readUInt16BE(2); i > 0; i--) {
        const rect = await r.read(12);
        const [x, y, w, hh] = [rect.readUInt16BE(0), rect.readUInt16BE(2), rect.readUInt16BE(4), rect.readUInt16BE(6)];
        assert.equal(rect.readInt32BE(8), 0, 'Raw');
        const px = await r.read(w * hh * 4);
        for (let j = 0; j < w * hh; j++) {
          const got = px.readUInt32LE(4 * j) & 0xffffff;
          if (got !== (vm.guest.peek(shown, x + (j % w), y + Math.floor(j / w)) & 0xffffff)) bad++;
        }
        covered += w * hh;
      }
    }
    assert.equal(bad, 0, `${bad} pixels differ`);
    r.socket.destroy();
  });

  it('a client that sends its ClientHello with the subtype, without waiting for the ack, still gets TLS', async () => {
    const server = await serve({ type: 'vencrypt', context: createSecureContext({ cert: cert.cert, key: cert.key }) });
    const { r } = await toSubtypes(server.ports[0]!.port);
    const raw = r.socket;
    raw.removeAllListeners('data');
    // Node's TLS client over a stream of ours: its first write (the ClientHello) leaves in one
    // TCP write together with the subtype; of the server's answer, the first byte is the ack.
    let first = true;
    let ack = -1;
    const pipe = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, done) {
        raw.write(first ? Buffer.concat([u32(260), chunk]) : chunk);
        first = false;
        done();
      },
    });
    raw.on('data', (d: Buffer) => {
      if (ack < 0) {
        ack = d[0]!;
        d = d.subarray(1);
      }
      if (d.length > 0) pipe.push(d);
    });
    // The server's handshake deadline ends a handshake that never completes: fail then, not hang.
    raw.on('close', () => pipe.destroy(new Error('the server closed the connection')));
    const t = tlsConnect({ socket: pipe as unknown as Socket, ca: cert.cert, host: '127.0.0.1' });
    await new Promise<void>((res, rej) => { t.once('secureConnect', () => res()); t.once('error', rej); });
    assert.equal(ack, 1);
    assert.equal(t.authorized, true);
    const tr = new Reader(t);
    assert.equal((await tr.read(4)).readUInt32BE(0), 0, 'SecurityResult ok inside TLS');
    t.write(Buffer.of(1));
    const init = await tr.read(24);
    assert.deepEqual([init.readUInt16BE(0), init.readUInt16BE(2)], [W, H]);
    raw.destroy();
  });

  it('the WebSocket path (/vnc/<vm>, TLS from wss there) offers the inner security: VNC Authentication, not VeNCrypt', async () => {
    const password = new TextEncoder().encode('s3cret');
    const server = await serve({ type: 'vencrypt', context: createSecureContext({ cert: cert.cert, key: cert.key }), password });
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (ws) => server.acceptWebSocket(vm, ws, 'ws-test'));
    const addr = wss.address();
    assert.ok(addr !== null && typeof addr === 'object');
    const ws = new WebSocket(`ws://127.0.0.1:${addr.port}/`);
    let got = Buffer.alloc(0);
    const types = await new Promise<number[]>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('message', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length === 12) ws.send(Buffer.from('RFB 003.008\n'));
        if (got.length >= 14) resolve([...got.subarray(12, 14)]);
      });
    });
    assert.deepEqual(types, [1, 2]);
    ws.close();
    await new Promise<void>((r) => wss.close(() => r()));
  });

  it('X509Vnc: the password is checked inside TLS; a wrong one fails with a reason', async () => {
    const password = new TextEncoder().encode('s3cret');
    const server = await serve({ type: 'vencrypt', context: createSecureContext({ cert: cert.cert, key: cert.key }), password });
    for (const [pw, result] of [['s3cret', 0], ['guess', 1]] as const) {
      const { r, subtypes, ack } = await negotiate(server.ports[0]!.port);
      assert.deepEqual(subtypes, [261]);
      assert.equal(ack, 1);
      await startTls(r, cert.cert);
      const challenge = await r.read(16);
      r.socket.write(vncAuthResponse(new TextEncoder().encode(pw), challenge));
      assert.equal((await r.read(4)).readUInt32BE(0), result, pw);
      if (result === 1) {
        const len = (await r.read(4)).readUInt32BE(0);
        assert.equal((await r.read(len)).toString(), 'authentication failed');
        await r.closedNow();
      }
      r.socket.destroy();
    }
  });

  it('a client that trusts another CA refuses the server; the server closes that client and keeps serving', async () => {
    const server = await serve({ type: 'vencrypt', context: createSecureContext({ cert: cert.cert, key: cert.key }) });
    const { r } = await negotiate(server.ports[0]!.port);
    await assert.rejects(startTls(r, other.cert), /self-signed certificate|unable to verify/);
    r.socket.destroy();
    await waitFor(() => server.clientCount === 0, 'the refused client is gone');
    const again = await negotiate(server.ports[0]!.port);
    assert.equal((await startTls(again.r, cert.cert)).authorized, true);
    again.r.socket.destroy();
  });

  it('bad VeNCrypt version or subtype: the refusal byte, then close; nothing else changes', async () => {
    const server = await serve({ type: 'vencrypt', context: createSecureContext({ cert: cert.cert, key: cert.key }) });
    const bad = await negotiate(server.ports[0]!.port, 257);
    assert.equal(bad.ack, 0, 'TLSNone (anonymous) is refused');
    await bad.r.closedNow();

    const s = tcpConnect({ host: '127.0.0.1', port: server.ports[0]!.port });
    const r = new Reader(s);
    await r.read(12);
    s.write('RFB 003.008\n');
    await r.read(2);
    s.write(Buffer.of(19));
    await r.read(2);
    s.write(Buffer.of(0, 1));
    assert.deepEqual([...(await r.read(1))], [1], 'version refused');
    await r.closedNow();
    await waitFor(() => server.clientCount === 0, 'both closed');
    assert.ok(logs.some((l) => /VeNCrypt TLSNone was not offered/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => /VeNCrypt version 0\.1 is not supported/.test(l)), logs.join('\n'));
  });

  it('a client that stalls in the TLS handshake, or sends garbage instead, is closed (bounded in time)', async () => {
    const server = await serve({ type: 'vencrypt', context: createSecureContext({ cert: cert.cert, key: cert.key }) }, 200);
    const stalled = await negotiate(server.ports[0]!.port);
    assert.equal(stalled.ack, 1);
    await stalled.r.closedNow();
    assert.ok(logs.some((l) => /TLS handshake not finished within 200 ms/.test(l)), logs.join('\n'));

    const garbage = await negotiate(server.ports[0]!.port);
    garbage.r.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await garbage.r.closedNow();
    assert.ok(logs.some((l) => /\bTLS: .*(wrong version|http request|packet length|unknown protocol)/i.test(l)), logs.join('\n'));
    await waitFor(() => server.clientCount === 0, 'no client left');
  });
});

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000 && !cond(); i++) await new Promise((r) => setTimeout(r, i < 100 ? 0 : 5));
  assert.ok(cond(), what);
}
