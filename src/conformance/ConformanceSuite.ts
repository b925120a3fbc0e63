import { ABI_CHECKS } from './AbiChecks.ts';
import { BOCHS_CHECKS } from './BochsChecks.ts';
import type { Check, CheckOutcome, CheckResult, ConformanceReport } from './Check.ts';
import { CheckContext, type ConformanceOptions } from './CheckContext.ts';
import { DMABUF_CHECKS, RESET_CHECK } from './DmabufChecks.ts';
import { EDID_CHECKS } from './EdidChecks.ts';
import { GVT_CHECKS } from './GvtChecks.ts';
import { IRQ_CHECKS } from './IrqChecks.ts';
import { LIFETIME_CHECKS } from './LifetimeChecks.ts';
import { REGION_CHECKS } from './RegionChecks.ts';

export type { ConformanceOptions } from './CheckContext.ts';

/**
 * Every check, in the order they run. Order matters only at the ends: the ABI checks first (they
 * need no programming), then the plane and dma-buf checks, the family checks, reset, and last the
 * emulated-only lifetime checks, the first of which closes the device fd.
 */
export const ALL_CHECKS: readonly Check[] = [
  ...ABI_CHECKS, ...EDID_CHECKS, ...IRQ_CHECKS, ...DMABUF_CHECKS, ...GVT_CHECKS, ...BOCHS_CHECKS,
  ...REGION_CHECKS, RESET_CHECK, ...LIFETIME_CHECKS,
];

function runOne(check: Check, ctx: CheckContext): CheckOutcome {
  const applies = check.applies(ctx);
  if (applies !== true) return { name: check.name, status: 'n/a', ok: true, detail: applies };
  let r: CheckResult;
  try {
    r = check.run(ctx);
  } catch (err) {
    r = { ok: false, detail: `threw: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    ctx.cleanup();
  }
  if (r.ok) return { name: check.name, status: 'ok', ok: true, detail: r.detail };
  if (r.quirk) {
    // Our emulated devices fix the known kernel bugs: there the same failure is a failure.
    if (!ctx.real) {
      const detail = `${r.detail} [kernel bug ${r.quirk.bug}; the emulation must not have it]`;
      return { name: check.name, status: 'fail', ok: false, detail };
    }
    return { name: check.name, status: 'quirk', ok: true, detail: r.detail, quirk: r.quirk };
  }
  return { name: check.name, status: 'fail', ok: false, detail: r.detail };
}

/** Run the suite against one open device. Never throws for device behaviour. */
export function runConformance(opts: ConformanceOptions, checks: readonly Check[] = ALL_CHECKS): ConformanceReport {
  const ctx = new CheckContext(opts);
  const selected = opts.only?.length ? checks.filter((c) => opts.only!.some((p) => c.name.startsWith(p))) : checks;
  const outcomes: CheckOutcome[] = [];
  try {
    for (const c of selected) outcomes.push(runOne(c, ctx));
  } finally {
    ctx.dispose();
  }
  const ran = outcomes.filter((o) => o.status !== 'n/a');
  return {
    device: opts.device ?? `fd ${opts.fd}`,
    family: ctx.family,
    real: opts.real,
    passed: ran.filter((o) => o.status === 'ok').length,
    failed: ran.filter((o) => o.status === 'fail').length,
    quirks: ran.flatMap((o) => (o.quirk ? [{ name: o.name, bug: o.quirk.bug, text: o.quirk.text }] : [])),
    notApplicable: outcomes.filter((o) => o.status === 'n/a').map((o) => ({ name: o.name, reason: o.detail })),
    behaviour: { ...ctx.behaviour },
    checks: ran,
  };
}

/** The human-readable report: one line per check (n/a included), behaviour, then a summary. */
export function formatReport(report: ConformanceReport): string[] {
  const lines: string[] = [];
  const width = Math.max(10, ...[...report.checks, ...report.notApplicable].map((c) => c.name.length));
  for (const c of report.checks) {
    const tag = c.status === 'ok' ? 'ok   ' : c.status === 'fail' ? 'FAIL ' : 'quirk';
    const detail = c.quirk ? `[${c.quirk.bug}] ${c.detail}` : c.detail;
    lines.push(`${tag} ${c.name.padEnd(width)}  ${detail}`);
  }
  for (const n of report.notApplicable) lines.push(`n/a   ${n.name.padEnd(width)}  ${n.reason}`);
  const behaviour = Object.entries(report.behaviour);
  if (behaviour.length) {
    lines.push('behaviour:');
    for (const [k, v] of behaviour) lines.push(`  ${k}: ${v}`);
  }
  lines.push(`${report.device} (${report.family}, ${report.real ? 'real' : 'emulated'}): ` +
    `${report.checks.length} checks, ` +
    `${report.passed} ok, ${report.failed} failed, ${report.quirks.length} quirks, ${report.notApplicable.length} n/a`);
  return lines;
}
