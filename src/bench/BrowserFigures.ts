/**
 * The browser bench section's sizes and result shapes, apart from the measurement itself
 * (BrowserBench.ts), which drives Debian's Chromium through the test kit's launcher: the package
 * ships this file and the section, not the measurement.
 */
import type { RefreshPolicy } from '../display/DisplayStats.ts';

/** The viewer's parts of a flip's vblank → present (src/web/FlipLatency.ts FLIP_PARTS). */
export const BROWSER_PARTS = ['wire', 'message', 'waitFrame', 'upload', 'convert', 'draw', 'toPresent'] as const;
export type BrowserPart = (typeof BROWSER_PARTS)[number];

export interface BrowserBenchOptions {
  /** Refresh policies of the lab's display client, one lab each. */
  readonly policies: readonly RefreshPolicy[];
  /** Measured windows per policy, and their length. */
  readonly reps: number;
  readonly windowMs: number;
  /** Time the animation runs in the page before the first window. */
  readonly warmMs: number;
  /** The page's viewport (CSS px; the guest follows it: the viewer's default resize). */
  readonly viewport: { readonly width: number; readonly height: number };
  /** Also run the dirty policy with Chromium's frame rate unlimited (no vsync wait). */
  readonly unthrottled: boolean;
  /** MB a bare page receives to measure this Chromium's WebSocket intake (the floor under *wire*). */
  readonly intakeMB: number;
  readonly log: (line: string) => void;
}

export const BROWSER_SIZES = {
  full: { reps: 3, windowMs: 5000, warmMs: 2000, viewport: { width: 1024, height: 768 }, unthrottled: true, intakeMB: 128 },
  quick: { reps: 1, windowMs: 3000, warmMs: 1500, viewport: { width: 1024, height: 768 }, unthrottled: false, intakeMB: 32 },
  tiny: { reps: 1, windowMs: 1000, warmMs: 500, viewport: { width: 800, height: 600 }, unthrottled: false, intakeMB: 8 },
} as const;

export interface Quantiles {
  readonly p50: number;
  readonly p99: number;
}

/** One policy (one Chromium configuration): medians over the windows of each window's figures. */
export interface BrowserFigures {
  readonly policy: RefreshPolicy;
  /** 'vsync': Chromium's default frame pacing; 'unthrottled': --disable-frame-rate-limit. */
  readonly frames: 'vsync' | 'unthrottled';
  readonly renderer: string;
  /** The guest mode the viewer showed (the guest follows the page). */
  readonly width: number;
  readonly height: number;
  /** Flips presented with a vblank time / flips never presented, summed over the windows. */
  readonly presented: number;
  readonly dropped: number;
  /** vblank → present (ms). */
  readonly flipToPresent: Quantiles;
  /** The parts (ms), each its own p50 / p99. */
  readonly parts: Readonly<Record<BrowserPart, Quantiles>>;
  /** Shortest PING round trip: the clock offset's uncertainty is half of it (ms). */
  readonly clockRttMs: number;
  /** Animation frames per second the page ran during the windows. */
  readonly framesPerSec: number;
  /** Flips per second the guest latched, and MB/s the page received, during the windows. */
  readonly guestFlipsPerSec: number;
  readonly receivedMBps: number;
  /**
   * Bytes the server had sent that the page had not yet received at the end of each window
   * (socket buffers on both sides and Chromium's own), MB: the queue every message waits behind.
   */
  readonly backlogMB: number;
}

export interface BrowserBenchResult {
  readonly chromium: string;
  readonly figures: readonly BrowserFigures[];
  /**
   * MB/s the same Chromium takes in over a bare WebSocket on loopback (a page that only counts
   * 256 KiB messages, the server keeping 4 MiB in flight), measured in the same run: the most
   * any viewer in it could receive.
   */
  readonly intakeMBps: number;
}
