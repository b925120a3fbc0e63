import type { BenchMode, BenchSizes } from './Sizes.ts';

export interface BenchContext {
  readonly mode: BenchMode;
  readonly sizes: BenchSizes;
  /** Override of the flip storm's flip count (--flips). */
  readonly flips?: number;
  readonly log: (line: string) => void;
}

/** One line of the summary: a target from the issue and what this run measured. */
export interface SummaryRow {
  readonly metric: string;
  readonly target: string;
  readonly measured: string;
  /** undefined: not measured in this run (e.g. --quick skips the 4K point). */
  readonly met: boolean | undefined;
}

export interface SectionOutput {
  /** Top-level keys of the --json output. */
  readonly json: Record<string, unknown>;
  /** The terminal block. */
  readonly text: string;
  /** The report block (Markdown; charts referenced as charts/NAME.svg). */
  readonly markdown: string;
  /** Chart file name (no directory) → SVG text. */
  readonly charts: Record<string, string>;
  readonly summary: readonly SummaryRow[];
}

/** One part of `vgpu-display bench`; parts run in order, each measuring its variants side by side. */
export interface BenchSection {
  readonly name: string;
  readonly title: string;
  run(ctx: BenchContext): Promise<SectionOutput>;
}
