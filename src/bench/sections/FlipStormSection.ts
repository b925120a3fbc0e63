import type { BenchSection } from '../BenchSection.ts';
import { runFlipStormBench, type ClientFigures } from '../FlipStormBench.ts';
import { barChart } from '../SvgChart.ts';
import { int, mdTable, mmm, num, textTable } from '../Table.ts';

export const flipStormSection: BenchSection = {
  name: 'storm',
  title: 'Flip storm',
  run: async (ctx) => {
    const s = ctx.sizes.storm;
    const flips = ctx.flips ?? s.flips;
    ctx.log(`bench: flip storm (${flips} flips, ${s.reps} runs)…`);
    const r = runFlipStormBench({ ...s, flips, log: ctx.log });
    const rows: Array<[string, string, ClientFigures]> = [
      ['ours', 'double', r.ours], ['naive', 'double', r.naive],
      ['ours', 'triple', r.triple.ours], ['naive', 'triple', r.triple.naive],
      ['region', 'one fb', r.region],
    ];
    const cells = (c: ClientFigures): string[] => [
      int(c.gets), int(c.fdsOpened), int(c.bytesCopied), num(c.cpuUsPerRefresh), num(c.usPerRefresh), num(c.usInSyscalls),
      int(c.refreshes),
    ];
    const head = ['client', 'buffers', 'GETs', 'fds opened', 'bytes copied', 'CPU µs/refresh', 'wall µs/refresh',
      '(in kernel)', 'refreshes'];
    const text = [
      `flip storm: ${int(flips)} flips at 60 Hz, ${r.width}x${r.height} XRGB8888, refresh every ${r.refreshMs} ms ` +
        `(virtual time), median of ${r.reps} runs`,
      textTable(head, rows.map(([n, b, c]) => [n, b, ...cells(c)])),
      `  per-refresh CPU, naive/ours ${mmm(r.ratios.naiveOverOurs)}x, region/ours ${mmm(r.ratios.regionOverOurs)}x`,
    ].join('\n');
    const md = [
      `A guest flips at every vblank (60 Hz, virtual time) between two or three ${r.width}×${r.height} buffers, ` +
        `${int(flips)} flips; each client refreshes on a ${r.refreshMs} ms timer (QEMU GTK at 60 Hz). *ours* caches ` +
        'dma-bufs by `dmabuf_id`; *naive* does QUERY + GET + mmap + close on every refresh (kmsgrab-style); ' +
        '*region* is the mdpy-style copy path (one framebuffer copied per refresh). In each run the five storms ' +
        'advance together on one virtual clock, so their refreshes interleave. Counts are deterministic ' +
        `(identical in every run: ${r.countsStable ? 'yes' : '**no**'}); times are the median of ${r.reps} runs ` +
        '(min–max). CPU is process.cpuUsage() around each refresh; "in kernel" is the wall time inside the ' +
        'emulated kernel (plane decode, GGTT walk).',
      '',
      mdTable(head, rows.map(([n, b, c]) => [n, b, int(c.gets), int(c.fdsOpened), int(c.bytesCopied),
        mmm(c.spread.cpuUsPerRefresh), mmm(c.spread.usPerRefresh), mmm(c.spread.usInSyscalls), int(c.refreshes)])),
      '',
      `Per-refresh CPU ratios, pair by pair within each run: naive/ours ${mmm(r.ratios.naiveOverOurs)}×, ` +
        `region/ours ${mmm(r.ratios.regionOverOurs)}×, naive/ours triple-buffered ${mmm(r.ratios.tripleNaiveOverOurs)}×.`,
      '',
      '![flip storm: GETs and fds](charts/storm-gets.svg)',
      '![flip storm: CPU per refresh](charts/storm-cpu.svg)',
    ].join('\n');
    const charts = {
      'storm-gets.svg': barChart({
        title: `Flip storm: dma-buf GETs and fds per ${int(flips)} flips (log scale)`,
        categories: ['ours ×2', 'naive ×2', 'ours ×3', 'naive ×3', 'region'],
        series: [
          { name: 'GETs', values: rows.map(([, , c]) => c.gets) },
          { name: 'fds opened', values: rows.map(([, , c]) => c.fdsOpened) },
        ],
        yLabel: 'count', log: true,
      }),
      'storm-cpu.svg': barChart({
        title: 'Flip storm: client CPU per refresh',
        categories: ['ours ×2', 'naive ×2', 'ours ×3', 'naive ×3', 'region'],
        series: [
          { name: 'CPU µs / refresh', values: rows.map(([, , c]) => c.cpuUsPerRefresh) },
          { name: 'wall µs / refresh', values: rows.map(([, , c]) => c.usPerRefresh) },
        ],
        yLabel: 'µs per refresh',
      }),
    };
    const per = flips === 100_000 ? '100k' : int(flips);
    return {
      json: { flipStorm: r },
      text, markdown: md, charts,
      summary: [
        { metric: `GETs per ${per} double-buffered flips`, target: '2', measured: int(r.ours.gets), met: r.ours.gets === 2 },
        { metric: `Pixel bytes copied per ${per} flips`, target: '0', measured: int(r.ours.bytesCopied), met: r.ours.bytesCopied === 0 },
      ],
    };
  },
};
