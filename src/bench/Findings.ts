import type { DensityStep } from './DensityBench.ts';
import type { FlipStormBenchResult } from './FlipStormBench.ts';
import type { BrowserFigures } from './BrowserFigures.ts';
import type { LatencyCaseName, LoopbackFloor, PolicyLatency } from './LatencyBench.ts';
import type { ResolutionRow } from './ResolutionBench.ts';
import { num } from './Table.ts';

interface Json {
  flipStorm?: FlipStormBenchResult;
  resolution?: ResolutionRow[];
  latencyMs?: Partial<Record<LatencyCaseName, PolicyLatency & { immediateClock?: PolicyLatency; sameThreadClient?: PolicyLatency }>> & {
    loopback?: LoopbackFloor;
  };
  browser?: { runs: BrowserFigures[] };
  density?: { vms: number; cores: number; stoppedBy: string; steps: DensityStep[]; control?: DensityStep };
  remote?: {
    flipBytes: number;
    serverCpuUs: { flip: number; frame: number };
    baselineCpuUs: { flip: number; frame: number };
    details: {
      flip: { width: number; height: number };
      animation: { width: number; height: number; oursLockstepFps: number; baselineLockstepFps: number };
    };
  };
}

/**
 * "Where we miss, and why": one paragraph per target this run missed (or nearly), written from
 * the run's own numbers so the explanation always matches the tables.
 */
