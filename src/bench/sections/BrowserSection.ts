import { repositoryMeasurement, type BenchSection, type SectionOutput } from '../BenchSection.ts';
import {
  BROWSER_PARTS, BROWSER_SIZES, type BrowserBenchOptions, type BrowserBenchResult, type BrowserFigures,
  type BrowserPart,
} from '../BrowserFigures.ts';
import { int, mdTable, num, textTable } from '../Table.ts';

/** The measurement drives Chromium through the test kit's launcher (a dev dependency). */
async function runBrowserBench(o: BrowserBenchOptions): Promise<BrowserBenchResult> {
  const mod = await repositoryMeasurement<{ runBrowserBench: (o: BrowserBenchOptions) => Promise<BrowserBenchResult> }>(
    new URL('../BrowserBench.ts', import.meta.url),
    'the browser section runs from the repository (playwright-core and Debian\'s Chromium)');
  return mod.runBrowserBench(o);
}

const PART_LABEL: Record<BrowserPart, string> = {
  wire: 'vblank → message received (host + socket)',
  message: 'received → decoded and handled',
  waitFrame: 'handled → animation frame starts',
  upload: 'texture upload',
  convert: 'format conversion pass',
  draw: 'draw',
  toPresent: 'render done → next animation frame (present)',
};

/** The goal from the issue: flip → present p50 on loopback with SwiftShader. */
const GOAL_MS = 5;

function label(f: BrowserFigures): string {
  return `${f.policy}${f.frames === 'unthrottled' ? ' (frame rate unlimited)' : ''}`;
}

/** The viewer's own work on a flip (its main thread): message, upload, conversion, draw. */
function viewerWork(f: BrowserFigures): number {
  const p = f.parts;
  return p.message.p50 + p.upload.p50 + p.convert.p50 + p.draw.p50;
}

/** MB the page received per flip it presented, over a run's windows. */
function mbPerPresented(f: BrowserFigures, s: { reps: number; windowMs: number }): number {
  return f.presented > 0 ? (f.receivedMBps * s.reps * s.windowMs) / 1000 / f.presented : NaN;
}

/** One sentence per run: where its p50 goes, from its own parts. */
function explain(f: BrowserFigures, s: { reps: number; windowMs: number }, intakeMBps: number): string {
  const p = f.parts;
  const wait = p.waitFrame.p50 + p.toPresent.p50;
  const frame = f.framesPerSec > 0 ? 1000 / f.framesPerSec : NaN;
  const queue = f.receivedMBps > 0 ? (f.backlogMB / f.receivedMBps) * 1000 : NaN;
  return `${label(f)}: p50 ${num(f.flipToPresent.p50)} ms. Host + socket (vblank → message received) ` +
    `${num(p.wire.p50)} ms: the guest flipped ${num(f.guestFlipsPerSec, 1)} times/s, the page took in ` +
    `${num(f.receivedMBps)} MB/s, and ${num(f.backlogMB)} MB sent but not yet received stood in front of each ` +
    `message at the end of a window (${num(queue, 0)} ms at that rate). Each presented flip came with ` +
    `${num(mbPerPresented(f, s))} MB of pixels; at this Chromium's bare intake (${num(intakeMBps)} MB/s) that ` +
    `alone takes ${num((mbPerPresented(f, s) / intakeMBps) * 1000)} ms. Waiting for animation frames ` +
    `${num(wait)} ms (until the render's frame ${num(p.waitFrame.p50)}, until the next one ` +
    `${num(p.toPresent.p50)}; a frame is ${num(frame)} ms at ${num(f.framesPerSec, 1)} frames/s). The viewer's own ` +
    `work ${num(viewerWork(f))} ms (message ${num(p.message.p50)}, upload ${num(p.upload.p50)}, conversion ` +
    `${num(p.convert.p50)}, draw ${num(p.draw.p50)}: WebGL calls queue the work for Chromium's GPU process, ` +
    'whose SwiftShader rendering shows up as the frame rate).';
}

