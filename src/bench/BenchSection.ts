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

/**
 * The measurement module at `url`, which lives in the repository only (it needs the test kit:
 * Chromium, QEMU): loaded by a URL the package build does not follow, so a section ships without
 * it; outside the repository the error says what it `needs`.
 */
export async function repositoryMeasurement<T>(url: URL, needs: string): Promise<T> {
  try {
    return (await import(url.href)) as T;
  } catch (err) {
    throw new Error(`${needs}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** One part of `vgpu-display bench`; parts run in order, each measuring its variants side by side. */
export interface BenchSection {
  readonly name: string;
  readonly title: string;
  run(ctx: BenchContext): Promise<SectionOutput>;
}
