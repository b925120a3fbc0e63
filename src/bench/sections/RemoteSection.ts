import type { BenchSection } from '../BenchSection.ts';
import { runRemoteBench, type ScenarioFigures } from '../RemoteBench.ts';
import { barChart } from '../SvgChart.ts';
import { bytes, int, mdTable, mmm, num, textTable } from '../Table.ts';

export const remoteSection: BenchSection = {
  name: 'remote',
  title: 'Remote display',
  run: async (ctx) => {
    const s = ctx.sizes.remote;
    ctx.log(`bench: remote (${s.reps} runs; ${s.flips} flips, ${s.keystrokes} keystrokes, ${s.frames} frames)…`);
    const r = await runRemoteBench({ ...s, log: ctx.log });
    const sc: Array<[string, string, ScenarioFigures]> = [
      ['flip between synced buffers', 'flip', r.flip],
      ['one typed character (fbcon)', 'keystroke', r.keystroke],
      ['full-screen animation frame', 'frame', r.animation],
    ];
    const head = ['scenario', 'mode', 'wire bytes', 'baseline bytes', 'baseline/ours', 'server CPU µs', 'baseline CPU µs'];
    const rows = sc.map(([name, , f]) => [name, `${f.width}x${f.height}`, int(f.oursBytes), int(f.baselineBytes),
      `${num(f.bytesRatio.median, 1)}x`, num(f.oursCpuUs, 0), num(f.baselineCpuUs, 0)]);
    const a = r.animation;
    const text = [
      'remote display: bytes on the wire and server CPU per step (median of runs)',
      textTable(head, rows),
      `  animation at 60 fps: ours ${bytes(a.oursBytesPerSec)}/s, baseline ${bytes(a.baselineBytesPerSec)}/s; ` +
        `lockstep ${num(a.oursLockstepFps, 1)} fps (ours) vs ${num(a.baselineLockstepFps, 1)} fps (baseline)`,
    ].join('\n');
    const md = [
      'A guest (in process, virtual time) and our display client (dirty policy) behind two servers, each ' +
        'watched by a viewer in a separate process over loopback: *ours* is the lab server (a per-client mirror ' +
        'of the dma-buf cache per 4 KiB block: the display\'s dirty log names the blocks the guest wrote, only ' +
        'those are sent — copied once, not hashed — and a flip to a buffer the client holds is one SCANOUT ' +
        'message); the *baseline* sends the whole shown frame on every change. ' +
        '*Wire bytes* are what the viewer\'s TCP socket read — WebSocket framing included, TCP/IP headers not. ' +
        '*Server CPU* is the server process\'s CPU (process.cpuUsage) per step minus the guest\'s own drawing; ' +
        'it includes the display client\'s refresh, which both servers share. Each step runs in lockstep (the ' +
        `guest acts, the viewer receives the update). Median (min–max) of ${r.reps} runs; ratios pair by pair.`,
      '',
      mdTable(['scenario', 'mode', 'steps', 'ours: wire bytes', 'baseline: wire bytes', 'baseline / ours',
        'ours: server CPU µs', 'baseline: server CPU µs'], sc.map(([name, , f]) => [name, `${f.width}×${f.height}`,
        int(f.steps), mmm(f.spread.oursBytes, 0), mmm(f.spread.baselineBytes, 0), `${mmm(f.bytesRatio, 1)}×`,
        mmm(f.spread.oursCpuUs, 0), mmm(f.spread.baselineCpuUs, 0)])),
      '',
      `Full-screen animation at 60 fps: ours **${bytes(a.oursBytesPerSec)}/s**, baseline ` +
        `${bytes(a.baselineBytesPerSec)}/s — every pixel changes every frame, so there is nothing to save; ` +
        'the mirror then costs its hashing on top. In lockstep on this machine (guest drawing, server and ' +
        `viewer on the same cores) the loop reached ${num(a.oursLockstepFps, 1)} fps (ours) and ` +
        `${num(a.baselineLockstepFps, 1)} fps (baseline).`,
      '',
      '![remote bytes](charts/remote-bytes.svg)',
      '![remote cpu](charts/remote-cpu.svg)',
    ].join('\n');
    const charts = {
      'remote-bytes.svg': barChart({
        title: 'Bytes on the wire per step (log scale)',
        categories: ['flip (synced)', 'typed character', 'animation frame'],
        series: [
          { name: 'ours', values: sc.map(([, , f]) => f.oursBytes) },
          { name: 'full frame on change', values: sc.map(([, , f]) => f.baselineBytes) },
        ],
        yLabel: 'bytes', log: true, target: { value: 100, label: 'flip target 100 B' },
      }),
      'remote-cpu.svg': barChart({
        title: 'Server CPU per step (µs)',
        categories: ['flip (synced)', 'typed character', 'animation frame'],
        series: [
          { name: 'ours', values: sc.map(([, , f]) => f.oursCpuUs) },
          { name: 'full frame on change', values: sc.map(([, , f]) => f.baselineCpuUs) },
        ],
        yLabel: 'CPU µs', log: true,
      }),
    };
    return {
      json: {
        remote: {
          flipBytes: r.flip.oursBytes, keystrokeBytes: r.keystroke.oursBytes, animationBytesPerSec: a.oursBytesPerSec,
          fullFrameBaselineBytesPerSec: a.baselineBytesPerSec,
          flipBaselineBytes: r.flip.baselineBytes, keystrokeBaselineBytes: r.keystroke.baselineBytes,
          serverCpuUs: { flip: r.flip.oursCpuUs, keystroke: r.keystroke.oursCpuUs, frame: a.oursCpuUs },
          baselineCpuUs: { flip: r.flip.baselineCpuUs, keystroke: r.keystroke.baselineCpuUs, frame: a.baselineCpuUs },
          details: r,
        },
      },
      text, markdown: md, charts,
      summary: [{
        metric: 'Wire bytes for a flip between synced buffers', target: '≤ 100 B', measured: `${int(r.flip.oursBytes)} B`,
        met: r.flip.oursBytes <= 100,
      }, {
        metric: `Full-screen animation server CPU per ${a.width}×${a.height} frame`, target: '≤ full-frame baseline',
        measured: `${int(a.oursCpuUs)} µs (baseline ${int(a.baselineCpuUs)} µs)`, met: a.oursCpuUs <= a.baselineCpuUs,
      }],
    };
  },
};
