import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ConnectionGate } from './ConnectionGate.ts';

/** Open a TCP connection from a given loopback address (127.0.0.N are distinct peers on lo). */
function openFrom(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
}

function get(port: number, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, localAddress, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

describe('ConnectionGate', () => {
  it('idle pre-auth sockets from many addresses do not stop a viewer, and stay bounded', async () => {
    const refused: string[] = [];
    const gate = new ConnectionGate({
      maxConnections: 24, maxPerAddress: 4, maxPending: 8, pendingDeadlineMs: 60_000,
      onRefuse: (why) => refused.push(why),
    });
    const server = createServer((req, res) => { gate.promote(req.socket); res.end('ok'); });
    gate.attach(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const idle: Socket[] = [];
    try {
      // 20 attacker addresses × 6 idle sockets each: 120 connection attempts that never send a byte.
      for (let a = 2; a < 22; a++) {
        for (let i = 0; i < 6; i++) {
          const s = await openFrom(port, `127.0.0.${a}`);
          s.on('error', () => {});
          idle.push(s);
        }
      }
      await until(() => gate.stats.open <= 8 && refused.length >= 120 - 8, `pending bounded: ${JSON.stringify(gate.stats)}`);
      assert.ok(gate.stats.refusedPerAddress >= 20 * 2, 'the per-address cap refused the 5th and 6th socket of each address');
      // The viewer still gets served.
      assert.equal(await get(port, '127.0.0.1'), 200);
      assert.ok(gate.stats.open <= 24, `total bounded: ${gate.stats.open}`);
    } finally {
      for (const s of idle) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  it('closes a connection that sends no valid request before the deadline', async () => {
    const gate = new ConnectionGate({ pendingDeadlineMs: 50 });
    const server = createServer((req, res) => { gate.promote(req.socket); res.end('ok'); });
    gate.attach(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const s = await openFrom(port, '127.0.0.1');
      s.on('error', () => {});
      await closed(s);
      assert.equal(gate.stats.timedOut, 1);
      await until(() => gate.stats.open === 0, 'the server side of the socket is forgotten');
      // A connection that sends a request in time is promoted and served.
      assert.equal(await get(port, '127.0.0.1'), 200);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('refuses a bad configuration', () => {
    assert.throws(() => new ConnectionGate({ maxPending: 0 }), /maxPending must be a positive integer/);
    assert.throws(() => new ConnectionGate({ maxConnections: 1.5 }), /maxConnections/);
  });
});
