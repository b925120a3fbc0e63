import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { RealClock } from '../../base/Clock.ts';
import { setupDemoScanout } from '../DemoScanout.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import type { DisplayBuffer } from '../../display/DisplayBuffer.ts';
import { VfioDisplay, type Capture } from '../../display/VfioDisplay.ts';
import { GuestVm, type Monitor } from '../../lab/GuestVm.ts';
import {
  runScenario, SCENARIOS, type ScenarioName, type ScenarioResult,
} from '../../lab/Scenario.ts';
import { encodePng } from '../../render/Png.ts';
import { SoftwareRenderer, toSigned32 } from '../../render/SoftwareRenderer.ts';
import { EmulatedHost } from '../../vfio/EmulatedHost.ts';
import type { PlaneInfo } from '../../vfio/PlaneInfo.ts';
import { deviceSpec, emulatedKind, isEmulatedSpec, openDevice, vfioApiOption } from '../DeviceSpec.ts';
import type { VfioApi } from '../../linux/RealDevice.ts';
import { integer, oneOf, outputFile, resolution } from '../Flags.ts';
import { planeId, planeJson, type PlaneJson } from '../PlaneJson.ts';
import { qemuAction, qemuSnapshot } from '../QemuCli.ts';

/** A plane as QUERY_GFX_PLANE described it, for --json (the CLI's common plane shape). */
export type SnapshotPlane = PlaneJson;

export interface SnapshotResult {
  readonly device: string;
  readonly type: string;
  readonly scenario: ScenarioName;
  readonly width: number;
  readonly height: number;
  readonly primary: SnapshotPlane;
  readonly cursor: SnapshotPlane | null;
  readonly cursorStatus: string;
  readonly run: ScenarioResult;
  /** dma-bufs exported for the render (GET calls). */
  readonly gets: number;
  readonly png: Uint8Array;
}

export interface SnapshotOptions {
  /** `emulated:gvt`, `emulated:bochs` or `emulated:<mdev type>` of those kinds. */
  readonly device: string;
  readonly scenario: ScenarioName;
  /** The monitor plugged before boot (default DEFAULT_MONITOR); 'type' keeps the mdev type's EDID. */
  readonly monitor?: Monitor | 'type';
  readonly maxSteps?: number;
}

/**
 * 1024x768 unless told otherwise: it fits every scenario on every type (mbochs-medium's 16 MiB of
 * VRAM cannot hold a console and two session buffers at its own 1920x1080).
 */
export const DEFAULT_MONITOR: Monitor = { width: 1024, height: 768 };

/** A captured plane's buffer, or null when the plane is off; throws on a failure. */
function frameOf(c: Capture, what: string): PlaneBuffer | null {
  if (c.kind === 'error' || c.kind === 'retry') throw new Error(`${what} plane: ${c.message}`);
  return c.kind === 'frame' ? c : null;
}

/**
 * Boot a VM on a fresh emulated host, run the scenario until its content condition holds, then
 * compose what the host exports — the primary and cursor planes, captured by the VM's display
 * client (QUERY, GET_GFX_DMABUF, mmap on the VMM's fd) — with the software renderer, into a PNG
 * at the guest's resolution.
 */
export async function takeSnapshot(opts: SnapshotOptions): Promise<SnapshotResult> {
  const m = /^emulated:(.+)$/.exec(opts.device);
  if (!m) {
    throw new Error(`--device ${opts.device}: snapshot boots a guest, so it needs emulated:gvt or emulated:bochs`);
  }
  const host = new EmulatedHost();
  let g: GuestVm;
  try {
    const monitor = opts.monitor === 'type' ? undefined : opts.monitor ?? DEFAULT_MONITOR;
    g = GuestVm.create({ host, type: m[1]!, name: 'snapshot', monitor });
  } catch (err) {
    throw new Error(`--device ${opts.device}: ${(err as Error).message}`);
  }
  try {
    const run = await runScenario(g, opts.scenario, opts.maxSteps);
    const primary = frameOf(g.display.capture(PlaneType.PRIMARY), 'primary');
    if (!primary) throw new Error('the primary plane is off');
    const cursor = g.vgpu.kind === 'gvt' ? frameOf(g.display.capture(PlaneType.CURSOR), 'cursor') : null;
    const r = renderPlanes(primary, cursor);
    return {
      device: opts.device, type: g.vgpu.typeName, scenario: opts.scenario, width: r.width, height: r.height,
      primary: planeJson(primary.plane), cursor: cursor ? planeJson(cursor.plane) : null,
      cursorStatus: r.cursorStatus, run, gets: g.display.stats.gets, png: r.png,
    };
  } finally {
    g.dispose();
  }
}

