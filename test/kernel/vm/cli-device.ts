/**
 * In-VM test of the CLI's real-device paths on the O_RDWR mbochs: `snapshot --device UUID`
 * (capture the device as it is) and `run --device UUID` (the lab serving a real device to the
 * viewer protocol). A mode is programmed first through the device file; mbochs keeps its DISPI
 * registers across close (VRAM pages are freed on close, so the captured pixels are black: the
 * pixel path is checked by snapshot-mbochs, here the point is the CLI on a real device).
 *
 * Usage: node test/kernel/vm/cli-device.js MBOCHS_UUID
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { openRealDevice } from '../../../src/linux/RealDevice.ts';
import { Msg, decodeServerMessage, encodeAttach, isProtocolError } from '../../../src/protocol/RemoteProtocol.ts';
import { decodePng } from '../../../src/render/Png.ts';
import { VFIO_DEVICE_RESET, VFIO_PCI_BAR2_REGION_INDEX } from '../../../src/vfio/Abi.ts';
import { DISPI } from '../../../src/vgpu/bochs/BochsRegisters.ts';
import { Checker, Dispi, RESULTS, regionInfo, VFIO_API } from './VmLib.ts';

const uuid = process.argv[2];
if (!uuid) {
  console.error('usage: cli-device.ts MBOCHS_UUID');
  process.exit(2);
}
const c = new Checker('cli-device');
const main = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

// 1. A mode, programmed as a guest would (DISPI over BAR2), then the device is closed again.
{
  const dev = await openRealDevice(uuid, { vfioApi: VFIO_API });
  const bar2 = regionInfo(dev.sys, dev.fd, VFIO_PCI_BAR2_REGION_INDEX);
  const d = new Dispi(dev.sys, dev.fd, Number(bar2.info.offset));
  dev.sys.ioctl(dev.fd, VFIO_DEVICE_RESET, new Uint8Array(0));
  for (const [i, v] of [[DISPI.ENABLE, 0], [DISPI.XRES, 640], [DISPI.YRES, 480], [DISPI.BPP, 32],
    [DISPI.VIRT_WIDTH, 640], [DISPI.X_OFFSET, 0], [DISPI.Y_OFFSET, 0], [DISPI.ENABLE, 0x41]] as const) d.write(i, v);
  dev.close();
}

// 2. snapshot --device UUID (no scenario): QUERY (ENOMEM retried), GET, mmap, render, PNG.
const png = join(RESULTS, 'cli-snapshot.png');
const snap = spawnSync(process.execPath, [main, 'snapshot', '--device', uuid, '--vfio-api', VFIO_API, '--out', png, '--json'], { encoding: 'utf8' });
c.ok(snap.status === 0, `snapshot --device ${uuid} exits 0 (${snap.status}) ${snap.stderr.trim()}`);
if (snap.status === 0) {
  const j = JSON.parse(snap.stdout) as { real: boolean; width: number; height: number; primary: { format: string } };
  c.ok(j.real && j.width === 640 && j.height === 480 && j.primary.format === 'XRGB8888', `JSON: real ${j.real}, ${j.width}x${j.height} ${j.primary.format}`);
  const img = decodePng(readFileSync(png));
  c.ok(img.width === 640 && img.height === 480, `PNG ${img.width}x${img.height}`);
}
const bad = spawnSync(process.execPath, [main, 'snapshot', '--device', uuid, '--scenario', 'boot', '--out', png], { encoding: 'utf8' });
c.ok(bad.status === 2 && /--scenario boots a guest/.test(bad.stderr), `--scenario with a real device refused (exit ${bad.status})`);

// 3. run --device UUID: the lab serves the real device; a viewer gets HELLO, the buffer and SCANOUT.
const child = spawn(process.execPath, [main, 'run', '--vms', '', '--device', uuid, '--vfio-api', VFIO_API, '--port', '0', '--refresh', 'timer', '--interval', '50'], { stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
const url = await new Promise<string | undefined>((resolve) => {
  const t = setInterval(() => {
    const m = /open (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
    if (m) { clearInterval(t); resolve(m[1]); }
  }, 50);
  void exited.then(() => { clearInterval(t); resolve(undefined); });
  // Bounded, generously: under TCG at load ~16 on 2 cores, 6.12's `run` printed nothing in 60 s
  // (then SIGINT came before its handler and the exit was not clean).
  setTimeout(() => { clearInterval(t); resolve(undefined); }, 240_000);
});
c.ok(url !== undefined, `run --device ${uuid} serves (${url ?? out.trim().split('\n').pop()})`);
c.ok(/device-1: .* \(real\), display client dmabuf, refresh timer/.test(out), 'the device is shown by a dma-buf display client');
if (url) {
  const seen = await new Promise<Set<number>>((resolve) => {
    const types = new Set<number>();
    const ws = new WebSocket(url.replace('http', 'ws') + '/ws', { origin: url });
    const done = (): void => { ws.close(); resolve(types); };
    const t = setTimeout(done, 30_000);
    ws.on('message', (data: Buffer) => {
      const m = decodeServerMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      if (isProtocolError(m)) return;
      types.add(m.type);
      if (m.type === Msg.HELLO) ws.send(encodeAttach('device-1'));
      if (m.type === Msg.SCANOUT) { clearTimeout(t); done(); }
    });
    ws.on('error', () => { clearTimeout(t); done(); });
  });
  c.ok(seen.has(Msg.HELLO) && seen.has(Msg.BUFFER_CREATE) && seen.has(Msg.SCANOUT), `viewer protocol: HELLO, BUFFER_CREATE, SCANOUT (${[...seen].map((t) => t.toString(16)).join(',')})`);
}
child.kill('SIGINT');
c.ok((await exited) === 0, 'run stops cleanly on SIGINT');
c.done();
