import { VirtualClock } from '../base/Clock.ts';
import { emulatedPageResolver } from '../display/EmulatedPages.ts';
import { GvtGuest, type GuestBuffer } from '../testkit/GvtGuest.ts';
import { VfioDisplay } from '../display/VfioDisplay.ts';
import { PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { LabServer } from '../server/LabServer.ts';
import { VmRegistry } from '../server/VmRegistry.ts';
import { EmulatedHost, type Vgpu } from '../vfio/EmulatedHost.ts';
import { cpuNowMs, wallNowMs } from './CpuClock.ts';
import { FullFrameServer } from './remote/FullFrameServer.ts';
import { WireProbe } from './remote/WireProbe.ts';
import { round, spread, type Spread } from './Stats.ts';

const MSG_BUFFER_DATA = 0x11;
const MSG_SCANOUT = 0x13;
const MSG_FRAME = 0x16;
const VBLANK_MS = 1000 / 60;

export interface RemoteOptions {
  readonly reps: number;
  /** Flips between two synced buffers per run (scenario a). */
  readonly flips: number;
  /** Typed characters per run (scenario b). */
  readonly keystrokes: number;
  /** Animation frames per run (scenario c). */
  readonly frames: number;
  /** Scenario a/b display mode (default 1024×768, the fbcon/session mode of the lab). */
  readonly consoleSize?: readonly [number, number];
  /** Scenario c display mode (default 1920×1080). */
  readonly animationSize?: readonly [number, number];
  readonly log?: (line: string) => void;
}

/** One scenario through one server in one run. */
export interface ScenarioRun {
  readonly steps: number;
  /** Bytes the client's TCP socket read per step (WebSocket framing included, TCP/IP not). */
  readonly wireBytesPerStep: number;
  /** Server process CPU per step: everything but the guest's own drawing (µs). */
  readonly serverCpuUsPerStep: number;
  /** Wall ms per step in lockstep (step, then wait for the client to have it). */
  readonly wallMsPerStep: number;
}

export interface ScenarioFigures {
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  /** Medians over runs. */
  readonly oursBytes: number;
  readonly baselineBytes: number;
  readonly oursCpuUs: number;
  readonly baselineCpuUs: number;
  readonly oursWallMs: number;
  readonly baselineWallMs: number;
  /** baseline / ours bytes, and CPU, per run. */
  readonly bytesRatio: Spread;
  readonly cpuRatio: Spread;
  readonly spread: {
    readonly oursBytes: Spread; readonly baselineBytes: Spread; readonly oursCpuUs: Spread; readonly baselineCpuUs: Spread;
  };
}

export interface RemoteResult {
  readonly reps: number;
  readonly flip: ScenarioFigures;
  readonly keystroke: ScenarioFigures;
  readonly animation: ScenarioFigures & {
    /** Bytes per second at 60 frames/s, from the bytes per frame. */
    readonly oursBytesPerSec: number;
    readonly baselineBytesPerSec: number;
    /** Frames per second the lockstep loop achieved (guest + server + client, one machine). */
    readonly oursLockstepFps: number;
    readonly baselineLockstepFps: number;
  };
}

/** A VM for the remote runs: gvt vGPU, an in-process guest, our display client (dirty policy). */
interface RemoteVm {
  readonly name: string;
  readonly host: EmulatedHost;
  readonly vgpu: Vgpu;
  readonly guest: GvtGuest;
  readonly clock: VirtualClock;
  readonly display: VfioDisplay;
  readonly bufs: GuestBuffer[];
  dispose(): void;
}

function remoteVm(name: string, width: number, height: number, buffers: number): RemoteVm {
  const host = new EmulatedHost();
  const stride = Math.ceil((width * 4) / 64) * 64;
  const ramBytes = Math.ceil((buffers * stride * height + 64 * PAGE_SIZE) / (1 << 20)) * (1 << 20);
  const vgpu = host.createVgpu('i915-GVTg_V5_4', { ramBytes });
  const guest = new GvtGuest(vgpu);
  const fd = host.openDevice(vgpu.uuid);
  if (fd < 0) throw new Error(`remote bench: open failed (${fd})`);
  const bufs: GuestBuffer[] = [];
  for (let i = 0; i < buffers; i++) {
    const b = guest.alloc({ width, height });
    bufs.push(b);
    paint(guest, b, 0x00204060 + i * 0x00101010);
  }
  guest.showPrimary(bufs[0]!);
  guest.vblank();
  const clock = new VirtualClock();
  const display = new VfioDisplay(host.kernel, fd, {
    clock, policy: 'dirty', intervalMs: 16, dirtyLog: vgpu.dirtyLog, pageResolver: emulatedPageResolver(host.kernel),
  });
  display.start();
  return {
    name, host, vgpu, guest, clock, display, bufs,
    dispose: () => {
      display.dispose();
      host.kernel.close(fd);
      host.destroyVgpu(vgpu.uuid);
    },
  };
}

/** Fill a whole (contiguous) buffer with one pixel value and mark it in the dirty log. */
function paint(guest: GvtGuest, b: GuestBuffer, argb: number): void {
  const a = b.pages[0]! * PAGE_SIZE;
  new Uint32Array(guest.memory.buffer, a, b.size / 4).fill(argb >>> 0);
  guest.dirtyLog.markBytes(a, b.size);
}

/** Let the display client act: one vblank period of virtual time. */
function tick(vm: RemoteVm): void {
  vm.clock.advance(VBLANK_MS);
}

interface Scenario {
  readonly buffers: number;
  readonly size: readonly [number, number];
  readonly steps: number;
  /** Message type that ends one step on our protocol. */
  readonly oursEnd: number;
  /** Steps run first, unmeasured, to bring the client to the synced state the scenario needs. */
  readonly warmSteps: number;
  /** The guest's action for step i (its CPU is not the server's). */
  step(vm: RemoteVm, i: number): void;
}

const flipScenario = (o: RemoteOptions): Scenario => ({
  // Warm-up flips to B, then back to A: from then on the client holds both with current content.
  buffers: 2, size: o.consoleSize ?? [1024, 768], steps: o.flips, oursEnd: MSG_SCANOUT, warmSteps: 2,
  step: (vm, i) => {
    vm.guest.flip(vm.bufs[(i + 1) % 2]!);
    vm.guest.vblank();
  },
});

const keystrokeScenario = (o: RemoteOptions): Scenario => ({
  buffers: 1, size: o.consoleSize ?? [1024, 768], steps: o.keystrokes, oursEnd: MSG_FRAME, warmSteps: 1,
  step: (vm, i) => {
    // Typing along a text line, 8×16 cells, wrapping to the next line (a line per 16 pixel rows).
    const b = vm.bufs[0]!;
    const cols = Math.floor(b.width / 8);
    const rows = Math.floor(b.height / 16);
    vm.guest.drawGlyphCell(b, i % cols, (1 + Math.floor(i / cols)) % rows);
  },
});

const animationScenario = (o: RemoteOptions): Scenario => ({
  buffers: 2, size: o.animationSize ?? [1920, 1080], steps: o.frames, oursEnd: MSG_SCANOUT, warmSteps: 2,
  step: (vm, i) => {
    // Every pixel of the back buffer changes, then the flip: a full-screen animation frame.
    const back = vm.bufs[(i + 1) % 2]!;
    paint(vm.guest, back, 0xff000000 | ((i * 0x0a0b0c + 0x102030) & 0xffffff));
    vm.guest.flip(back);
    vm.guest.vblank();
  },
});

/**
 * Section 5, the remote display: wire bytes and server CPU for a flip between two buffers the
 * client already holds, one typed character on a text console, and a full-screen animation —
 * our protocol (LabServer, a mirror of the dma-buf cache per client) against a server that sends
 * the whole frame on every change. The viewer is a separate process, so the CPU is the server's.
 */
export async function runRemoteBench(o: RemoteOptions): Promise<RemoteResult> {
  const scen = { flip: flipScenario(o), keystroke: keystrokeScenario(o), animation: animationScenario(o) };
  const runs: Record<keyof typeof scen, { ours: ScenarioRun[]; base: ScenarioRun[] }> = {
    flip: { ours: [], base: [] }, keystroke: { ours: [], base: [] }, animation: { ours: [], base: [] },
  };
  const probe = await WireProbe.spawn();
  try {
    for (let r = 0; r < o.reps; r++) {
      for (const k of Object.keys(scen) as Array<keyof typeof scen>) {
        o.log?.(`  remote run ${r + 1}/${o.reps}: ${k}`);
        runs[k].ours.push(await runScenario(scen[k], 'ours', probe));
        runs[k].base.push(await runScenario(scen[k], 'baseline', probe));
      }
    }
  } finally {
    await probe.close();
  }
  const fig = (k: keyof typeof scen): ScenarioFigures => figures(scen[k], runs[k].ours, runs[k].base);
  const anim = fig('animation');
  const fps = (rs: ScenarioRun[]): number => round(1000 / spread(rs.map((x) => x.wallMsPerStep)).median, 1);
  return {
    reps: o.reps, flip: fig('flip'), keystroke: fig('keystroke'),
    animation: {
      ...anim,
      oursBytesPerSec: Math.round(anim.oursBytes * 60),
      baselineBytesPerSec: Math.round(anim.baselineBytes * 60),
      oursLockstepFps: fps(runs.animation.ours),
      baselineLockstepFps: fps(runs.animation.base),
    },
  };
}

function figures(s: Scenario, ours: ScenarioRun[], base: ScenarioRun[]): ScenarioFigures {
  const ob = spread(ours.map((x) => x.wireBytesPerStep), 1);
  const bb = spread(base.map((x) => x.wireBytesPerStep), 1);
  const oc = spread(ours.map((x) => x.serverCpuUsPerStep), 1);
  const bc = spread(base.map((x) => x.serverCpuUsPerStep), 1);
  return {
    width: s.size[0], height: s.size[1], steps: s.steps,
    oursBytes: ob.median, baselineBytes: bb.median, oursCpuUs: oc.median, baselineCpuUs: bc.median,
    oursWallMs: spread(ours.map((x) => x.wallMsPerStep), 3).median,
    baselineWallMs: spread(base.map((x) => x.wallMsPerStep), 3).median,
    bytesRatio: spread(ours.map((x, i) => base[i]!.wireBytesPerStep / Math.max(1, x.wireBytesPerStep)), 1),
    cpuRatio: spread(ours.map((x, i) => base[i]!.serverCpuUsPerStep / Math.max(1e-3, x.serverCpuUsPerStep)), 2),
    spread: { oursBytes: ob, baselineBytes: bb, oursCpuUs: oc, baselineCpuUs: bc },
  };
}

async function runScenario(s: Scenario, server: 'ours' | 'baseline', probe: WireProbe): Promise<ScenarioRun> {
  const vm = remoteVm('bench', s.size[0], s.size[1], s.buffers);
  let lab: LabServer | undefined;
  let base: FullFrameServer | undefined;
  try {
    let endType: number;
    if (server === 'ours') {
      const vms = new VmRegistry([{ name: vm.name, kind: 'gvt', display: vm.display }]);
      lab = await LabServer.start({ vms, port: 0, statsIntervalMs: 0, heartbeatMs: 0, assets: new Map() });
      await probe.connect(`ws://127.0.0.1:${lab.port}/ws?stats=0`, vm.name, [MSG_SCANOUT, MSG_FRAME]);
      endType = s.oursEnd;
      // Attached: the client gets the shown buffer and its SCANOUT.
      await probe.waitCount(MSG_SCANOUT, 1);
    } else {
      base = await FullFrameServer.start(vm.display.console);
      await probe.connect(base.url, '-', [MSG_BUFFER_DATA]);
      endType = MSG_BUFFER_DATA;
    }
    let expected = probe.count(endType);
    for (let i = 0; i < s.warmSteps; i++) {
      s.step(vm, i);
      tick(vm);
      await probe.waitCount(endType, ++expected);
    }
    await probe.settledBytes();
    const b0 = probe.sock;
    const c0 = cpuNowMs();
    const w0 = wallNowMs();
    let guestMs = 0;
    for (let i = 0; i < s.steps; i++) {
      const g0 = cpuNowMs();
      s.step(vm, s.warmSteps + i);
      guestMs += cpuNowMs() - g0;
      tick(vm);
      await probe.waitCount(endType, ++expected);
    }
    const w1 = wallNowMs();
    const c1 = cpuNowMs();
    const b1 = await probe.settledBytes();
    return {
      steps: s.steps,
      wireBytesPerStep: round((b1 - b0) / s.steps, 1),
      serverCpuUsPerStep: round(((c1 - c0 - guestMs) * 1000) / s.steps, 1),
      wallMsPerStep: round((w1 - w0) / s.steps, 3),
    };
  } finally {
    probe.disconnect();
    await lab?.close();
    await base?.close();
    vm.dispose();
  }
}
