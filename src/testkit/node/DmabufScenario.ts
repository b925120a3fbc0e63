import type { DisplayBuffer, Rect } from '../../display/DisplayBuffer.ts';
import { DisplayConsole } from '../../display/DisplayConsole.ts';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { libc } from '../../linux/Libc.ts';
import { createUdmabuf } from '../../linux/Udmabuf.ts';
import { fdIdentity } from '../../qemu/MappedFd.ts';
import { MAX_SHARED, QemuListener } from '../../qemu/QemuListener.ts';
import { held, newFds, openFds, type Held } from './FdCensus.ts';
import { udmabufFramebuffers, type GuestFramebuffer, type GuestFramebuffers } from './GuestFramebuffers.ts';
import { QemuDisplayDouble } from './QemuDisplayDouble.ts';
import { waitFor } from './QemuProcess.ts';

/**
 * The listener's dma-buf path against QEMU's side (QemuDisplayDouble) with real fds: memfds
 * everywhere, udmabufs where the kernel has /dev/udmabuf (the kernel suite's VM). One scenario
 * for both, so the host test (`npm test`) and the in-VM step check the same properties:
 *  (a) two scanouts of one buffer (two fd numbers) map it once: dedup by inode;
 *  (b) flipping between two buffers maps nothing new;
 *  (c) the pixels read through the mapping are the bytes written into the memfd, live, uncopied;
 *  (d) Disable, a new buffer (another mode; a pixel Scanout; more than the cache holds) and the
 *      connection closing unmap and close what the listener held (counted in /proc/self).
 * `check` records or throws (node:assert in a test, the VM's Checker there).
 */
export type Check = (cond: boolean, what: string) => void;

const W = 64;
const H = 48;
const STRIDE = W * 4;
/** 12 KiB: a page multiple, as udmabuf requires. */
const BYTES = STRIDE * H;
const XRGB = DRM_FORMAT.XRGB8888;
const PIXMAN_X8R8G8B8 = 0x20020888;

/** Pixel (x, y) of picture `tag`: distinct per picture, row and column. */
export function testPicture(tag: number, width = W, height = H, stride = STRIDE): Uint8Array {
  const b = new Uint8Array(stride * height);
  const v = new DataView(b.buffer);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) v.setUint32(y * stride + x * 4, ((tag << 24) | (y << 12) | x) >>> 0, true);
  return b;
}

function equal(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && Buffer.compare(a, b) === 0;
}

const shown = (c: DisplayConsole): Uint8Array | undefined => c.scanout?.mapping.chunks[0];
const fmt = (h: Held): string => `${h.fds} fds, ${h.maps} maps`;

interface Rig {
  readonly console: DisplayConsole;
  readonly listener: QemuListener;
  readonly qemu: QemuDisplayDouble;
  readonly released: Set<DisplayBuffer>;
  readonly frames: GuestFramebuffer[];
  /** What the listener holds of `f` (the double and the guest hold one fd of each themselves). */
  mine(f: GuestFramebuffer): Held;
  dispose(): void;
}

/**
 * The fds open before a scenario, once the process-wide lasting ones exist (no leak): FdPoller's
 * eventfd (the first D-Bus connection) and libuv's reserve fd for EMFILE (/dev/null, opened with
 * its first stream: process.stdout on a pipe, i.e. the first log line of an in-VM program).
 */
async function baseline(): Promise<Set<string>> {
  void process.stdout.writable;
  const warm = await rig();
  warm.dispose();
  return openFds();
}

async function rig(): Promise<Rig> {
  const console = new DisplayConsole();
  const listener = new QemuListener(console);
  const released = new Set<DisplayBuffer>();
  console.onRelease((b) => released.add(b));
  const qemu = await QemuDisplayDouble.connect(listener);
  const frames: GuestFramebuffer[] = [];
  return {
    console, listener, qemu, released, frames,
    mine: (f) => {
      const h = held(f.key);
      return { fds: h.fds - 1, maps: h.maps };
    },
    dispose: () => {
      qemu.dispose();
      listener.dispose();
      console.dispose();
      for (const f of frames) f.close();
    },
  };
}

