import { VirtualClock } from '../../base/Clock.ts';
import { PAGE_SIZE } from '../../gpu/GuestMemory.ts';
import { GvtGuest, type GuestBuffer } from '../GvtGuest.ts';
import { VfioDisplay } from '../../display/VfioDisplay.ts';
import { EmulatedHost, type Vgpu } from '../../vfio/EmulatedHost.ts';
import type { Clock } from '../../base/Clock.ts';
import type { LabVm, PointerInput } from '../../server/VmRegistry.ts';
import { VmChannel } from '../../server/VmChannel.ts';

/** A LabVm over an emulated GVT vGPU, recording the input routed to it. */
export interface TestVm extends LabVm {
  readonly host: EmulatedHost;
  readonly vgpu: Vgpu;
  readonly guest: GvtGuest;
  readonly clock: VirtualClock;
  readonly vfio: VfioDisplay;
  readonly keys: Array<[number, boolean]>;
  readonly pointers: PointerInput[];
  readonly resizes: Array<[number, number]>;
  /** One display refresh (what the timer would do every 16 ms). */
  refresh(): void;
  /** Fill a whole buffer (contiguous pages) with one byte value. */
  fill(buf: GuestBuffer, value: number): void;
  /** The bytes of `buf` as the guest sees them. */
  bytes(buf: GuestBuffer): Uint8Array;
  dispose(): void;
}

/**
 * A VM whose guest is a GvtGuest (a few register writes) and whose display is the real
 * VfioDisplay over the emulated kernel, timer policy on a virtual clock: nothing refreshes until
 * the test calls `refresh()`.
 */
export function gvtVm(name: string, opts: { ramMiB?: number } = {}): TestVm {
  const host = new EmulatedHost();
  const vgpu = host.createVgpu('gvt', { ramBytes: (opts.ramMiB ?? 16) * 1024 * 1024 });
  const guest = new GvtGuest(vgpu);
  const fd = host.openDevice(vgpu.uuid);
  if (fd < 0) throw new Error(`openDevice: ${fd}`);
  const clock = new VirtualClock();
  const vfio = new VfioDisplay(host.kernel, fd, { clock, policy: 'timer' });
  const keys: Array<[number, boolean]> = [];
  const pointers: PointerInput[] = [];
  const resizes: Array<[number, number]> = [];
  return {
    name, kind: 'gvt', uuid: vgpu.uuid, description: vgpu.typeName, display: vfio,
    host, vgpu, guest, clock, vfio, keys, pointers, resizes,
    sendKey: (code, down) => { keys.push([code, down]); },
    sendPointer: (p) => { pointers.push(p); },
    requestResize: (w, h) => { resizes.push([w, h]); },
    refresh: () => vfio.refresh(),
    fill: (buf, value) => {
      const a = buf.pages[0]! * PAGE_SIZE;
      vgpu.memory.bytes.fill(value, a, a + buf.size);
    },
    bytes: (buf) => {
      const a = buf.pages[0]! * PAGE_SIZE;
      return vgpu.memory.bytes.slice(a, a + buf.size);
    },
    dispose: () => vfio.dispose(),
  };
}

/** Two linear buffers, the first shown and latched, the display started. */
export function doubleBuffered(vm: TestVm, width: number, height: number): [GuestBuffer, GuestBuffer] {
  const a = vm.guest.alloc({ width, height });
  const b = vm.guest.alloc({ width, height });
  vm.guest.showPrimary(a);
  vm.guest.vblank();
  vm.vfio.start();
  return [a, b];
}

/** Flip to `buf` and let the display see it. */
export function flip(vm: TestVm, buf: GuestBuffer): void {
  vm.guest.flip(buf);
  vm.guest.vblank();
  vm.refresh();
}

/** A bochs or region (mdpy) VM, display not started, timer policy on a virtual clock. */
export function emulatedVm(name: string, type: string, clock: Clock = new VirtualClock()):
  { vm: LabVm; vgpu: Vgpu; vfio: VfioDisplay } {
  const host = new EmulatedHost();
  const vgpu = host.createVgpu(type);
  const fd = host.openDevice(vgpu.uuid);
  if (fd < 0) throw new Error(`openDevice: ${fd}`);
  const vfio = new VfioDisplay(host.kernel, fd, { clock, policy: 'timer' });
  return { vm: { name, kind: vgpu.kind, uuid: vgpu.uuid, display: vfio }, vgpu, vfio };
}

/** Channels as the lab server keeps them (one per VM while anyone watches), for RfbServer tests. */
export function channelHost(): { channelFor(vm: LabVm): VmChannel; channelUnused(ch: VmChannel): void } {
  const map = new Map<LabVm, VmChannel>();
  return {
    channelFor: (vm) => {
      let ch = map.get(vm);
      if (ch === undefined) map.set(vm, (ch = new VmChannel(vm)));
      return ch;
    },
    channelUnused: (ch) => {
      if (ch.clientCount > 0) return;
      map.delete(ch.vm);
      ch.dispose();
    },
  };
}
