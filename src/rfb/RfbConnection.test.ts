import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSecureContext } from 'node:tls';
import type { ClientMessage } from './ClientMessages.ts';
import { RfbConnection, type RfbSecurity } from './RfbConnection.ts';
import { vncAuthResponse } from './VncAuth.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

class Wire {
  public out: number[] = [];
  public closed: string | undefined;
  public messages: ClientMessage[] = [];
  public shared: boolean | undefined;
  /** What the connection handed to the transport's TLS (undefined: TLS not started). */
  public tlsPending: number[] | undefined;
  public conn: RfbConnection;
  public constructor(security: RfbSecurity = { type: 'none' }, refuse?: string) {
    this.conn = new RfbConnection(
      { write: (b) => this.out.push(...b), close: (r) => { this.closed = r; }, startTls: (p) => { this.tlsPending = [...p]; } },
      security,
      {
        init: (shared) => { this.shared = shared; return refuse ? { refuse } : { width: 640, height: 480, name: 'vm1' }; },
        message: (m) => this.messages.push(m),
      });
  }
  public take(n: number): number[] {
    assert.ok(this.out.length >= n, `expected ${n} bytes, have ${this.out.length}`);
    return this.out.splice(0, n);
  }
  public send(...bytes: Array<number[] | Uint8Array>): void {
    for (const b of bytes) this.conn.receive(Uint8Array.from(b));
  }
}