/** Wait (bounded) for `cond`; then record it with `what()` as it reads then. */
async function settles(ok: Check, cond: () => boolean, what: () => string): Promise<void> {
  const met = await waitFor(() => cond() || undefined, what(), 30_000).then(() => true, () => false);
  ok(met, what());
}

export async function dmabufScenario(fb: GuestFramebuffers, ok: Check, log: (line: string) => void = () => undefined): Promise<void> {
  const fds0 = await baseline();
  const r = await rig();
  const { console: con, listener, qemu, mine } = r;
  const st = listener.stats;
  const make = (tag: number, width = W, height = H, stride = STRIDE): GuestFramebuffer => {
    const f = fb.create(BYTES);
    r.frames.push(f);
    f.write(testPicture(tag, width, height, stride), 0);
    return f;
  };
  const k = fb.kind;
  try {
    const a = make(1);
    const b = make(2);

    // (a) one buffer, two scanouts with two fd numbers: one mapping.
    await qemu.scanoutDmabuf(a.fd, W, H, STRIDE, XRGB);
    const bufA = con.scanout;
    ok(bufA?.kind === 'dmabuf' && bufA.fd >= 0, `(a) ${k} A is shown in place (kind ${bufA?.kind})`);
    await qemu.scanoutDmabuf(a.fd, W, H, STRIDE, XRGB);
    ok(con.scanout === bufA, `(a) ${k} A again (another fd number): the same buffer`);
    ok(st.sharedMapped === 1 && st.sharedReused === 1, `(a) ${k} A mapped once, found once (mapped ${st.sharedMapped}, reused ${st.sharedReused})`);
    const ha = mine(a);
    ok(ha.fds === 1 && ha.maps === 1, `(a) ${k} the listener holds 1 fd and 1 mapping of A (${fmt(ha)})`);

    // (c) the mapping shows the memfd's bytes, and later writes too, with nothing copied.
    ok(equal(shown(con), testPicture(1)), `(c) ${k} A's ${BYTES} bytes through the mapping equal what was written into the memfd`);
    a.write(new Uint8Array(STRIDE).fill(0x5a), 7 * STRIDE);
    const rects: Rect[] = [];
    const sub = con.onUpdate((u) => rects.push(...u));
    await qemu.updateDmabuf(0, 7, W, 1);
    sub.dispose();
    ok(rects.length === 1 && rects[0]!.y === 7 && rects[0]!.height === 1 && rects[0]!.width === W, `(c) ${k} UpdateDMABUF damages row 7 (${JSON.stringify(rects)})`);
    ok(shown(con)?.subarray(7 * STRIDE, 8 * STRIDE).every((x) => x === 0x5a) === true, `(c) ${k} a write into the memfd after the scanout shows through the mapping`);
    a.write(testPicture(1).subarray(7 * STRIDE, 8 * STRIDE), 7 * STRIDE);
    ok(st.bytesCopied === 0, `(c) ${k} no pixel byte copied (bytesCopied ${st.bytesCopied})`);

    // (b) flipping A/B: B mapped once, then every flip finds its buffer.
    const mapped0 = st.sharedMapped;
    const reused0 = st.sharedReused;
    let wrong = 0;
    for (let i = 0; i < 10; i++) {
      const [f, tag] = i % 2 === 0 ? [b, 2] : [a, 1];
      await qemu.scanoutDmabuf(f.fd, W, H, STRIDE, XRGB);
      if (!equal(shown(con), testPicture(tag))) wrong++;
    }
    ok(st.sharedMapped === mapped0 + 1 && st.sharedReused === reused0 + 9, `(b) ${k} 10 flips A/B: 1 new mapping (B), 9 found (mapped +${st.sharedMapped - mapped0}, reused +${st.sharedReused - reused0})`);
    ok(wrong === 0, `(b) ${k} every flip shows its buffer's pixels (${wrong} wrong)`);
    const [fa, fb2] = [mine(a), mine(b)];
    ok(fa.fds === 1 && fa.maps === 1 && fb2.fds === 1 && fb2.maps === 1, `(b) ${k} still 1 fd and 1 mapping each (A: ${fmt(fa)}; B: ${fmt(fb2)})`);
    ok(st.bytesCopied === 0, `(b) ${k} flips copy nothing (bytesCopied ${st.bytesCopied})`);

    // (d) Disable: everything let go, the picture kept as a counted copy.
    const copied0 = st.bytesCopied;
    await qemu.disable();
    const [da, db] = [mine(a), mine(b)];
    ok(da.fds === 0 && da.maps === 0 && db.fds === 0 && db.maps === 0 && listener.sharedHeld === 0, `(d) ${k} Disable unmaps and closes A and B (A: ${fmt(da)}; B: ${fmt(db)}; held ${listener.sharedHeld})`);
    ok(r.released.has(bufA!), `(d) ${k} A's buffer released to the console`);
    ok(con.status.reason === 'plane-disabled' && con.scanout?.kind === 'region' && equal(shown(con), testPicture(1)), `(d) ${k} the last picture stays (status ${con.status.reason}, kind ${con.scanout?.kind})`);
    ok(st.bytesCopied - copied0 === BYTES, `(d) ${k} that copy is counted (${st.bytesCopied - copied0} bytes)`);

    // (d) a new buffer of another mode retires the old mode's buffers; a pixel Scanout retires all.
    await qemu.scanoutDmabuf(a.fd, W, H, STRIDE, XRGB);
    await qemu.scanoutDmabuf(b.fd, W, H, STRIDE, XRGB);
    ok(mine(a).maps === 1 && mine(b).maps === 1 && equal(shown(con), testPicture(2)), `(d) ${k} after Disable A and B map again`);
    const c = make(3, 32, H, 128);
    await qemu.scanoutDmabuf(c.fd, 32, H, 128, XRGB);
    const [ma, mb, mc] = [mine(a), mine(b), mine(c)];
    ok(ma.fds + ma.maps + mb.fds + mb.maps === 0 && mc.fds === 1 && mc.maps === 1, `(d) ${k} a 32x${H} buffer: the ${W}x${H} ones are closed (A: ${fmt(ma)}; B: ${fmt(mb)}; C: ${fmt(mc)})`);
    ok(equal(shown(con), testPicture(3, 32, H, 128)), `(d) ${k} C shows its pixels`);
    await qemu.scanout(W, H, STRIDE, PIXMAN_X8R8G8B8, testPicture(4));
    const mc2 = mine(c);
    ok(mc2.fds === 0 && mc2.maps === 0 && listener.sharedHeld === 0, `(d) ${k} a pixel Scanout closes C (${fmt(mc2)})`);
    ok(con.scanout?.kind === 'region' && equal(shown(con), testPicture(4)), `(d) ${k} the Scanout's pixels are shown`);

    // (d) more buffers than the cache holds: the least recently shown are closed.
    const many = Array.from({ length: MAX_SHARED + 2 }, (_, i) => make(10 + i));
    for (const f of many) await qemu.scanoutDmabuf(f.fd, W, H, STRIDE, XRGB);
    const counts = many.map((f) => mine(f));
    const maps = counts.reduce((n, h) => n + h.maps, 0);
    const fds = counts.reduce((n, h) => n + h.fds, 0);
    ok(maps === MAX_SHARED && fds === MAX_SHARED && listener.sharedHeld === MAX_SHARED, `(d) ${k} ${many.length} buffers: ${MAX_SHARED} kept (${maps} maps, ${fds} fds)`);
    ok(counts[0]!.maps + counts[0]!.fds + counts[1]!.maps + counts[1]!.fds === 0, `(d) ${k} the two oldest are closed`);

    // (d) QEMU goes away: the listener lets go of everything, the picture stays.
    await qemu.scanoutDmabuf(a.fd, W, H, STRIDE, XRGB);
    qemu.close();
    await settles(ok, () => qemu.listenerSide.closed, () => `(d) ${k} the listener sees QEMU's end close`);
    const all = [a, ...many].map((f) => mine(f));
    ok(all.every((h) => h.fds === 0 && h.maps === 0) && listener.sharedHeld === 0, `(d) ${k} after the disconnect no fd or mapping is held (${all.map(fmt).join('; ')})`);
    ok(con.scanout?.kind === 'region' && equal(shown(con), testPicture(1)), `(d) ${k} the last picture stays as a copy`);
    log(`${k}: stats ${JSON.stringify({ ...st, used: [...st.used] })}`);
  } finally {
    r.dispose();
  }
  await settles(ok, () => newFds(fds0).length === 0, () => `${k}: every fd closed at the end (new: ${newFds(fds0).join(', ') || 'none'})`);
}

