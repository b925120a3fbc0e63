import type { Command } from 'commander';
import { RealClock } from '../../base/Clock.ts';
import { errnoName } from '../../base/Errno.ts';
import { formatName } from '../../kms/Fourcc.ts';
import { modifierName } from '../../kms/Modifier.ts';
import { PlaneType } from '../../kms/PlaneType.ts';
import { VfioDisplay, type DisplayStats, type PlaneReply } from '../../display/VfioDisplay.ts';
import { setupDemoScanout } from '../DemoScanout.ts';
import type { DisplayStatus } from '../../display/DisplayConsole.ts';
import { deviceSpec, isEmulatedSpec, openDevice, vfioApiOption } from '../DeviceSpec.ts';
import type { VfioApi } from '../../linux/RealDevice.ts';
import { integer } from '../Flags.ts';
import { planeId, planeJson, type PlaneJson } from '../PlaneJson.ts';
import { formatQemuProbe, qemuAction, qemuProbe } from '../QemuCli.ts';

/** A plane as probe reports it: the CLI's common plane shape plus the query result. */
export interface PlaneReport extends PlaneJson {
  readonly result: string;
  readonly enabled: boolean;
}

export interface CacheReport {
  readonly id: number;
  readonly fd: number;
  readonly shown: string;
  readonly format: string;
  readonly modifier: string;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly hits: number;
}

export interface ProbeReport {
  readonly device: string;
  readonly real: boolean;
  readonly demo: string | null;
  readonly mode: string;
  readonly primary: PlaneReport | null;
  readonly cursor: PlaneReport | null;
  readonly cacheCapacity: number;
  readonly cache: readonly CacheReport[];
  readonly status: DisplayStatus;
  readonly stats: DisplayStats;
}

const hex64 = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;

function planeReport(p: PlaneReply, union: 'dmabufId' | 'regionIndex'): PlaneReport {
  return {
    result: p.result < 0 ? errnoName(p.result) : 'ok',
    enabled: p.result === 0 && p.drmFormat !== 0 && p.size !== 0,
    ...planeJson(p, union),
  };
}

/** Open the device, probe, refresh once, and describe planes, cache and status. */
export async function probeDevice(
  spec: string, opts: { demo?: boolean; cacheSize?: number; vfioApi?: VfioApi } = {},
): Promise<ProbeReport> {
  const dev = await openDevice(spec, { vfioApi: opts.vfioApi });
  try {
    let demo: string | null = null;
    if (opts.demo) {
      if (!dev.vgpu) throw new Error('--demo works with emulated devices only');
      demo = setupDemoScanout(dev.vgpu);
    }
    const cacheSize = opts.cacheSize ?? 8;
    const display = new VfioDisplay(dev.sys, dev.fd, { clock: new RealClock(), policy: 'timer', cacheSize });
    try {
      const mode = display.probe();
      const union = mode === 'region' ? 'regionIndex' : 'dmabufId';
      if (mode === 'none') {
        display.console.setStatus('no-display', "device doesn't support any (known) display method");
      } else {
        display.refresh();
      }
      return {
        device: spec, real: dev.real, demo, mode,
        primary: mode === 'none' ? null : planeReport(display.planeInfo(PlaneType.PRIMARY), union),
        cursor: mode === 'dmabuf' ? planeReport(display.planeInfo(PlaneType.CURSOR), union) : null,
        cacheCapacity: cacheSize,
        cache: display.cacheEntries().map((e) => ({
          id: e.id, fd: e.fd, shown: e.shown, format: formatName(e.drmFormat), modifier: modifierName(e.modifier),
          width: e.width, height: e.height, stride: e.stride, hits: e.hits,
        })),
        status: display.console.status,
        stats: display.stats,
      };
    } finally {
      display.dispose();
    }
  } finally {
    dev.close();
  }
}

