import type { BenchContext } from '../BenchSection.ts';
import { SIZES } from '../Sizes.ts';

/** The context the section tests run with: tiny sizes, no log. */
export function tinyContext(): BenchContext {
  return { mode: 'tiny', sizes: SIZES.tiny, log: () => {} };
}