/**
 * What a udmabuf does differently from a memfd, and how the listener copes: each udmabuf is its
 * own dma-buf with its own inode (two over the same pages are two buffers, neither is the memfd),
 * fstat's size is the dma-buf's (the listener's bounds check must use it, not the memfd's), and
 * the udmabuf's byte 0 is the memfd's `offset`, also through an mmap at a page offset.
 */
export async function udmabufIdentityScenario(ok: Check, log: (line: string) => void = () => undefined): Promise<void> {
  const fds0 = await baseline();
  const r = await rig();
  const { console: con, listener, qemu } = r;
  const st = listener.stats;
  const page = 4096;
  const f = udmabufFramebuffers.create(BYTES, page);
  r.frames.push(f);
  f.write(testPicture(7), 0);
  let alias = -1;
  try {
    alias = createUdmabuf(f.ram, f.ramOffset, BYTES);
    ok(alias >= 0, `a second udmabuf over the same pages (${alias})`);
    const ram = fdIdentity(f.ram)!;
    const other = fdIdentity(alias)!;
    log(`udmabuf ${f.key} (${f.size} bytes), its alias ${other.key}, memfd ${ram.key} (${ram.size} bytes)`);
    ok(other.key !== f.key && f.key !== ram.key, 'each udmabuf has its own inode, neither is the memfd\'s');
    ok(other.key.split(':')[0] === f.key.split(':')[0], 'both on the dma-buf pseudo file system (same st_dev)');
    ok(f.size === BYTES && ram.size === BYTES + page, `fstat size: the dma-buf's ${f.size}, not the memfd's ${ram.size}`);

    await qemu.scanoutDmabuf(f.fd, W, H, STRIDE, XRGB);
    const first = con.scanout;
    ok(equal(shown(con), testPicture(7)), 'the udmabuf\'s byte 0 is the memfd\'s byte 4096, through the mapping');
    await qemu.scanoutDmabuf(alias, W, H, STRIDE, XRGB);
    ok(con.scanout !== first && st.sharedMapped === 2, `the alias is another buffer: mapped separately (mapped ${st.sharedMapped})`);
    ok(equal(shown(con), testPicture(7)), 'it shows the same pixels');
    await qemu.scanoutDmabuf(f.fd, W, H, STRIDE, XRGB);
    ok(con.scanout === first && st.sharedMapped === 2 && st.sharedReused === 1, `and flipping back finds the first (reused ${st.sharedReused})`);

    // One row more than the dma-buf holds (the memfd behind it has a page more): refused.
    const refused0 = st.refused;
    const err = await qemu.scanoutDmabuf(f.fd, W, H + 1, STRIDE, XRGB).then(() => undefined, (e: Error) => e);
    ok(err !== undefined && /short/.test(err.message), `a ${W}x${H + 1} scanout of the ${BYTES}-byte udmabuf is refused (${err?.message})`);
    ok(st.refused === refused0 + 1 && con.scanout === first && r.mine(f).fds === 1, 'the refusal changes nothing and closes the fd it got');

    // ScanoutDMABUF2 at an offset inside the dma-buf: an mmap at a page offset of the udmabuf.
    const rows = H / 2;
    await qemu.scanoutDmabuf2(f.fd, rows * STRIDE, W, rows, STRIDE, XRGB);
    ok(equal(shown(con), testPicture(7).subarray(rows * STRIDE)), `ScanoutDMABUF2 at offset ${rows * STRIDE}: the lower ${rows} rows`);
  } finally {
    if (alias >= 0) libc().close(alias);
    r.dispose();
  }
  await settles(ok, () => newFds(fds0).length === 0, () => `every fd closed at the end (new: ${newFds(fds0).join(', ') || 'none'})`);
}