describe('RfbConnection', () => {
  it('3.8 with None: version, types, SecurityResult, ServerInit, then messages in any split', () => {
    const w = new Wire();
    assert.deepEqual(w.take(12), [...text('RFB 003.008\n')]);
    w.send(text('RFB 003.008\n'));
    assert.deepEqual(w.take(2), [1, 1], 'one type: None');
    w.send([1]);
    assert.deepEqual(w.take(4), [0, 0, 0, 0], 'SecurityResult ok');
    w.send([1]);
    assert.equal(w.shared, true);
    const init = w.take(24 + 3);
    assert.deepEqual(init.slice(0, 4), [2, 128, 1, 224], '640×480');
    assert.deepEqual(init.slice(20, 27), [0, 0, 0, 3, ...text('vm1')]);
    assert.equal(w.out.length, 0);
    // A key event split byte by byte, then two requests in one chunk.
    for (const b of [4, 1, 0, 0, 0, 0, 0xff, 0x0d]) w.send([b]);
    w.send([3, 0, 0, 0, 0, 0, 2, 128, 1, 224, 3, 1, 0, 0, 0, 0, 0, 1, 0, 1]);
    assert.deepEqual(w.messages.map((m) => m.type), ['key', 'update-request', 'update-request']);
  });

  it('3.7 None sends no SecurityResult; 3.3 lets the server pick the type', () => {
    const w7 = new Wire();
    w7.take(12);
    w7.send(text('RFB 003.007\n'), [1], [0]);
    assert.deepEqual(w7.take(2), [1, 1]);
    assert.equal(w7.out.length, 24 + 3, 'straight to ServerInit');
    assert.equal(w7.shared, false);
    const w3 = new Wire();
    w3.take(12);
    w3.send(text('RFB 003.003\n'));
    assert.deepEqual(w3.take(4), [0, 0, 0, 1], 'U32 type None');
    w3.send([1]);
    assert.equal(w3.out.length, 24 + 3);
  });

  it('VNC authentication: the right response passes, a wrong one fails with a reason (3.8)', () => {
    const password = text('secret');
    const ok = new Wire({ type: 'vnc', password });
    ok.take(12);
    ok.send(text('RFB 003.008\n'));
    assert.deepEqual(ok.take(2), [1, 2]);
    ok.send([2]);
    const challenge = Uint8Array.from(ok.take(16));
    ok.send(vncAuthResponse(password, challenge));
    assert.deepEqual(ok.take(4), [0, 0, 0, 0]);
    ok.send([1]);
    assert.equal(ok.conn.state, 'normal');

    const bad = new Wire({ type: 'vnc', password });
    bad.take(12);
    bad.send(text('RFB 003.008\n'), [2]);
    bad.take(2 + 16);
    bad.send(new Uint8Array(16));
    const result = bad.take(8);
    assert.deepEqual(result.slice(0, 4), [0, 0, 0, 1]);
    assert.equal(Buffer.from(bad.out).toString(), 'authentication failed');
    assert.equal(bad.closed, 'authentication failed');
    assert.equal(bad.shared, undefined, 'never reached init');
  });

  it('refuses garbage versions, unoffered security types, bad messages and refused inits with a reason', () => {
    const g = new Wire();
    g.take(12);
    g.send(text('GET / HTTP/1'));
    assert.deepEqual(g.take(4), [0, 0, 0, 0]);
    assert.match(g.closed ?? '', /not an RFB version/);

    const s = new Wire();
    s.take(12);
    s.send(text('RFB 003.008\n'), [2]);
    assert.match(s.closed ?? '', /security type 2 was not offered/);

    const m = new Wire();
    m.take(12);
    m.send(text('RFB 003.008\n'), [1], [1], [9, 9, 9]);
    assert.match(m.closed ?? '', /type 9 is unknown/);
    m.send([4, 1, 0, 0, 0, 0, 0, 65]);
    assert.equal(m.messages.length, 0, 'nothing after close');

    const r = new Wire({ type: 'none' }, 'an exclusive client is connected');
    r.take(12);
    r.send(text('RFB 003.008\n'), [1], [0]);
    assert.equal(r.closed, 'an exclusive client is connected');
  });

  // VeNCrypt as QEMU's ui/vnc-auth-vencrypt.c and libvncclient speak it. The TLS itself is the
  // transport's (RfbServer.test.ts runs it on a real socket); here it is a hand-off and a callback.
  const u32 = (v: number): number[] => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  const context = createSecureContext();

  it('VeNCrypt X509None: version 0.2, one subtype, ack 1, TLS, then SecurityResult ok and init', () => {
    const w = new Wire({ type: 'vencrypt', context });
    w.take(12);
    w.send(text('RFB 003.008\n'));
    assert.deepEqual(w.take(2), [1, 19], 'one type: VeNCrypt');
    w.send([19]);
    assert.deepEqual(w.take(2), [0, 2], 'VeNCrypt 0.2');
    w.send([0, 2]);
    assert.deepEqual(w.take(6), [0, 1, ...u32(260)], 'version ok, subtypes: X509None');
    // The subtype and the first TLS bytes in one chunk: those go to the transport's TLS.
    w.send([...u32(260), 0x16, 0x03, 0x01]);
    assert.deepEqual(w.take(1), [1], 'subtype ack');
    assert.deepEqual(w.tlsPending, [0x16, 0x03, 0x01]);
    assert.equal(w.conn.state, 'tls');
    assert.equal(w.out.length, 0, 'nothing in clear after the ack');
    w.conn.tlsEstablished();
    assert.deepEqual(w.take(4), [0, 0, 0, 0], 'SecurityResult ok');
    assert.equal(w.conn.vencryptSubtype, 'X509None');
    w.send([1]);
    assert.equal(w.shared, true);
    assert.equal(w.conn.state, 'normal');
  });

  it('VeNCrypt X509Vnc: only X509Vnc is offered with a password, and VNC Authentication runs inside TLS', () => {
    const password = text('secret');
    const w = new Wire({ type: 'vencrypt', context, password });
    w.take(12);
    w.send(text('RFB 003.007\n'), [19], [0, 2]);
    assert.deepEqual(w.take(2 + 2 + 6), [1, 19, 0, 2, 0, 1, ...u32(261)], 'X509None is not offered next to the password');
    w.send(u32(261));
    assert.deepEqual(w.take(1), [1]);
    assert.deepEqual(w.tlsPending, []);
    w.conn.tlsEstablished();
    const challenge = Uint8Array.from(w.take(16));
    w.send(vncAuthResponse(password, challenge));
    assert.deepEqual(w.take(4), [0, 0, 0, 0]);
    w.send([0]);
    assert.equal(w.shared, false);

    const bad = new Wire({ type: 'vencrypt', context, password });
    bad.take(12);
    bad.send(text('RFB 003.008\n'), [19], [0, 2], u32(261));
    bad.conn.tlsEstablished();
    bad.take(2 + 2 + 6 + 1 + 16);
    bad.send(new Uint8Array(16));
    assert.deepEqual(bad.take(4), [0, 0, 0, 1]);
    assert.equal(bad.closed, 'authentication failed');
    assert.equal(bad.shared, undefined);
  });

  it('VeNCrypt refusals: another version gets 1, an unoffered subtype gets 0, RFB 3.3 gets a reason; all close', () => {
    const v = new Wire({ type: 'vencrypt', context });
    v.take(12);
    v.send(text('RFB 003.008\n'), [19]);
    v.take(2 + 2);
    v.send([0, 1]);
    assert.deepEqual(v.out, [1], 'version refused');
    assert.match(v.closed ?? '', /VeNCrypt version 0\.1 is not supported/);

    for (const sub of [256, 257, 262, 0xffffffff]) {
      const s = new Wire({ type: 'vencrypt', context });
      s.take(12);
      s.send(text('RFB 003.008\n'), [19], [0, 2]);
      s.take(2 + 2 + 6);
      s.send(u32(sub));
      assert.deepEqual(s.out, [0], `subtype ${sub} refused`);
      assert.match(s.closed ?? '', /was not offered \(offered: X509None\)/);
      assert.equal(s.tlsPending, undefined, 'no TLS started');
    }

    // The client may not skip VeNCrypt by picking None or VNC Authentication.
    for (const t of [1, 2]) {
      const n = new Wire({ type: 'vencrypt', context, password: text('pw') });
      n.take(12);
      n.send(text('RFB 003.008\n'), [t]);
      assert.match(n.closed ?? '', new RegExp(`security type ${t} was not offered`));
    }

    const old = new Wire({ type: 'vencrypt', context });
    old.take(12);
    old.send(text('RFB 003.003\n'));
    assert.deepEqual(old.take(4), [0, 0, 0, 0], '3.3: type 0 (failed), never None');
    assert.match(Buffer.from(old.out.slice(4)).toString(), /needs RFB 3\.7 or later/);
    assert.equal(old.closed, 'this server needs VeNCrypt (TLS), which needs RFB 3.7 or later');

    // Bytes in clear before the transport reports TLS up are never parsed as RFB.
    const early = new Wire({ type: 'vencrypt', context });
    early.take(12);
    early.send(text('RFB 003.008\n'), [19], [0, 2], u32(260));
    early.send([1]);
    assert.equal(early.closed, 'bytes in clear during the TLS handshake');
    early.conn.tlsEstablished();
    assert.equal(early.shared, undefined);
    assert.deepEqual(early.out, [1, 19, 0, 2, 0, 1, ...u32(260), 1], 'no SecurityResult after the close');
  });

  it('closes a client whose input cannot form a message within the bound', () => {
    const w = new Wire();
    w.take(12);
    w.send(text('RFB 003.008\n'), [1], [1]);
    // A ClientCutText announcing 1 MiB (the limit), then 2 MiB in one chunk.
    w.send([6, 0, 0, 0, 0, 0x10, 0, 0]);
    w.send(new Uint8Array(2 << 20));
    assert.equal(w.messages.length, 0);
    assert.match(w.closed ?? '', /more than \d+ bytes/);
  });
});
