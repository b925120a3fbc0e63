import { Option } from 'commander';
import type { VfioApi } from '../linux/RealDevice.ts';
import { EmulatedHost, type Vgpu } from '../vfio/EmulatedHost.ts';
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

/**
 * `--device SPEC`: `emulated:gvt|bochs|region` or `emulated:<mdev type>` (e.g.
 * `emulated:mbochs-small`). Real devices (`/sys/bus/mdev/devices/UUID` or a UUID) are opened by
 * src/linux when it is present. Throws an Error with a clear message for a bad spec.
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
  const uuid = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/?$/i.exec(spec)?.[1];
  if (uuid) {
    let linux: { openRealDevice?: (s: string, o: { vfioApi?: VfioApi }) => Promise<OpenedDevice> };
    try {
      // Resolved at run time: src/linux is optional (it needs koffi and a Linux kernel).
      const modulePath = '../linux/RealDevice.ts';
      linux = (await import(modulePath)) as typeof linux;
    } catch {
      throw new Error(`--device ${spec}: real devices need src/linux (not available in this build)`);
    }
    if (!linux.openRealDevice) throw new Error(`--device ${spec}: real devices are not supported yet`);
    return linux.openRealDevice(spec, { vfioApi: opts.vfioApi });
  }
  throw new Error(`--device ${spec}: expected emulated:gvt|bochs|region, emulated:<mdev type>, a UUID or /sys/bus/mdev/devices/UUID`);
}

/** `--vfio-api` of every command that takes --device (real devices only; see src/linux/RealDevice.ts). */
export function vfioApiOption(): Option {
  return new Option('--vfio-api <api>', 'real devices: the device cdev + iommufd, container/group, or cdev when the kernel has it')
    .choices(['cdev', 'group', 'auto']).default('auto');
}
