import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { VmRegistry } from '../server/VmRegistry.ts';
import { channelHost, doubleBuffered, flip, gvtVm, type TestVm } from '../testkit/node/LabRig.ts';
import { NOVNC_FORMAT, RfbTestClient } from '../testkit/node/RfbTestClient.ts';
import type { GuestBuffer } from '../testkit/GvtGuest.ts';
import { RfbServer, type ChannelHost } from './RfbServer.ts';

const W = 320;
const H = 200;

const channels = (): ChannelHost => channelHost();

/** A picture: a gradient with a few solid shapes (several ZRLE subencodings get used). */
function paint(vm: TestVm, buf: GuestBuffer, seed: number): void {
  for (let y = 0; y < H; y += 8) {
    vm.guest.fillRect(buf, 0, y, W, 8, 0xff000000 | ((y * 3 + seed) & 255) << 16 | ((seed * 7) & 255) << 8 | (y & 255), false);
  }
  vm.guest.fillRect(buf, 40 + seed, 30, 60, 40, 0xffffffff, false);
  vm.guest.fillRect(buf, 200, 100 + (seed & 15), 50, 50, 0xff102030, false);
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000 && !cond(); i++) await new Promise((r) => setTimeout(r, i < 100 ? 0 : 5));
  assert.ok(cond(), what);
}

/** Every pixel of the client's framebuffer equals the guest buffer's (RGB). */
function assertShows(c: RfbTestClient, vm: TestVm, buf: GuestBuffer, what: string): void {
  assert.equal(c.width, W);
  assert.equal(c.height, H);
  let bad = 0;
  let first = '';
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const want = vm.guest.peek(buf, x, y) & 0xffffff;
      const got = c.rgb(x, y);
      if (got !== want && bad++ === 0) first = `(${x},${y}) ${got.toString(16)} ≠ ${want.toString(16)}`;
    }
  }
  assert.equal(bad, 0, `${what}: ${bad} pixels differ, first ${first}`);
}

async function setup(): Promise<{ vm: TestVm; a: GuestBuffer; b: GuestBuffer; server: RfbServer }> {
  const vm = gvtVm('vm1');
  const [a, b] = doubleBuffered(vm, W, H);
  paint(vm, a, 1);
  paint(vm, b, 1);
  vm.guest.fillRect(b, 10, 150, 16, 16, 0xffff0000, false); // b differs from a in one 16×16 square
  vm.refresh();
  const registry = new VmRegistry([vm]);
  const server = new RfbServer({ vms: registry, channels: channels(), port: 0, security: { type: 'none' } });
  await server.listen();
  return { vm, a, b, server };
}

