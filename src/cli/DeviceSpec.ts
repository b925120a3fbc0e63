import { InvalidArgumentError, Option } from 'commander';
import type { VfioApi } from '../linux/RealDevice.ts';
import { DEFAULT_TYPE, EmulatedHost, type Vgpu, type VgpuKind } from '../vfio/EmulatedHost.ts';
import type { Sys } from '../vfio/Sys.ts';

/** An opened device: the syscall surface, the device fd, and (emulated only) its vGPU. */
export interface OpenedDevice {
  readonly spec: string;
  readonly sys: Sys;
  readonly fd: number;
  /** True for a real kernel device (quirks are then reported, not failed). */
  readonly real: boolean;
  /** Emulated devices: the host and vGPU behind the fd. */
  readonly host?: EmulatedHost;
  readonly vgpu?: Vgpu;
  close(): void;
}

const UUID_AT_END = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/?$/i;
const SPEC_HELP = 'expected emulated:gvt|bochs|region, emulated:<mdev type>, a UUID or /sys/bus/mdev/devices/UUID';

/**
 * The `--device <spec>` flag parser (src/cli/Flags.ts conventions): the spec's grammar, and for
 * `emulated:` a known type, checked before anything is opened.
 */
export function deviceSpec(v: string): string {
  const m = /^emulated:(.+)$/.exec(v);
  if (m) {
    if (m[1]! in DEFAULT_TYPE || EmulatedHost.kindOf(m[1]!)) return v;
    throw new InvalidArgumentError(`unknown emulated type '${m[1]}' (known: ${[...Object.keys(DEFAULT_TYPE), ...EmulatedHost.types()].join(', ')})`);
  }
  if (UUID_AT_END.test(v)) return v;
  throw new InvalidArgumentError(SPEC_HELP);
}

/** A `--vms` entry: a gvt or bochs kind, or an mdev type of those kinds (run --vms; Lab.start checks again). */
export function vmSpec(v: string): string {
  const kind = v === 'gvt' || v === 'bochs' ? v : EmulatedHost.kindOf(v);
  if (kind !== 'gvt' && kind !== 'bochs') {
    const types = EmulatedHost.types().filter((t) => EmulatedHost.kindOf(t) !== 'region');
    throw new InvalidArgumentError(`'${v}' is not a gvt or bochs VM kind or mdev type (known: gvt, bochs, ${types.join(', ')})`);
  }
  return v;
}

/** True for an `emulated:` spec (the flags that need a vGPU behind the fd check this first). */
export function isEmulatedSpec(spec: string): boolean {
  return spec.startsWith('emulated:');
}

/** The kind of vGPU an `emulated:` spec creates (undefined for a real device or a bad spec). */
export function emulatedKind(spec: string): VgpuKind | undefined {
  const m = /^emulated:(.+)$/.exec(spec);
  if (!m) return undefined;
  return m[1]! in DEFAULT_TYPE ? m[1] as VgpuKind : EmulatedHost.kindOf(m[1]!);
}

/**
 * `--device SPEC`: `emulated:gvt|bochs|region` or `emulated:<mdev type>` (e.g.
 * `emulated:mbochs-small`). Real devices (`/sys/bus/mdev/devices/UUID` or a UUID) are opened by
 * src/linux. Throws an Error with a clear message for a bad spec.
 */
export async function openDevice(spec: string, opts: { vfioApi?: VfioApi } = {}): Promise<OpenedDevice> {
  const m = /^emulated:(.+)$/.exec(spec);
  if (m) {
    const host = new EmulatedHost();
    let vgpu: Vgpu;
    try {
      vgpu = host.createVgpu(m[1]!);
    } catch (err) {
      throw new Error(`--device ${spec}: ${(err as Error).message}`);
    }
    const fd = host.openDevice(vgpu.uuid);
    if (fd < 0) throw new Error(`--device ${spec}: open failed (${fd})`);
    return { spec, sys: host.kernel, fd, real: false, host, vgpu, close: () => { host.kernel.close(fd); } };
  }
  const uuid = UUID_AT_END.exec(spec)?.[1];
  if (uuid) {
    // Loaded on demand: koffi and /dev/vfio are needed for real devices only.
    const { openRealDevice } = await import('../linux/RealDevice.ts');
    return openRealDevice(spec, { vfioApi: opts.vfioApi });
  }
  throw new Error(`--device ${spec}: ${SPEC_HELP}`);
}

/** `--vfio-api` of every command that takes --device (real devices only; see src/linux/RealDevice.ts). */
export function vfioApiOption(): Option {
  return new Option('--vfio-api <api>', 'real devices: the device cdev + iommufd, container/group, or cdev when the kernel has it')
    .choices(['cdev', 'group', 'auto']).default('auto');
}