interface PlaneBuffer {
  readonly plane: PlaneInfo;
  readonly buffer: DisplayBuffer;
}

/** Compose primary + cursor with the software renderer and encode the PNG (guest resolution). */
function renderPlanes(primary: PlaneBuffer, cursor: PlaneBuffer | null): { width: number; height: number; png: Uint8Array; cursorStatus: string } {
  const r = new SoftwareRenderer({ opaquePrimary: true });
  const pi = primary.plane;
  const ps = r.setPrimary({
    source: primary.buffer.mapping, drmFormat: pi.drmFormat, modifier: pi.drmFormatMod,
    width: pi.width, height: pi.height, stride: pi.stride,
  });
  if (ps !== 'ok') throw new Error(`cannot render the primary plane: ${ps}`);
  if (cursor) {
    const ci = cursor.plane;
    r.setCursor({
      source: cursor.buffer.mapping, drmFormat: ci.drmFormat, modifier: ci.drmFormatMod, width: ci.width,
      height: ci.height, stride: ci.stride, x: toSigned32(ci.xPos), y: toSigned32(ci.yPos),
      hotX: ci.xHot, hotY: ci.yHot,
    });
  }
  const res = r.render();
  if (res.status !== 'ok') throw new Error(`render: ${res.status}${res.message ? ` (${res.message})` : ''}`);
  return { width: r.width, height: r.height, png: encodePng(r.framebuffer, r.width, r.height), cursorStatus: res.cursorStatus };
}

/** The planes a device shows right now, as a VMM sees them: QUERY, GET, mmap (any SPEC, real too). */
export interface CaptureResult {
  readonly device: string;
  readonly real: boolean;
  readonly demo: string | null;
  readonly width: number;
  readonly height: number;
  readonly primary: SnapshotPlane;
  readonly cursor: SnapshotPlane | null;
  readonly cursorStatus: string;
  readonly png: Uint8Array;
}

/** Snapshot a device as it is (no guest, no scenario): real devices and emulated ones. */
export async function captureDevice(spec: string, opts: { demo?: boolean; vfioApi?: VfioApi } = {}): Promise<CaptureResult> {
  const dev = await openDevice(spec, { vfioApi: opts.vfioApi });
  try {
    let demo: string | null = null;
    if (opts.demo) {
      if (!dev.vgpu) throw new Error('--demo works with emulated devices only');
      demo = setupDemoScanout(dev.vgpu);
    }
    const display = new VfioDisplay(dev.sys, dev.fd, { clock: new RealClock() });
    try {
      const primary = frameOf(display.capture(PlaneType.PRIMARY), 'primary');
      if (!primary) throw new Error('the primary plane is off (nothing to snapshot; an emulated vGPU has no guest: try --demo or --scenario)');
      const c = display.mode === 'dmabuf' ? display.capture(PlaneType.CURSOR) : undefined;
      const cursor = c?.kind === 'frame' ? c : null;
      const r = renderPlanes(primary, cursor);
      return {
        device: spec, real: dev.real, demo, width: r.width, height: r.height,
        primary: planeJson(primary.plane, primary.buffer.kind === 'region' ? 'regionIndex' : 'dmabufId'),
        cursor: cursor ? planeJson(cursor.plane) : null,
        cursorStatus: c?.kind === 'error' || c?.kind === 'retry' ? c.message : r.cursorStatus, png: r.png,
      };
    } finally {
      display.dispose();
    }
  } finally {
    dev.close();
  }
}

/** The --json shape (everything but the pixels). */
export function snapshotJson(s: SnapshotResult, out: string): unknown {
  const { png: _png, ...rest } = s;
  return { out, ...rest, pngBytes: s.png.byteLength };
}

export function formatSnapshot(s: SnapshotResult, out: string): string {
  const p = s.primary;
  const cur = s.cursor
    ? `cursor ${s.cursor.format} ${s.cursor.width}x${s.cursor.height} at (${s.cursor.xPos}, ${s.cursor.yPos}) ` +
      `id ${planeId(s.cursor)}`
    : 'no cursor plane';
  return `${out}: ${s.width}x${s.height} ${s.type} '${s.scenario}' after ${s.run.vblanks} vblanks; ` +
    `primary ${p.format} ${p.modifierName} stride ${p.stride} id ${planeId(p)}; ${cur}`;
}

