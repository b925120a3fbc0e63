/**
 * A native VNC client nobody here wrote — libvncclient from Debian's libvncserver — against our
 * RFB server over TCP: the frame it captures equals the guest's buffer, with Raw and with ZRLE.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { RfbServer } from '../../src/rfb/RfbServer.ts';
import { VmChannel } from '../../src/server/VmChannel.ts';
import { VmRegistry, type LabVm } from '../../src/server/VmRegistry.ts';
import { ensurePackages } from '../../src/testkit/node/DebianPackages.ts';
import { doubleBuffered, gvtVm, type TestVm } from '../../src/testkit/node/LabRig.ts';
import type { GuestBuffer } from '../../src/testkit/GvtGuest.ts';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const W = 640;
const H = 480;

/** Build test/vnc/vnccapture.c once per source change into .cache/vnc. */
function buildCapture(): string {
  ensurePackages(['libvncserver-dev', 'gcc', 'libc6-dev']);
  const src = join(root, 'test/vnc/vnccapture.c');
  const dir = join(root, '.cache/vnc');
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, `vnccapture-${Math.floor(statSync(src).mtimeMs)}`);
  try {
    statSync(bin);
    return bin;
  } catch { /* build it */ }
  const r = spawnSync('cc', ['-O2', '-o', bin, src, '-lvncclient'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `cc vnccapture.c: ${r.stderr}`);
  return bin;
}

describe('native VNC client (libvncclient)', () => {
  let bin = '';
  let vm: TestVm;
  let shown: GuestBuffer;
  let server: RfbServer;
  let tmp = '';
  before(async () => {
    bin = buildCapture();
    tmp = mkdtempSync(join(tmpdir(), 'vnccapture-'));
    vm = gvtVm('vm1', { ramMiB: 32 });
    [shown] = doubleBuffered(vm, W, H);
    // Bands, a gradient and solid boxes: palette, RLE and raw ZRLE tiles all appear.
    for (let y = 0; y < H; y++) vm.guest.fillRect(shown, 0, y, W, 1, 0xff000000 | (y & 255) << 16 | ((y * 5) & 255) << 8 | ((255 - y) & 255), false);
    for (let x = 0; x < W; x += 37) vm.guest.fillRect(shown, x, 100, 20, 200, 0xff000000 | (x * 97) & 0xffffff, false);
    vm.guest.fillRect(shown, 300, 300, 100, 100, 0xffffffff, false);
    vm.refresh();
    const map = new Map<LabVm, VmChannel>();
    server = new RfbServer({
      vms: new VmRegistry([vm]), port: 0, security: { type: 'none' },
      channels: {
        channelFor: (v) => map.get(v) ?? (map.set(v, new VmChannel(v)), map.get(v)!),
        channelUnused: (ch) => { if (ch.clientCount === 0) { map.delete(ch.vm); ch.dispose(); } },
      },
    });
    await server.listen();
  });
  after(async () => {
    await server?.close();
    vm?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  for (const encodings of ['raw', 'zrle raw']) {
    it(`captures the guest's buffer pixel for pixel with "${encodings}"`, async () => {
      const out = join(tmp, `${encodings.replace(' ', '-')}.rgbx`);
      await run(bin, ['127.0.0.1', String(server.ports[0]!.port), encodings, out], { timeout: 120_000 });
      const file = readFileSync(out);
      const nl = file.indexOf(10);
      const [w, h] = file.subarray(0, nl).toString().split(' ').map(Number);
      assert.deepEqual([w, h], [W, H]);
      const px = file.subarray(nl + 1);
      let bad = 0;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const want = vm.guest.peek(shown, x, y);
          const i = (y * W + x) * 4;
          const got = (px[i]! << 16) | (px[i + 1]! << 8) | px[i + 2]!;
          if (got !== (want & 0xffffff)) bad++;
        }
      }
      assert.equal(bad, 0, `${bad} pixels differ`);
    });
  }
});