function planeLine(name: string, p: PlaneReport | null, idName: string): string {
  if (p === null) return `${name.padEnd(8)}-`;
  if (p.result !== 'ok') return `${name.padEnd(8)}QUERY failed: ${p.result}`;
  if (!p.enabled) return `${name.padEnd(8)}disabled`;
  const hot = p.xHot === null || p.yHot === null ? 'unknown' : `(${p.xHot}, ${p.yHot})`;
  const pos = name === 'cursor' ? ` at (${p.xPos}, ${p.yPos}) hotspot ${hot}` : '';
  return `${name.padEnd(8)}${p.format} ${p.modifierName} ${p.width}x${p.height} stride ${p.stride} size ${p.size}` +
    `${pos} ${idName} ${planeId(p)}`;
}

export function formatProbe(r: ProbeReport): string {
  const idName = r.mode === 'region' ? 'region_index' : 'dmabuf_id';
  const lines = [
    `device  ${r.device} (${r.real ? 'real kernel' : 'emulated'})`,
    ...(r.demo ? [`demo    ${r.demo}`] : []),
    `mode    ${r.mode}`,
    planeLine('primary', r.primary, idName),
    ...(r.mode === 'dmabuf' ? [planeLine('cursor', r.cursor, idName)] : []),
    `cache   ${r.cache.length}/${r.cacheCapacity} entries, most recently used first`,
    ...r.cache.map((e) => `  id ${e.id} fd ${e.fd} ${e.shown.padEnd(7)} ${e.format} ${e.modifier} ` +
      `${e.width}x${e.height} stride ${e.stride} hits ${e.hits}`),
    `status  ${r.status.reason}: ${r.status.message}`,
    `stats   queries ${r.stats.queries}, GETs ${r.stats.gets}, ` +
      `fds ${r.stats.fdsOpened} opened / ${r.stats.fdsClosed} closed, bytes copied ${r.stats.bytesCopied}`,
  ];
  return lines.join('\n');
}

/** Said when an emulated vGPU shows nothing: a fresh one has no guest driving it. */
export const NO_GUEST_HINT = 'nothing is scanned out: an emulated vGPU has no guest until one boots on it; ' +
  'try probe --demo (a demo scanout) or snapshot --scenario (a booted guest)';

export function register(program: Command): void {
  program
    .command('probe')
    .description('probe a VFIO display device: primary and cursor plane info and the dma-buf cache ' +
      'after one refresh')
    .option('--device <spec>', 'emulated:gvt|bochs|region, emulated:<mdev type>, or an mdev UUID', deviceSpec)
    .addOption(vfioApiOption())
    .option('--qemu <spec>', 'instead of --device: a QEMU D-Bus display, dbus:unix:path=BUS or qmp:QMP-SOCKET')
    .option('--qemu-console <n>', 'with --qemu: the console id (default: the first graphic one)', integer(0, 0xffffffff))
    .option('--json', 'print the report as JSON')
    .option('--demo', 'emulated devices: program a demo scanout first (a fresh vGPU has no guest)')
    .option('--cache-size <n>', 'consumer dma-buf cache size', integer(2, 1024), 8)
    .action(async (opts: { device?: string; vfioApi: VfioApi; qemu?: string; qemuConsole?: number; json?: boolean; demo?: boolean; cacheSize: number }, cmd: Command) => {
      if (opts.qemu !== undefined || opts.device === undefined) {
        return qemuAction('probe', async () => {
          if (opts.qemu === undefined || opts.device !== undefined) throw new RangeError('give one of --device or --qemu');
          const q = await qemuProbe(opts.qemu, opts.qemuConsole);
          process.stdout.write(opts.json ? `${JSON.stringify(q, null, 2)}\n` : `${formatQemuProbe(q)}\n`);
        });
      }
      if (opts.demo && !isEmulatedSpec(opts.device)) cmd.error('error: --demo works with emulated devices only');
      const report = await probeDevice(opts.device, { demo: opts.demo ?? false, cacheSize: opts.cacheSize, vfioApi: opts.vfioApi });
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatProbe(report)}\n`);
      if (!report.real && !report.demo && !report.primary?.enabled) process.stderr.write(`vgpu-display probe: ${NO_GUEST_HINT}\n`);
    });
}