interface SnapshotFlags {
  device?: string;
  scenario: ScenarioName;
  out: string;
  mode?: Monitor | 'type';
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('snapshot')
    .description('write a device\'s planes (primary + cursor, via QUERY/GET/mmap) as a PNG at guest ' +
      'resolution: with --scenario, boot a guest on an emulated vGPU and run the scenario until its ' +
      'content shows; without, capture the device as it is (real devices too)')
    .option('--device <spec>', 'emulated:gvt, emulated:bochs, emulated:<mdev type>, a UUID or /sys/bus/mdev/devices/UUID', deviceSpec)
    .addOption(vfioApiOption())
    .option('--qemu <spec>', 'instead of --device: a QEMU D-Bus display, dbus:unix:path=BUS or qmp:QMP-SOCKET')
    .option('--qemu-console <n>', 'with --qemu: the console id (default: the first graphic one)', integer(0, 0xffffffff))
    .option('--scenario <name>', `one of ${SCENARIOS.join(', ')} (emulated gvt/bochs only)`, oneOf(SCENARIOS))
    .requiredOption('--out <file>', 'PNG file to write (its folder must exist)', outputFile)
    .option('--mode <WxH>',
      'with --scenario: the monitor\'s preferred mode, default 1024x768 ("type": the mdev type\'s own EDID)',
      (v: string): Monitor | 'type' => (v === 'type' ? v : resolution(v)))
    .option('--demo', 'without --scenario, emulated devices: program a demo scanout first (a fresh vGPU has no guest)')
    .option('--json', 'print the plane info used as JSON')
    .action(async (o: SnapshotFlags & { demo?: boolean; vfioApi: VfioApi; qemu?: string; qemuConsole?: number }, cmd: Command) => {
      if (o.qemu !== undefined || o.device === undefined) {
        return qemuAction('snapshot', async () => {
          if (o.qemu === undefined || o.device !== undefined || o.scenario) throw new RangeError('give one of --device or --qemu (--scenario goes with --device)');
          const r = await qemuSnapshot(o.qemu, o.out, o.qemuConsole);
          process.stdout.write(o.json ? `${JSON.stringify({ out: o.out, ...r }, null, 2)}\n` : `${o.out}: ${r.width}x${r.height} ${r.format} QEMU console ${r.console} (${r.label}); ${r.listener.scanouts} scanouts, ${r.listener.updates} updates, ${r.listener.bytesCopied} bytes copied\n`);
        });
      }
      // Flag combinations, all checked before a device is opened or a guest boots.
      const kind = emulatedKind(o.device);
      if (o.scenario && kind !== 'gvt' && kind !== 'bochs') {
        cmd.error('error: --scenario boots a guest: it needs emulated:gvt, emulated:bochs or an emulated mdev type of those kinds (omit --scenario to capture a real device as it is)');
      }
      if (o.scenario && o.demo) cmd.error('error: --demo goes without --scenario (the scenario\'s guest draws the planes)');
      if (!o.scenario && o.mode) cmd.error('error: --mode goes with --scenario');
      if (o.demo && !isEmulatedSpec(o.device)) cmd.error('error: --demo works with emulated devices only');
      if (!o.scenario) {
        const c = await captureDevice(o.device, { demo: o.demo, vfioApi: o.vfioApi });
        writeFileSync(o.out, c.png);
        const { png: _png, ...rest } = c;
        const text = o.json ? JSON.stringify({ out: o.out, ...rest, pngBytes: c.png.byteLength }, null, 2)
          : `${o.out}: ${c.width}x${c.height} ${c.real ? 'real' : 'emulated'} device ${o.device}; primary ` +
            `${c.primary.format} ${c.primary.modifierName} stride ${c.primary.stride} id ${planeId(c.primary)}; ` +
            (c.cursor ? `cursor ${c.cursor.width}x${c.cursor.height} at (${c.cursor.xPos}, ${c.cursor.yPos})` : 'no cursor plane');
        process.stdout.write(`${text}\n`);
        return;
      }
      const s = await takeSnapshot({ device: o.device, scenario: o.scenario, monitor: o.mode });
      writeFileSync(o.out, s.png);
      const text = o.json ? JSON.stringify(snapshotJson(s, o.out), null, 2) : formatSnapshot(s, o.out);
      process.stdout.write(`${text}\n`);
    });
}