describe('RfbServer', () => {
  const cleanup: Array<() => unknown> = [];
  after(async () => { for (const f of cleanup.reverse()) await f(); });

  it('ServerInit, then a full ZRLE update in noVNC\'s pixel format equals the guest buffer', async () => {
    const { vm, a, server } = await setup();
    cleanup.push(() => server.close(), () => vm.dispose());
    const c = await RfbTestClient.connect(server.ports[0]!.port);
    cleanup.push(() => c.close());
    assert.equal(c.name, 'vm1');
    c.setPixelFormat(NOVNC_FORMAT);
    c.setEncodings([16, 0]);
    c.request(false);
    const u = await c.nextUpdate();
    assert.ok(u.rects.every((r) => r.encoding === 16), 'ZRLE');
    assertShows(c, vm, a, 'full update');
    assert.ok(u.bytes < W * H, `ZRLE compresses: ${u.bytes} bytes`);
  });

  it('a flip to a buffer that differs in one square sends only that square', async () => {
    const { vm, a, b, server } = await setup();
    cleanup.push(() => server.close(), () => vm.dispose());
    const c = await RfbTestClient.connect(server.ports[0]!.port);
    cleanup.push(() => c.close());
    c.setEncodings([0]);
    c.request(false);
    await c.nextUpdate();
    assertShows(c, vm, a, 'before the flip');
    c.request(true);
    flip(vm, b);
    const u = await c.nextUpdate();
    assertShows(c, vm, b, 'after the flip');
    // Only the differing pixels: the square, not the 4 KiB blocks (3.2 rows each) holding it.
    assert.deepEqual(u.rects, [{ x: 10, y: 150, w: 16, h: 16, encoding: 0 }]);
    // Flipping back costs the same square again; nothing else.
    c.request(true);
    flip(vm, a);
    const back = await c.nextUpdate();
    assertShows(c, vm, a, 'after flipping back');
    assert.deepEqual(back.rects, [{ x: 10, y: 150, w: 16, h: 16, encoding: 0 }]);
  });

  it('damage in the shown buffer reaches the client as the changed pixels only (16 bpp big-endian, Raw)', async () => {
    const { vm, a, server } = await setup();
    cleanup.push(() => server.close(), () => vm.dispose());
    const c = await RfbTestClient.connect(server.ports[0]!.port);
    cleanup.push(() => c.close());
    c.setPixelFormat({ bpp: 16, depth: 16, bigEndian: true, rMax: 31, gMax: 63, bMax: 31, rShift: 11, gShift: 5, bShift: 0 });
    c.setEncodings([0]);
    c.request(false);
    await c.nextUpdate();
    c.request(true);
    vm.guest.fillRect(a, 100, 60, 8, 16, 0xff00ff00);
    vm.refresh();
    const u = await c.nextUpdate();
    assert.deepEqual(u.rects, [{ x: 100, y: 60, w: 8, h: 16, encoding: 0 }], 'the changed pixels only');
    assert.equal(c.rgb(104, 70), 0x00ff00);
  });

  it('keys (keysym and QEMU extended key) and the pointer reach the VM as evdev input', async () => {
    const { vm, server } = await setup();
    cleanup.push(() => server.close(), () => vm.dispose());
    const c = await RfbTestClient.connect(server.ports[0]!.port);
    cleanup.push(() => c.close());
    c.setEncodings([0, -258]);
    c.request(false);
    const first = await c.nextUpdate();
    assert.ok(first.rects.some((r) => r.encoding === -258), 'the ext-key ack');
    c.send([4, 1, 0, 0, 0, 0, 0, 0x61]); // 'a' down
    c.send([4, 0, 0, 0, 0, 0, 0, 0x61]); // 'a' up
    c.send([255, 0, 0, 1, 0, 0, 0xff, 0x53, 0, 0, 0, 0xcd]); // Right (E0 4D) down
    c.send([5, 1, 0, 10, 0, 20]); // left button at 10,20
    await until(() => vm.keys.length === 3 && vm.pointers.length === 1, `input arrived: ${JSON.stringify(vm.keys)}`);
    assert.deepEqual(vm.keys, [[30, true], [30, false], [106, true]]);
    assert.deepEqual(vm.pointers[0], { kind: 'abs', x: 10, y: 20, buttons: 1 });
    c.close();
    await until(() => vm.keys.length === 4, 'a held key goes up when the client leaves');
    assert.deepEqual(vm.keys[3], [106, false]);
  });

  it('32 clients at once, each with its own format, all get the frame; an exclusive client ends the others', async () => {
    const { vm, a, server } = await setup();
    cleanup.push(() => server.close(), () => vm.dispose());
    const port = server.ports[0]!.port;
    const clients = await Promise.all(Array.from({ length: 32 }, () => RfbTestClient.connect(port)));
    cleanup.push(() => clients.forEach((c) => c.close()));
    await Promise.all(clients.map(async (c, i) => {
      if (i % 2 === 1) c.setPixelFormat(NOVNC_FORMAT);
      c.setEncodings(i % 3 === 0 ? [0] : [16]);
      c.request(false);
      await c.nextUpdate();
      assertShows(c, vm, a, `client ${i}`);
    }));
    assert.equal(server.clientCount, 32);
    const solo = await RfbTestClient.connect(port, { shared: false });
    cleanup.push(() => solo.close());
    await until(() => clients.every((c) => c.closed), 'the others were disconnected');
    assert.equal(server.clientCount, 1);
  });

  it('a client that stops reading is closed; the others keep going', async () => {
    const vm = gvtVm('vm1');
    const [a] = doubleBuffered(vm, W, H);
    paint(vm, a, 3);
    vm.refresh();
    const server = new RfbServer({ vms: new VmRegistry([vm]), channels: channels(), port: 0, security: { type: 'none' }, highWater: 1024, stallMs: 300 });
    await server.listen();
    cleanup.push(() => server.close(), () => vm.dispose());
    const port = server.ports[0]!.port;
    const stuck = await RfbTestClient.connect(port);
    cleanup.push(() => stuck.close());
    stuck.socket.pause();
    stuck.setEncodings([0]);
    // Each non-incremental request forces a full frame; the kernel's socket buffers fill, then ours.
    for (let i = 0; i < 5000 && !stuck.closed; i++) {
      stuck.request(false);
      await new Promise((r) => setTimeout(r, i < 500 ? 0 : 2));
    }
    assert.ok(stuck.closed, 'the non-reading client was closed');
    const good = await RfbTestClient.connect(port);
    cleanup.push(() => good.close());
    good.setEncodings([0]);
    good.request(false);
    await good.nextUpdate();
    assertShows(good, vm, a, 'the good client');
  });
});