/** The section's output from a run's figures (kept apart from the run, so a saved run can be reformatted). */
export function browserOutput(r: BrowserBenchResult, s: { reps: number; windowMs: number;
  viewport: { width: number; height: number } }): SectionOutput {
  const head = ['policy', 'mode', 'p50', 'p99', 'presented', 'dropped', 'frames/s', ...BROWSER_PARTS.map((p) => `${p} p50`)];
  const rows = r.figures.map((f) => [label(f), `${f.width}x${f.height}`, num(f.flipToPresent.p50), num(f.flipToPresent.p99),
    int(f.presented), int(f.dropped), num(f.framesPerSec, 1), ...BROWSER_PARTS.map((p) => num(f.parts[p].p50))]);
  const notes = r.figures.map((f) => explain(f, s, r.intakeMBps));
  const text = ['flip → present in Chromium (ms, vblank IRQ → the animation frame after the render)',
    textTable(head, rows), ...notes].join('\n');
  const dirty = r.figures.find((f) => f.policy === 'dirty' && f.frames === 'vsync')!;
  const event = r.figures.find((f) => f.policy === 'event' && f.frames === 'vsync');
  const md = [
    `The lab (one gvt VM; its desktop animated by \`flip-demo\`, a flip per vblank) with each refresh policy, ` +
      `shown by Debian's Chromium (${r.chromium}, headless, WebGL2 on SwiftShader) with the viewer's defaults ` +
      `(the guest follows the ${s.viewport.width}×${s.viewport.height} page). SCANOUT carries the host time of ` +
      'the vblank IRQ that latched the flip; the viewer moves it onto its own clock (PING/PONG, the offset of ' +
      'the shortest round trip) and takes a sample when the animation frame after the render that drew the flip ' +
      `begins. ${s.reps} window(s) of ${s.windowMs} ms per policy, figures cleared at the start of each; ` +
      'medians of the per-window percentiles. *dropped*: flips the viewer never presented (superseded before ' +
      'their frame, or skipped by the server). *backlog*: bytes the server had sent that the page had not received ' +
      'at the end of a window. The floor, measured in the same run with the same Chromium: a bare page that only ' +
      `counts WebSocket messages (256 KiB each, 4 MiB in flight) takes in ${num(r.intakeMBps)} MB/s on loopback; ` +
      'no viewer in this browser on this machine receives faster.',
    '',
    mdTable(['policy', 'guest mode', 'flip → present p50', 'p99', 'presented', 'dropped', 'animation frames/s',
      'guest flips/s', 'received MB/s', 'backlog MB', 'clock round trip'],
      r.figures.map((f) => [label(f), `${f.width}×${f.height}`, num(f.flipToPresent.p50), num(f.flipToPresent.p99),
        int(f.presented), int(f.dropped), num(f.framesPerSec, 1), num(f.guestFlipsPerSec, 1), num(f.receivedMBps),
        num(f.backlogMB), `${num(f.clockRttMs)} ms`])),
    '',
    'Where the time goes (each part\'s p50 / p99, ms; the parts of one flip add up to its total):',
    '',
    mdTable(['part', ...r.figures.map(label)], BROWSER_PARTS.map((p) => [PART_LABEL[p],
      ...r.figures.map((f) => `${num(f.parts[p].p50)} / ${num(f.parts[p].p99)}`)])),
    '',
    ...notes.map((n) => `- ${n}`),
  ].join('\n');
  return {
    json: {
      browser: {
        chromium: r.chromium,
        intakeMBps: r.intakeMBps,
        flipToPresent: { p50: dirty.flipToPresent.p50, p99: dirty.flipToPresent.p99, policy: 'dirty' },
        runs: r.figures,
      },
    },
    text, markdown: md, charts: {},
    summary: [
      {
        metric: 'Browser flip → present p50 (dirty, Chromium/SwiftShader)', target: `≤ ${GOAL_MS} ms (goal)`,
        measured: `${num(dirty.flipToPresent.p50)} ms (host + socket ${num(dirty.parts.wire.p50)} ms with ` +
          `${num(dirty.backlogMB)} MB queued; ${num(mbPerPresented(dirty, s))} MB per presented flip at a bare ` +
          `intake of ${num(r.intakeMBps)} MB/s; viewer's work ${num(viewerWork(dirty))} ms; event ` +
          `${event ? num(event.flipToPresent.p50) : '–'} ms)`,
        met: dirty.flipToPresent.p50 <= GOAL_MS,
      },
    ],
  };
}

export const browserSection: BenchSection = {
  name: 'browser',
  title: 'Browser: flip → present in Chromium',
  run: async (ctx) => {
    const s = BROWSER_SIZES[ctx.mode];
    ctx.log(`bench: browser (Debian's Chromium, headless SwiftShader, the lab; ${s.reps} × ${s.windowMs} ms per policy)…`);
    return browserOutput(await runBrowserBench({ ...s, policies: ['dirty', 'event'], log: ctx.log }), s);
  },
};
