import { InvalidArgumentError } from 'commander';
import { writeFileSync } from 'node:fs';
import { formatName } from '../kms/Fourcc.ts';
import type { ListenerStats } from '../qemu/QemuListener.ts';
import { QemuMachine } from '../qemu/QemuMachine.ts';
import { parseQemuSpec } from '../qemu/QemuSession.ts';
import { consolePng, renderConsole } from '../qemu/QemuSnapshot.ts';
import type { QemuView } from '../qemu/QemuView.ts';

/**
 * The `--qemu SPEC` side of run/snapshot/probe, kept here so each command only gains an option
 * and a branch. Bad specs and missing consoles are RangeErrors (exit 2); QEMU not answering is an
 * Error (exit 1).
 */

/** Start one QemuMachine per spec (views named qemu-1, qemu-2, ...); closes all on failure. */
export async function startQemus(specs: readonly string[], console?: number, log?: (line: string) => void): Promise<QemuMachine[]> {
  const parsed = specs.map(parseQemuSpec);
  const out: QemuMachine[] = [];
  try {
    for (let i = 0; i < parsed.length; i++) {
      const m = await QemuMachine.start(parsed[i]!, `qemu-${i + 1}`, { console, log });
      out.push(m);
      for (const v of m.views) log?.(`${v.name}: ${v.description}`);
    }
    return out;
  } catch (e) {
    for (const m of out) m.dispose();
    throw e;
  }
}

/**
 * Resolves once the view shows a picture and no Scanout (new surface, or 7.2's re-register after
 * a silent resize) came for `quietMs`. Updates do not count: a VGA text console sends them on
 * every refresh tick even when idle, and each one is already applied to the picture.
 */
function settled(view: QemuView, quietMs = 300, maxMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    let last = Date.now();
    const sub = view.listener.onOutOfBounds(() => { last = Date.now(); });
    const sub2 = view.console.onScanout(() => { last = Date.now(); });
    const tick = (): void => {
      const now = Date.now();
      if (view.console.scanout && now - last >= quietMs) done();
      else if (now - t0 > maxMs) {
        if (view.console.scanout) done();
        else fail(new Error(`QEMU sent no Scanout within ${maxMs} ms`));
      } else setTimeout(tick, 25);
    };
    const done = (): void => { sub.dispose(); sub2.dispose(); resolve(); };
    const fail = (e: Error): void => { sub.dispose(); sub2.dispose(); reject(e); };
    tick();
  });
}

export interface QemuSnapshotResult {
  readonly spec: string;
  readonly console: number;
  readonly label: string;
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly pngBytes: number;
  readonly listener: Omit<ListenerStats, 'used'> & { used: string[] };
}

function listenerJson(s: ListenerStats): QemuSnapshotResult['listener'] {
  return { ...s, used: [...s.used] };
}

/** `snapshot --qemu SPEC --out F.png`: the console's picture once it settled. */
export async function qemuSnapshot(spec: string, out: string, console?: number): Promise<QemuSnapshotResult> {
  const [m] = await startQemus([spec], console);
  try {
    const v = m!.views[0]!;
    await settled(v);
    const pic = renderConsole(v.console);
    const png = consolePng(pic);
    writeFileSync(out, png);
    return {
      spec, console: v.info.id, label: v.info.label, width: pic.width, height: pic.height,
      format: formatName(v.console.scanout!.drmFormat), pngBytes: png.length, listener: listenerJson(v.listener.stats),
    };
  } finally {
    m!.dispose();
  }
}

export interface QemuProbeReport {
  readonly spec: string;
  readonly transport: 'bus' | 'p2p';
  readonly vm: { readonly name: string; readonly uuid: string };
  readonly consoles: readonly {
    readonly id: number; readonly label: string; readonly type: string; readonly head: number; readonly width: number;
    readonly height: number; readonly deviceAddress: string; readonly absoluteMouse: boolean;
    readonly qemuInterfaces: readonly string[] | null;
  }[];
  /** The first graphic console's listener after it settled. */
  readonly listener: {
    readonly console: number; readonly announced: readonly string[]; readonly registrations: number;
    readonly registerMs: number; readonly width: number; readonly height: number; readonly format: string;
    readonly stats: QemuSnapshotResult['listener'];
  };
}

/** `probe --qemu SPEC`: consoles, sizes, and what the listener negotiated and received. */
export async function qemuProbe(spec: string, console?: number): Promise<QemuProbeReport> {
  const [m] = await startQemus([spec], console);
  try {
    const v = m!.views[0]!;
    await settled(v);
    const s = m!.session!;
    const b = v.console.scanout!;
    return {
      spec, transport: s.spec.kind === 'qmp' ? 'p2p' : 'bus', vm: { name: s.vmName, uuid: s.vmUuid },
      consoles: s.consoles.map((c) => ({
        id: c.id, label: c.label, type: c.type, head: c.head, width: c.width, height: c.height,
        deviceAddress: c.deviceAddress, absoluteMouse: c.absoluteMouse, qemuInterfaces: c.interfaces,
      })),
      listener: {
        console: v.info.id, announced: v.listener.interfaces, registrations: v.registrations,
        registerMs: Math.round(v.lastRegisterMs * 100) / 100, width: b.width, height: b.height,
        format: formatName(b.drmFormat), stats: listenerJson(v.listener.stats),
      },
    };
  } finally {
    m!.dispose();
  }
}

export function formatQemuProbe(r: QemuProbeReport): string {
  const l = r.listener;
  return [
    `qemu     ${r.spec} (${r.transport}) ${r.vm.name}${r.vm.uuid ? ` uuid ${r.vm.uuid}` : ''}`,
    ...r.consoles.map((c) => `console  ${c.id} ${c.type} ${c.label} ${c.width}x${c.height} head ${c.head}` +
      `${c.deviceAddress ? ` ${c.deviceAddress}` : ''} mouse ${c.absoluteMouse ? 'absolute' : 'relative'}` +
      ` interfaces ${c.qemuInterfaces === null ? '(none: QEMU predates the Interfaces property)' : c.qemuInterfaces.join(', ') || '-'}`),
    `listener console ${l.console}: ${l.width}x${l.height} ${l.format}, ${l.registrations} registration(s), last RegisterListener ${l.registerMs} ms`,
    `         announced ${l.announced.join(', ') || '-'}; QEMU called ${l.stats.used.join(', ') || 'nothing yet'}`,
    `         scanouts ${l.stats.scanouts}, updates ${l.stats.updates}, bytes received ${l.stats.bytesReceived}, bytes copied ${l.stats.bytesCopied}, shared buffers ${l.stats.sharedMapped} mapped / ${l.stats.sharedReused} reused`,
  ].join('\n');
}

/** Run a `--qemu` branch: a RangeError (bad spec, no such console) exits 2, anything else 1. */
export async function qemuAction(command: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    console.error(`vgpu-display ${command}: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = e instanceof RangeError ? 2 : 1;
  }
}

/** Commander parser for a `--qemu SPEC` flag: a bad spec is a usage error at parse time. */
export function qemuSpecFlag(v: string): string {
  try {
    parseQemuSpec(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  return v;
}
