import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClientMessage } from './ClientMessages.ts';
import { RfbConnection, type RfbSecurity } from './RfbConnection.ts';
import { vncAuthResponse } from './VncAuth.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

class Wire {
  public out: number[] = [];
  public closed: string | undefined;
  public messages: ClientMessage[] = [];
  public shared: boolean | undefined;
  public conn: RfbConnection;
  public constructor(security: RfbSecurity = { type: 'none' }, refuse?: string) {
    this.conn = new RfbConnection(
      { write: (b) => this.out.push(...b), close: (r) => { this.closed = r; } },
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
