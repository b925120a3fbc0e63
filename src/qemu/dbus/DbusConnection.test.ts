import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { libc, MFD_CLOEXEC } from '../../linux/Libc.ts';
import { PrivateBus } from '../../testkit/node/PrivateBus.ts';
import { DbusConnection, DbusError, ERR } from './DbusConnection.ts';
import { MessageType, encodeMessage, type Variant } from './DbusWire.ts';
import { UnixSocket, getuid, socketPair } from './UnixSocket.ts';

const run = promisify(execFile);

function memfdWith(text: string): number {
  const c = libc();
  const fd = c.memfdCreate('t', MFD_CLOEXEC);
  const b = Buffer.from(text);
  c.write(fd, b, b.length);
  return fd;
}

function readFd(fd: number): string {
  const c = libc();
  const b = new Uint8Array(64);
  const n = c.pread(fd, b, 64, 0);
  return Buffer.from(b.subarray(0, Math.max(0, n))).toString();
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

function waitFor<T>(fn: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = (): void => {
      const v = fn();
      if (v !== undefined && v !== false) return resolve(v);
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

const ECHO = {
  methods: {
    Echo: { in: 's', out: 's', fn: (a: unknown[]) => [a[0]] },
    Sum: { in: 'ai', out: 'x', fn: (a: unknown[]) => [BigInt((a[0] as number[]).reduce((s, x) => s + x, 0))] },
    ReadFd: { in: 'h', out: 's', fn: (a: unknown[], ctx: { message: { fds: number[] } }) => [readFd(ctx.message.fds[a[0] as number]!)] },
    All: {
      in: 'ybnqiuxtdsogav(yi)a{sv}', out: 'ybnqiuxtdsogav(yi)a{sv}',
      fn: (a: unknown[]) => a,
    },
  },
  properties: (): Record<string, Variant> => ({ Answer: { sig: 'u', value: 42 } }),
};

describe('DbusConnection against a real dbus-daemon and gdbus', () => {
  let bus: PrivateBus;
  before(async () => { bus = await PrivateBus.start(); });
  after(() => bus.stop());

  it('says Hello, decodes the daemon\'s a{sv} credentials, serves an object gdbus can call', async () => {
    const c = await DbusConnection.connectBus(bus.address);
    try {
      assert.match(c.uniqueName, /^:1\.\d+$/, 'a unique name from Hello');
      assert.equal(c.unixFds, true, 'the daemon agrees to fd passing');
      const cred = await c.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'GetConnectionCredentials', signature: 's', body: [c.uniqueName] });
      const entries = new Map(cred.body[0] as [string, Variant][]);
      assert.equal(entries.get('UnixUserID')?.value, getuid(), 'our uid in the credentials');
      assert.equal(entries.get('ProcessID')?.value, process.pid, 'our pid in the credentials');
      c.serve('/test/Obj', 'org.example.T', ECHO);
      const addr = ['--address', bus.address, '--dest', c.uniqueName, '--object-path', '/test/Obj'];
      const echo = await run('gdbus', ['call', ...addr, '--method', 'org.example.T.Echo', 'héllo']);
      assert.equal(echo.stdout.trim(), "('héllo',)");
      const sum = await run('gdbus', ['call', ...addr, '--method', 'org.example.T.Sum', '[1, 2, 39]']);
      assert.equal(sum.stdout.trim(), '(int64 42,)');
      const all = await run('gdbus', ['call', ...addr, '--method', 'org.example.T.All',
        '--', 'byte 7', 'true', 'int16 -3', 'uint16 65535', '-5', 'uint32 4000000000', 'int64 -9000000000', 'uint64 18000000000000000000', '2.5', 'str', "objectpath '/a/b'", "signature 'a{sv}'", "[<1>, <'x'>]", '(byte 9, -1)', "{'k': <uint32 3>}"]);
      assert.equal(all.stdout.trim(), "(byte 0x07, true, int16 -3, uint16 65535, -5, uint32 4000000000, int64 -9000000000, uint64 18000000000000000000, 2.5, 'str', objectpath '/a/b', signature 'a{sv}', [<1>, <'x'>], (byte 0x09, -1), {'k': <uint32 3>})");
      const prop = await run('gdbus', ['call', ...addr, '--method', 'org.freedesktop.DBus.Properties.GetAll', 'org.example.T']);
      assert.equal(prop.stdout.trim(), "({'Answer': <uint32 42>},)");
      const intro = await run('gdbus', ['introspect', ...addr]);
      assert.match(intro.stdout, /Sum\(in {2}ai \w+,\s*out x \w+\)/, 'Introspect describes the methods');
    } finally {
      c.close();
    }
  });

  it('passes fds through the bus (SCM_RIGHTS both ways)', async () => {
    const a = await DbusConnection.connectBus(bus.address);
    const b = await DbusConnection.connectBus(bus.address);
    try {
      a.serve('/test/Obj', 'org.example.T', ECHO);
      const fd = memfdWith('through the bus');
      const r = await b.call({ destination: a.uniqueName, path: '/test/Obj', interface: 'org.example.T', member: 'ReadFd', signature: 'h', body: [fd] });
      libc().close(fd);
      assert.equal(r.body[0], 'through the bus');
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('DbusConnection peer to peer', () => {
  it('authenticates both sides with EXTERNAL and calls with fds', async () => {
    const [x, y] = socketPair();
    const [srv, cli] = await Promise.all([DbusConnection.open(new UnixSocket(x), 'server'), DbusConnection.open(new UnixSocket(y), 'client')]);
    try {
      srv.serve('/o', 'org.example.T', ECHO);
      const fd = memfdWith('p2p fd');
      const r = await cli.call({ path: '/o', interface: 'org.example.T', member: 'ReadFd', signature: 'h', body: [fd] });
      libc().close(fd);
      assert.equal(r.body[0], 'p2p fd');
      await assert.rejects(cli.call({ path: '/nope', interface: 'org.example.T', member: 'Echo', signature: 's', body: ['x'] }), (e: DbusError) => e.name === ERR.UnknownObject);
      await assert.rejects(cli.call({ path: '/o', interface: 'org.example.T', member: 'Nope' }), (e: DbusError) => e.name === ERR.UnknownMethod);
    } finally {
      cli.close();
      srv.close();
    }
  });
});

/** A raw peer: authenticates by hand, then writes whatever bytes a test wants. */
async function hostile(): Promise<{ srv: DbusConnection; raw: UnixSocket; got: () => Buffer }> {
  const [x, y] = socketPair();
  const raw = new UnixSocket(y);
  let got = Buffer.alloc(0);
  raw.onData(({ data, fds }) => { got = Buffer.concat([got, data]); for (const fd of fds) libc().close(fd); });
  raw.start();
  const srvP = DbusConnection.open(new UnixSocket(x), 'server', { maxMessage: 64 * 1024 * 1024 });
  raw.write(Buffer.from(`\0AUTH EXTERNAL ${Buffer.from(String(getuid())).toString('hex')}\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n`, 'latin1'));
  const srv = await srvP;
  srv.serve('/o', 'org.example.T', ECHO);
  return { srv, raw, got: () => got };
}

function call(member: string, signature: string, body: unknown[], serial = 7): Uint8Array {
  return encodeMessage({ type: MessageType.METHOD_CALL, path: '/o', interface: 'org.example.T', member, signature, body }, serial).bytes;
}

describe('DbusConnection against a hostile peer', () => {
  it('answers a wrong signature with InvalidArgs and keeps serving', async () => {
    const { srv, raw, got } = await hostile();
    try {
      raw.write(call('Echo', 'u', [5], 7));
      raw.write(call('Echo', 's', ['still here'], 8));
      await waitFor(() => got().includes('still here'), 'the second reply');
      assert.ok(got().includes('org.freedesktop.DBus.Error.InvalidArgs'), 'the first call got InvalidArgs');
      assert.equal(srv.closed, false, 'the connection survives');
    } finally {
      raw.close();
      srv.close();
    }
  });

  it('answers a body that lies about its array length with an error, drops absurd sizes', async () => {
    const { srv, raw, got } = await hostile();
    try {
      const m = Buffer.from(call('Sum', 'ai', [[1, 2, 3]]));
      // The array length is the first body word: claim 60 MiB inside a 12-byte body.
      m.writeUInt32LE(60 * 1024 * 1024, m.length - 16);
      raw.write(m);
      await waitFor(() => got().includes('InvalidArgs'), 'an InvalidArgs reply');
      assert.equal(srv.closed, false, 'a bad body is answered, not fatal');
      // A header declaring a 3 GiB body: the connection goes, nothing is allocated for it.
      const h = Buffer.from(call('Echo', 's', ['x'], 9));
      h.writeUInt32LE(0xc0000000, 4);
      raw.write(h);
      await waitFor(() => srv.closed, 'the connection to close');
      assert.match(srv.closeReason, /exceeds the limit/);
    } finally {
      raw.close();
      srv.close();
    }
  });

  it('closes fds where none belong and holds no memory for a declared-but-unsent body', async () => {
    const before = openFds();
    const { srv, raw } = await hostile();
    try {
      const fd = memfdWith('stray');
      raw.write(call('Echo', 's', ['fd where none belongs']), [fd]);
      libc().close(fd);
      await waitFor(() => srv.closed, 'the connection to close on an fd the message did not declare');
      assert.match(srv.closeReason, /declares 0 fds but 1 came/);
    } finally {
      raw.close();
      srv.close();
    }
    await waitFor(() => openFds() <= before, 'every fd closed');
    const h = await hostile();
    try {
      const big = Buffer.from(call('Echo', 's', ['x'], 10));
      big.writeUInt32LE(60 * 1024 * 1024, 4);
      const rss0 = process.memoryUsage().rss;
      h.raw.write(big.subarray(0, 4096));
      await waitFor(() => h.srv.messagesIn === 0 && h.srv.socket.bytesRead >= big.subarray(0, 4096).length + 0, 'the partial message to arrive');
      assert.ok(process.memoryUsage().rss - rss0 < 32 * 1024 * 1024, 'a declared 60 MiB body costs nothing before it arrives');
    } finally {
      h.raw.close();
      h.srv.close();
    }
  });

  it('survives bounded random garbage after authentication', async () => {
    const fds0 = openFds();
    let seed = 12345;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let round = 0; round < 60; round++) {
      const { srv, raw } = await hostile();
      const m = Buffer.from(call('All', 'ybnqiuxtdsogav(yi)a{sv}', [1, true, 2, 3, 4, 5, 6n, 7n, 1.5, 's', '/p', 'g', [{ sig: 's', value: 'v' }], [1, 2], [['k', { sig: 'u', value: 1 }]]], 11));
      for (let k = 0; k < 4; k++) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
      raw.write(m);
      raw.write(call('Echo', 's', ['ping'], 12));
      // Whatever the garbage did (error reply, disconnect, a message still waiting for bytes),
      // the peer going away must end the connection cleanly.
      raw.close();
      await waitFor(() => srv.closed, 'the connection to end with its peer');
      assert.equal(srv.socket.closed, true, 'the socket is closed');
    }
    await waitFor(() => openFds() <= fds0, 'no fd left behind');
  });
});