export function findings(json: Record<string, unknown>, loadStart: number, loadEnd: number, cores: number): string {
  const j = json as Json;
  const out: string[] = [];
  const k4 = j.resolution?.find((x) => x.width === 3840 && x.height === 2160);
  if (k4 && k4.ratio.median < 1000) {
    const rows = j.resolution ?? [];
    const q = rows.map((r) => r.queryUs);
    const flat = Math.max(...q) < 3 * Math.min(...q);
    out.push(`- **4K per-refresh ratio (${num(k4.ratio.median, 1)}× against ≥ 1000×).** The dma-buf path's ` +
      `${num(k4.dmabufUsPerRefresh)} µs per refresh are almost all the emulated kernel: its two QUERY_GFX_PLANE ` +
      `calls measured on their own take ${num(k4.queryUs)} µs, while the same refresh with the QUERY answered in ` +
      `O(1) takes ${num(k4.dmabufClientUs, 3)} µs (${num(k4.clientRatio.median, 0)}× below the region path). ` +
      (flat
        ? `The QUERY cost is flat over the sweep (${num(Math.min(...q))}–${num(Math.max(...q))} µs from ` +
          `${rows[0]?.width}×${rows[0]?.height} to 4K: the GGTT walk and the page hash are remembered while the ` +
          'guest does not remap); what remains is the fixed cost of an emulated ioctl in JavaScript — argument ' +
          'decoding, register decode, the cache lookup and the reply — twice per refresh (primary and cursor). ' +
          'The ratio is therefore the region path\'s copy time over that constant, and reaches 1000× only for ' +
          'frames larger than 4K on this machine (the QUERY cost of a real kernel was not measured here).'
        : `The QUERY cost grows with the frame (${num(Math.min(...q))}–${num(Math.max(...q))} µs over the ` +
          'sweep): the device model walks the plane\'s pages on queries (Ggtt.translateRange, pagesHash).'));
  }
  const ev = j.latencyMs?.event;
  if (ev && ev.p99 > 2) {
    const imm = ev.immediateClock;
    out.push(`- **Event policy p99 (${num(ev.p99)} ms against ≤ 2 ms).** The event policy refreshes at the end of ` +
      `the task that took the display IRQ (p50 ${num(ev.p50)} ms${imm ? `; the same policy on a setImmediate clock: ` +
      `p50 ${num(imm.p50)} / p99 ${num(imm.p99)} ms` : ''}). The tail is scheduling: ` +
      `the host's own vblank timer fired up to ${num(ev.hostTimerLateP99)} ms late (p99) in the same windows, and ` +
      `the load average was ${num(loadStart, 1)} → ${num(loadEnd, 1)} on ${cores} cores during the run.`);
  }
  const dirty = j.latencyMs?.dirty;
  if (dirty && dirty.wireP50 > 0.3) {
    const r = j.remote;
    const f = j.latencyMs?.loopback;
    out.push(`- **Dirty policy flip → wire p50 (${num(dirty.wireP50)} ms against ≤ 0.3 ms).** Flip → scanout ` +
      `is ${num(dirty.p50)} ms of it. A flip no longer reads the new buffer: the display reports the pages the ` +
      'guest wrote into it while it was off screen (dirty log), the server gives exactly those blocks new ' +
      'versions and sends them unhashed, then the SCANOUT' +
      `${r ? ` (a flip between synced buffers: ${num(r.serverCpuUs.flip, 0)} µs of server CPU at ` +
        `${r.details.flip.width}×${r.details.flip.height})` : ''}. What remains is the way to the socket — the ` +
      'mirror\'s pump and the WebSocket write' +
      `${f ? `, which alone (a bare 19-byte send) returns after ${num(f.writtenP50)} ms here` : ''} — on a ` +
      `machine whose load average was ${num(loadStart, 1)} → ${num(loadEnd, 1)} on ${cores} cores.`);
  }
  const bd = j.browser?.runs.find((f) => f.policy === 'dirty' && f.frames === 'vsync');
  if (bd && bd.flipToPresent.p50 > 5) {
    const p = bd.parts;
    const work = p.message.p50 + p.upload.p50 + p.convert.p50 + p.draw.p50;
    out.push(`- **Browser flip → present p50 (${num(bd.flipToPresent.p50)} ms against the ≤ 5 ms goal).** The ` +
      `viewer's own work per flip is ${num(work)} ms; host + socket is ${num(p.wire.p50)} ms (the guest flipped ` +
      `${num(bd.guestFlipsPerSec, 1)} times/s, the page took in ${num(bd.receivedMBps)} MB/s with ` +
      `${num(bd.backlogMB)} MB sent but not yet received), waiting for animation frames ` +
      `${num(p.waitFrame.p50 + p.toPresent.p50)} ms at ${num(bd.framesPerSec, 1)} frames/s; load average ` +
      `${num(loadStart, 1)} → ${num(loadEnd, 1)} on ${cores} cores.`);
  }
  const rm = j.remote;
  if (rm && rm.serverCpuUs.frame > rm.baselineCpuUs.frame) {
    const a = rm.details.animation;
    out.push(`- **Full-screen animation costs the mirror more than the baseline** (${num(rm.serverCpuUs.frame, 0)} ` +
      `against ${num(rm.baselineCpuUs.frame, 0)} µs of server CPU per ${a.width}×${a.height} frame; lockstep ` +
      `${num(a.oursLockstepFps, 1)} against ${num(a.baselineLockstepFps, 1)} fps) for the same bytes. Neither ` +
      'server hashes (every block the dirty log names is sent as copied); ours splits the frame into 256 KiB ' +
      'BUFFER_DATA messages, each its own allocation, copy and WebSocket write, plus a SCANOUT, where the ' +
      'baseline writes one message.');
  }
  const d = j.density;
  if (d && d.vms < 64) {
    const fail = d.steps.find((x) => !x.passed);
    const last = d.steps.filter((x) => x.passed).pop();
    const c = d.control;
    let why = `the run stopped (${d.stoppedBy}) before 64.`;
    if (fail) {
      const saturated = fail.cpuTotalPct >= d.cores * 100 * 0.8;
      why = `At ${fail.vms} VMs the p99 VM missed ${num(100 * fail.p99DeadlineMissRate)}% of its refreshes with the ` +
        `process using ${num(fail.cpuTotalPct, 1)}% of ${d.cores * 100}% CPU and the host event loop ` +
        `${num(fail.hostThreadPerVmPct * fail.vms, 1)}% of one core, preempted ${num(fail.hostPreemptionsPerSec, 0)} ` +
        'times a second. ' + (saturated ? 'The cores were saturated.' : 'The cores were not saturated: the misses ' +
          'are refreshes that waited for a core while other threads ran. ' + (c && c.missRate === 0
          ? `The control (the same deadlines, no VM, no work) missed nothing (p99 lateness ${num(c.p99LatenessMs)} ms, ` +
            `${num(c.hostPreemptionsPerSec, 0)} preemptions a second), so most of them are the VMs' own threads: one ` +
            `guest worker per VM, each woken at every vblank, ${fail.vms} of them sharing ${d.cores} cores with the ` +
            'event loop that serves them all.'
          : c ? `The control (the same deadlines, no VM, no work) also missed ${num(100 * c.missRate)}% (p99 lateness ` +
            `${num(c.p99LatenessMs)} ms): that share is the machine's (load average ${num(loadStart, 1)} → ` +
            `${num(loadEnd, 1)}).` : `Load average ${num(loadStart, 1)} → ${num(loadEnd, 1)}.`));
    }
    out.push(`- **Density (${d.vms} VMs against ≥ 64).** ${why}` +
      (last ? ` ${last.vms} VMs passed at ${num(last.cpuPerVmPct, 2)}% CPU per VM.` : ''));
  }
  const s = j.flipStorm;
  if (s && s.ratios.naiveOverOurs.median < 3) {
    out.push(`- **Ours vs naive in the flip storm is only ${num(s.ratios.naiveOverOurs.median, 2)}× in CPU** although ours ` +
      `does ${s.ours.gets} GETs and naive ${s.naive.gets}: both pay the emulated QUERY on every refresh, ` +
      'and at this frame size a GET + mmap + close costs little more than a QUERY ' +
      `(${num(s.ours.usInSyscalls)} of ours' ${num(s.ours.usPerRefresh)} µs wall per refresh are in the kernel).`);
  }
  return out.length === 0 ? '' : ['### Where we miss, and why', '', ...out].join('\n');
}
