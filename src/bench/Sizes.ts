import { RESOLUTIONS } from './ResolutionBench.ts';

/** How big each section runs: `full` (the report, ≤ ~10 min), `quick` (≈ 1 min), `tiny` (tests). */
export type BenchMode = 'full' | 'quick' | 'tiny';

export interface BenchSizes {
  readonly storm: { flips: number; width: number; height: number; reps: number };
  readonly resolution: { resolutions: ReadonlyArray<readonly [number, number]>; reps: number; targetMs: number };
  readonly latency: {
    reps: number; windowMs: number; warmMs: number; warmFlips: number; virtualFlips: number; width: number; height: number;
  };
  readonly density: { steps: readonly number[]; windows: number; windowMs: number; settleMs: number; width: number; height: number };
  readonly remote: {
    reps: number; flips: number; keystrokes: number; frames: number;
    consoleSize: readonly [number, number]; animationSize: readonly [number, number];
  };
  readonly memory: { flips: number; flipSamples: number; cycles: number; cycleSamples: number };
}

export const SIZES: Readonly<Record<BenchMode, BenchSizes>> = {
  full: {
    storm: { flips: 100_000, width: 640, height: 480, reps: 3 },
    resolution: { resolutions: RESOLUTIONS, reps: 5, targetMs: 40 },
    latency: { reps: 3, windowMs: 4000, warmMs: 700, warmFlips: 2000, virtualFlips: 5000, width: 1024, height: 768 },
    density: {
      steps: [8, 16, 32, 48, 64, 80, 96, 128, 160, 192, 256], windows: 3, windowMs: 3000, settleMs: 1000,
      width: 1024, height: 768,
    },
    remote: { reps: 3, flips: 200, keystrokes: 100, frames: 60, consoleSize: [1024, 768], animationSize: [1920, 1080] },
    memory: { flips: 1_000_000, flipSamples: 10, cycles: 10_000, cycleSamples: 10 },
  },
  quick: {
    storm: { flips: 10_000, width: 640, height: 480, reps: 3 },
    resolution: { resolutions: [[640, 480], [1920, 1080], [3840, 2160]], reps: 3, targetMs: 10 },
    latency: { reps: 2, windowMs: 1000, warmMs: 500, warmFlips: 1000, virtualFlips: 1000, width: 1024, height: 768 },
    density: { steps: [8, 32], windows: 2, windowMs: 1000, settleMs: 500, width: 1024, height: 768 },
    remote: { reps: 2, flips: 30, keystrokes: 20, frames: 8, consoleSize: [1024, 768], animationSize: [1920, 1080] },
    memory: { flips: 100_000, flipSamples: 10, cycles: 1000, cycleSamples: 10 },
  },
  tiny: {
    storm: { flips: 300, width: 64, height: 32, reps: 1 },
    resolution: { resolutions: [[64, 32], [128, 64]], reps: 2, targetMs: 0.5 },
    latency: { reps: 1, windowMs: 250, warmMs: 150, warmFlips: 20, virtualFlips: 100, width: 64, height: 32 },
    density: { steps: [2], windows: 1, windowMs: 250, settleMs: 50, width: 64, height: 32 },
    remote: { reps: 1, flips: 3, keystrokes: 2, frames: 2, consoleSize: [256, 64], animationSize: [128, 64] },
    memory: { flips: 2000, flipSamples: 4, cycles: 40, cycleSamples: 4 },
  },
};
