import { InvalidArgumentError, type Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { Errno, errnoName } from '../../base/Errno.ts';
import { setupDemoScanout } from '../../display/testing/DemoScanout.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import { GuestVm, type Monitor } from '../../lab/GuestVm.ts';
import type { ExportedPlane } from '../../lab/PlaneExporter.ts';
import {
  isScenario, runScenario, SCENARIOS, type ScenarioName, type ScenarioResult,
} from '../../lab/Scenario.ts';
import { encodePng } from '../../render/Png.ts';
import { SoftwareRenderer, toSigned32 } from '../../render/SoftwareRenderer.ts';
import { EmulatedHost } from '../../vfio/EmulatedHost.ts';
import type { PlaneInfo } from '../../vfio/PlaneInfo.ts';
import { VFIO_GFX_PLANE_TYPE_DMABUF } from '../../vfio/Abi.ts';
import { PROT_READ, type Sys } from '../../vfio/Sys.ts';
import { getDmabuf, query } from '../../vfio/GfxIoctl.ts';
import type { PixelSource } from '../../render/PixelSource.ts';
import { openDevice, vfioApiOption } from '../DeviceSpec.ts';
import type { VfioApi } from '../../linux/RealDevice.ts';
import { planeJson, type PlaneJson } from '../PlaneJson.ts';

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

function snapshotPlane(info: PlaneInfo): SnapshotPlane {
  return planeJson({ ...info, id: info.dmabufId, modifier: info.drmFormatMod });
}

function exported(g: GuestVm, type: number): ExportedPlane | null {
  const p = g.exporter.acquire(type);
  if (typeof p === 'number') {
    throw new Error(`${type === PlaneType.CURSOR ? 'cursor' : 'primary'} plane: ${errnoName(p)}`);
  }
  return p;
}

/**
 * Boot a VM on a fresh emulated host, run the scenario until its content condition holds, then
 * compose what the host exports — the primary and cursor planes, each QUERYed, exported with
 * GET_GFX_DMABUF and mapped on the VMM's fd — with the software renderer, into a PNG at the
 * guest's resolution.
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
    const primary = exported(g, PlaneType.PRIMARY);
    if (!primary) throw new Error('the primary plane is off');
    const cursor = g.vgpu.kind === 'gvt' ? exported(g, PlaneType.CURSOR) : null;
    const r = renderPlanes(primary, cursor);
    return {
      device: opts.device, type: g.vgpu.typeName, scenario: opts.scenario, width: r.width, height: r.height,
      primary: snapshotPlane(primary.info), cursor: cursor ? snapshotPlane(cursor.info) : null,
      cursorStatus: r.cursorStatus, run, gets: g.exporter.gets, png: r.png,
    };
  } finally {
    g.dispose();
  }
}

interface PlaneBuffer {
  readonly info: PlaneInfo;
  readonly mapping: PixelSource;
}

/** Compose primary + cursor with the software renderer and encode the PNG (guest resolution). */
function renderPlanes(primary: PlaneBuffer, cursor: PlaneBuffer | null): { width: number; height: number; png: Uint8Array; cursorStatus: string } {
  const r = new SoftwareRenderer({ opaquePrimary: true });
  const pi = primary.info;
  const ps = r.setPrimary({
    source: primary.mapping, drmFormat: pi.drmFormat, modifier: pi.drmFormatMod,
    width: pi.width, height: pi.height, stride: pi.stride,
  });
  if (ps !== 'ok') throw new Error(`cannot render the primary plane: ${ps}`);
  if (cursor) {
    const ci = cursor.info;
    r.setCursor({
      source: cursor.mapping, drmFormat: ci.drmFormat, modifier: ci.drmFormatMod, width: ci.width,
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

function acquire(sys: Sys, fd: number, type: number): PlaneBuffer | null | string {
  let q = query(sys, fd, VFIO_GFX_PLANE_TYPE_DMABUF, type);
  // Real mbochs answers the first query after a mode change with -ENOMEM (B12): ask again.
  if (q.rc === -Errno.ENOMEM || q.rc === -Errno.EAGAIN) q = query(sys, fd, VFIO_GFX_PLANE_TYPE_DMABUF, type);
  if (q.rc < 0) return `QUERY_GFX_PLANE → ${errnoName(q.rc)}`;
  if (q.info.drmFormat === 0 || q.info.size === 0) return null;
  const dfd = getDmabuf(sys, fd, q.info.dmabufId);
  if (dfd < 0) return `GET_GFX_DMABUF(${q.info.dmabufId}) → ${errnoName(dfd)}`;
  const m = sys.mmap(dfd, 0, Math.ceil(q.info.size / 4096) * 4096, PROT_READ);
  if (typeof m === 'number') {
    sys.close(dfd);
    return `mmap of the dma-buf → ${errnoName(m)}${m === -Errno.EINVAL ? ' (stock mbochs exports read-only dma-bufs that cannot be mapped; use a driver that exports them O_RDWR)' : ''}`;
  }
  return { info: q.info, mapping: m };
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
    const primary = acquire(dev.sys, dev.fd, PlaneType.PRIMARY);
    if (typeof primary === 'string') throw new Error(`primary plane: ${primary}`);
    if (!primary) throw new Error('the primary plane is off (nothing to snapshot; an emulated vGPU has no guest: try --demo or --scenario)');
    const cursor = acquire(dev.sys, dev.fd, PlaneType.CURSOR);
    const r = renderPlanes(primary, typeof cursor === 'string' ? null : cursor);
    return {
      device: spec, real: dev.real, demo, width: r.width, height: r.height,
      primary: snapshotPlane(primary.info),
      cursor: cursor && typeof cursor !== 'string' ? snapshotPlane(cursor.info) : null,
      cursorStatus: typeof cursor === 'string' ? cursor : r.cursorStatus, png: r.png,
    };
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
    ? `cursor ${s.cursor.format} ${s.cursor.width}x${s.cursor.height} at (${s.cursor.x}, ${s.cursor.y}) ` +
      `id ${s.cursor.id}`
    : 'no cursor plane';
  return `${out}: ${s.width}x${s.height} ${s.type} '${s.scenario}' after ${s.run.vblanks} vblanks; ` +
    `primary ${p.format} ${p.modifierName} stride ${p.stride} id ${p.id}; ${cur}`;
}

function parseScenario(v: string): ScenarioName {
  if (!isScenario(v)) throw new InvalidArgumentError(`expected one of ${SCENARIOS.join(', ')}`);
  return v;
}

function parseMode(v: string): Monitor | 'type' {
  if (v === 'type') return v;
  const m = /^(\d{2,4})x(\d{2,4})$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected WIDTHxHEIGHT, e.g. 1024x768');
  return { width: Number(m[1]), height: Number(m[2]) };
}

interface SnapshotFlags {
  device: string;
  scenario: ScenarioName;
  out: string;
  mode?: Monitor | 'type';
  json?: boolean;
}

/** A flag combination that cannot work: a message and exit code 2, like a bad flag. */
function usageError(message: string): void {
  console.error(`vgpu-display snapshot: ${message}`);
  process.exitCode = 2;
}

export function register(program: Command): void {
  program
    .command('snapshot')
    .description('write a device\'s planes (primary + cursor, via QUERY/GET/mmap) as a PNG at guest ' +
      'resolution: with --scenario, boot a guest on an emulated vGPU and run the scenario until its ' +
      'content shows; without, capture the device as it is (real devices too)')
    .requiredOption('--device <spec>', 'emulated:gvt, emulated:bochs, emulated:<mdev type>, a UUID or /sys/bus/mdev/devices/UUID')
    .addOption(vfioApiOption())
    .option('--scenario <name>', `one of ${SCENARIOS.join(', ')} (emulated gvt/bochs only)`, parseScenario)
    .requiredOption('--out <file>', 'PNG file to write')
    .option('--mode <WxH>',
      'with --scenario: the monitor\'s preferred mode, default 1024x768 ("type": the mdev type\'s own EDID)', parseMode)
    .option('--demo', 'without --scenario, emulated devices: program a demo scanout first (a fresh vGPU has no guest)')
    .option('--json', 'print the plane info used as JSON')
    .action(async (o: SnapshotFlags & { demo?: boolean; vfioApi: VfioApi }) => {
      if (!o.scenario) {
        if (o.mode) return usageError('--mode goes with --scenario');
        const c = await captureDevice(o.device, { demo: o.demo, vfioApi: o.vfioApi });
        writeFileSync(o.out, c.png);
        const { png: _png, ...rest } = c;
        const text = o.json ? JSON.stringify({ out: o.out, ...rest, pngBytes: c.png.byteLength }, null, 2)
          : `${o.out}: ${c.width}x${c.height} ${c.real ? 'real' : 'emulated'} device ${o.device}; primary ` +
            `${c.primary.format} ${c.primary.modifierName} stride ${c.primary.stride} id ${c.primary.id}; ` +
            (c.cursor ? `cursor ${c.cursor.width}x${c.cursor.height} at (${c.cursor.x}, ${c.cursor.y})` : 'no cursor plane');
        process.stdout.write(`${text}\n`);
        return;
      }
      if (!o.device.startsWith('emulated:')) {
        return usageError('--scenario boots a guest: it needs emulated:gvt, emulated:bochs or an emulated mdev type of those kinds (omit --scenario to capture a real device as it is)');
      }
      const s = await takeSnapshot({ device: o.device, scenario: o.scenario, monitor: o.mode });
      writeFileSync(o.out, s.png);
      const text = o.json ? JSON.stringify(snapshotJson(s, o.out), null, 2) : formatSnapshot(s, o.out);
      process.stdout.write(`${text}\n`);
    });
}
