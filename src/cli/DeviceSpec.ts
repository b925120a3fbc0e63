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
 * src/linux. Throws an Error with a clear message for a bad spec.
 */
export async function openDevice(spec: string): Promise<OpenedDevice> {
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
    // Loaded on demand: koffi and /dev/vfio are needed for real devices only.
    const { openRealDevice } = await import('../linux/RealDevice.ts');
    return openRealDevice(spec);
  }
  throw new Error(`--device ${spec}: expected emulated:gvt|bochs|region, emulated:<mdev type>, a UUID or /sys/bus/mdev/devices/UUID`);
}
