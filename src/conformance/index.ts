// `vgpu-display/conformance`: the VFIO display conformance suite, run on any opened device fd.
export { runConformance, formatReport, ALL_CHECKS } from './ConformanceSuite.ts';
export type { ConformanceOptions } from './ConformanceSuite.ts';
export type {
  Check, CheckOutcome, CheckResult, CheckStatus, ConformanceReport, DeviceFamily, KnownBug, Quirk,
} from './Check.ts';
