import type { BenchSection } from '../BenchSection.ts';
import { runMemoryBench } from '../MemoryBench.ts';
import { lineChart } from '../SvgChart.ts';
import { bytes, int, mdTable, num, textTable } from '../Table.ts';

export const memorySection: BenchSection = {
  name: 'memory',
  title: 'Memory',
  run: async (ctx) => {
    const s = ctx.sizes.memory;
    ctx.log(`bench: memory (${s.flips} flips, ${s.cycles} vGPU cycles)…`);
    const r = runMemoryBench({ ...s, log: ctx.log });
    const head = ['part', 'count', 'heap slope B/1k', 'fitted growth', 'RSS slope B/1k', 'heap first → last'];
    const f0 = r.flipSamples[0]!;
    const f1 = r.flipSamples[r.flipSamples.length - 1]!;
    const c0 = r.cycleSamples[0]!;
    const c1 = r.cycleSamples[r.cycleSamples.length - 1]!;
    const rows = [
      ['flips', int(r.flips), num(r.heapSlopeBytesPerKFlips, 1), bytes(r.flipGrowthBytes), num(r.rssSlopeBytesPerKFlips, 1),
        `${bytes(f0.heapBytes)} → ${bytes(f1.heapBytes)}`],
      ['vGPU cycles', int(r.cycles), num(r.heapSlopeBytesPerKCycles, 1), bytes(r.cycleGrowthBytes),
        num(r.rssSlopeBytesPerKCycles, 1), `${bytes(c0.heapBytes)} → ${bytes(c1.heapBytes)}`],
    ];
    const text = [
      `memory: heap ${r.flat ? 'flat' : 'NOT flat'}; RSS ${num(r.rssMB, 1)} MB at the end (${num(r.rssStartMB, 1)} at start)`,
      textTable(head, rows),
    ].join('\n');
    const md = [
      `${int(r.flips)} page flips through one display client (event policy: each flip is an IRQ, a QUERY and a ` +
        `scanout), then ${int(r.cycles)} vGPU lifecycles on one host (create, open, program a plane, display ` +
        'client start — QUERY, GET, mmap — dispose, close, destroy). The heap is sampled after a forced full GC ' +
        `(${r.gcForced ? 'V8 gc()' : '**gc unavailable: samples are noisy**'}) ${s.flipSamples} and ` +
        `${s.cycleSamples} times; the slope is a least-squares fit over the samples after the first interval ` +
        '(which still holds JIT warm-up). "Flat" means the fitted growth over the whole part is under 1 MiB. ' +
        'A single run: the fit over the samples is the repetition.',
      '',
      mdTable(['part', 'count', 'heap slope (B per 1k)', 'fitted growth over the part', 'RSS slope (B per 1k)',
        'heap first → last sample'], rows),
      '',
      `Heap: **${r.flat ? 'flat' : 'growing'}**. RSS ${num(r.rssStartMB, 1)} MB at the start, ${num(r.rssMB, 1)} MB at ` +
        `the end; ArrayBuffer memory slope over the cycles ${num(r.arrayBufferSlopeBytesPerKCycles, 1)} B per 1k. ` +
        `After the cycles: ${r.leakedFds} fds and ${r.leakedVgpus} vGPUs left open.`,
      '',
      '![memory](charts/memory-flips.svg)',
      '![memory](charts/memory-cycles.svg)',
    ].join('\n');
    const charts = {
      'memory-flips.svg': lineChart({
        title: 'Heap after GC vs page flips',
        x: r.flipSamples.map((x) => x.at), xLabel: 'flips',
        series: [{ name: 'heap used (MB)', values: r.flipSamples.map((x) => x.heapBytes / 1e6) }],
        yLabel: 'MB',
      }),
      'memory-cycles.svg': lineChart({
        title: 'Heap after GC and RSS vs vGPU create/destroy cycles',
        x: r.cycleSamples.map((x) => x.at), xLabel: 'cycles',
        series: [
          { name: 'heap used (MB)', values: r.cycleSamples.map((x) => x.heapBytes / 1e6) },
          { name: 'RSS (MB)', values: r.cycleSamples.map((x) => x.rssBytes / 1e6) },
        ],
        yLabel: 'MB',
      }),
    };
    return {
      json: { memory: r },
      text, markdown: md, charts,
      summary: [{
        metric: `Heap over ${int(r.flips)} flips and ${int(r.cycles)} vGPU cycles`, target: 'flat',
        measured: `${num(r.heapSlopeBytesPerKFlips, 1)} B/1k flips, ${num(r.heapSlopeBytesPerKCycles, 1)} B/1k cycles`,
        met: r.flat,
      }],
    };
  },
};
