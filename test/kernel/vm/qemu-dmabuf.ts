/**
 * In-VM test of the QEMU D-Bus listener's dma-buf path with real dma-bufs: /dev/udmabuf
 * (CONFIG_UDMABUF) turns memfd pages into dma-bufs, as QEMU's virtio-gpu does on a host without a
 * GPU, and a double of QEMU's side sends them to QemuListener over a real D-Bus p2p connection.
 * The scenario `npm test` runs with memfds runs here with memfds and with udmabufs (dedup by
 * inode, flips, pixels through the mmap, release on Disable / new buffer / disconnect), then what
 * differs for a udmabuf (its own inode and size, offsets).
 *
 * Usage: node qemu-dmabuf.js
 */
import { existsSync } from 'node:fs';
import { UDMABUF_DEVICE } from '../../../src/linux/Udmabuf.ts';
import { dmabufScenario, udmabufIdentityScenario, type Check } from '../../../src/testkit/node/DmabufScenario.ts';
import { memfdFramebuffers, udmabufFramebuffers } from '../../../src/testkit/node/GuestFramebuffers.ts';
import { Checker } from './VmLib.ts';

const c = new Checker('qemu-dmabuf');
const ok: Check = (cond, what) => void c.ok(cond, what);
const info = (line: string): void => c.info(line);

async function part(name: string, run: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  try {
    await run();
  } catch (e) {
    c.ok(false, `${name}: threw ${(e as Error).stack ?? String(e)}`);
  }
  c.info(`${name}: ${(performance.now() - t0).toFixed(0)} ms`);
}

await part('memfd', () => dmabufScenario(memfdFramebuffers, ok, info));
if (c.ok(existsSync(UDMABUF_DEVICE), `${UDMABUF_DEVICE} exists (CONFIG_UDMABUF=y)`)) {
  await part('udmabuf', () => dmabufScenario(udmabufFramebuffers, ok, info));
  await part('udmabuf identity', () => udmabufIdentityScenario(ok, info));
}
c.done();
