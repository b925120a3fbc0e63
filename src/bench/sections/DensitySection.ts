import { cpus } from 'node:os';
import type { BenchSection } from '../BenchSection.ts';
import { runDensityBench } from '../DensityBench.ts';
import { lineChart } from '../SvgChart.ts';
import { mdTable, mmm, num, textTable } from '../Table.ts';

export const densitySection: BenchSection = {
  name: 'density',
  title: 'Density',
  run: async (ctx) => {
    const s = ctx.sizes.density;
    ctx.log(`bench: density (VM counts ${s.steps.join(', ')}; ${s.windows} × ${s.windowMs} ms each)…`);
    const r = await runDensityBench({ ...s, log: ctx.log });
    const pct = (x: number): string => `${num(100 * x, 2)}%`;
    const head = ['VMs', 'p99 miss', 'miss', 'p99 late ms', 'CPU %', 'CPU %/VM', 'host thread %/VM', 'preempt/s',
      'flips/s/VM', 'pass'];
    const all = r.control ? [r.control, ...r.steps] : r.steps;
    const vmsLabel = (x: { vms: number }): string => (x.vms === 0 ? 'none (control)' : String(x.vms));
    // Per-VM columns mean nothing for the control row (no VMs).
    const perVm = (x: { vms: number }, v: string): string => (x.vms === 0 ? '–' : v);
    const rows = all.map((x) => [vmsLabel(x), pct(x.p99DeadlineMissRate), pct(x.missRate), num(x.p99LatenessMs),
      num(x.cpuTotalPct, 1), perVm(x, num(x.cpuPerVmPct, 3)), perVm(x, num(x.hostThreadPerVmPct, 3)),
      num(x.hostPreemptionsPerSec, 0), perVm(x, num(x.flipsPerVmPerSec, 1)), x.vms === 0 ? '' : x.passed ? 'yes' : 'no']);
    const cores = cpus().length;
    const text = [
      `density: ${r.vms} VMs at 60 Hz with p99 deadline miss rate ≤ ${pct(r.maxMissRate)} (${cores} cores; ` +
        `stopped: ${r.stoppedBy})`,
      textTable(head, rows),
    ].join('\n');
    const md = [
      `Each VM is a lab GuestVm whose guest (a worker) flips two ${r.width}×${r.height} buffers at every vblank; ` +
        'the host drives each VM\'s vblank at 60 Hz and our display client refreshes it at 60 Hz (timer policy, ' +
        'half a frame after the vblank), all on the host\'s event loop, VMs spread over the frame. A refresh ' +
        'misses its deadline when it starts more than 16.7 ms after its scheduled time (it is then skipped) or ' +
        'does not finish before the next one is due. Per VM count: the miss rate of every VM over a window, and ' +
        `its 99th percentile over the VMs (*p99 miss*); a count passes when p99 miss ≤ ${pct(r.maxMissRate)}. ` +
        `${s.windows} windows of ${s.windowMs} ms per count; median (min–max). VMs are added and keep running; the ` +
        `run stops at the first count that fails. CPU is process.cpuUsage (guest workers included) as % of one ` +
        `core (${cores} cores = ${cores * 100}%); *host thread* is the event loop alone (Linux schedstat), and ` +
        '*host preempted/s* how often another runnable thread took its core (Linux nonvoluntary context switches). ' +
        'The *control* row runs first: 16 empty 60 Hz deadlines with no VM and no work, the machine\'s own noise ' +
        'floor (its CPU figures are totals).',
      '',
      mdTable(['VMs', 'p99 miss rate', 'miss rate', 'p99 start lateness (ms)', 'CPU total %', 'CPU % per VM',
        'host thread % per VM', 'host preempted/s', 'flips/s per VM', 'pass'], all.map((x) => [vmsLabel(x),
        `${mmm({ median: 100 * x.spread.p99DeadlineMissRate.median, min: 100 * x.spread.p99DeadlineMissRate.min, max: 100 * x.spread.p99DeadlineMissRate.max })}%`,
        pct(x.missRate), num(x.p99LatenessMs), num(x.cpuTotalPct, 1), perVm(x, mmm(x.spread.cpuPerVmPct, 3)),
        perVm(x, num(x.hostThreadPerVmPct, 3)), num(x.hostPreemptionsPerSec, 0), perVm(x, num(x.flipsPerVmPerSec, 1)),
        x.vms === 0 ? '' : x.passed ? 'yes' : '**no**'])),
      '',
      `Largest passing count: **${r.vms} VMs** (${r.stoppedBy === 'done' ? 'every count tried passed' :
        r.stoppedBy === 'memory' ? 'stopped for lack of free memory' : 'the next count failed'}). ` +
        `Booting the guests took ${r.bootSeconds} s (worker start-up).`,
      '',
      '![density](charts/density-miss.svg)',
      '![density CPU](charts/density-cpu.svg)',
    ].join('\n');
    const charts = {
      'density-miss.svg': lineChart({
        title: 'Deadline misses vs VMs (60 Hz refresh per VM)',
        x: r.steps.map((x) => x.vms), xLabel: 'VMs',
        series: [
          { name: 'p99 miss rate %', values: r.steps.map((x) => 100 * x.p99DeadlineMissRate) },
          { name: 'overall miss rate %', values: r.steps.map((x) => 100 * x.missRate) },
        ],
        yLabel: '% of refreshes', target: { value: 100 * r.maxMissRate, label: `pass ≤ ${pct(r.maxMissRate)}` },
      }),
      'density-cpu.svg': lineChart({
        title: 'CPU vs VMs (% of one core)',
        x: r.steps.map((x) => x.vms), xLabel: 'VMs',
        series: [
          { name: 'process CPU %', values: r.steps.map((x) => x.cpuTotalPct) },
          { name: 'host thread %', values: r.steps.map((x) => x.hostThreadPerVmPct * x.vms) },
        ],
        yLabel: '% of one core', target: { value: cores * 100, label: `${cores} cores` },
      }),
    };
    return {
      json: {
        density: {
          vms: r.vms, p99DeadlineMissRate: r.p99DeadlineMissRate, cpuPerVmPct: r.cpuPerVmPct, maxMissRate: r.maxMissRate,
          cores, width: r.width, height: r.height, stoppedBy: r.stoppedBy, bootSeconds: r.bootSeconds, steps: r.steps,
          control: r.control,
        },
      },
      text, markdown: md, charts,
      summary: [{
        metric: `VMs at 60 Hz, p99 deadline miss ≤ ${pct(r.maxMissRate)}`, target: '≥ 64 on 2 cores',
        measured: `${r.vms} on ${cores} cores (${num(r.cpuPerVmPct, 2)}% CPU/VM)`,
        met: r.vms >= 64 ? true : r.stoppedBy === 'done' ? undefined : false,
      }],
    };
  },
};
