import type { Command } from 'commander';
import type { ConformanceReport } from '../../conformance/Check.ts';
import { ALL_CHECKS, formatReport, runConformance } from '../../conformance/ConformanceSuite.ts';
import { deviceSpec, openDevice, vfioApiOption } from '../DeviceSpec.ts';
import { prefixes } from '../Flags.ts';
import type { VfioApi } from '../../linux/RealDevice.ts';

/**
 * Run the conformance suite on a device spec. Emulated devices get the hooks the device file
 * cannot give: a vblank (GVT surface writes latch only then) and the process's open-fd count.
 */
export async function conformanceReport(spec: string, only?: readonly string[], vfioApi?: VfioApi): Promise<ConformanceReport> {
  const dev = await openDevice(spec, { vfioApi });
  try {
    const vgpu = dev.vgpu;
    const kernel = dev.host?.kernel;
    return runConformance({
      sys: dev.sys, fd: dev.fd, real: dev.real, device: spec, only,
      vblank: vgpu ? () => vgpu.device.vblank() : undefined,
      openFdCount: kernel ? () => kernel.fds.openCount : undefined,
    });
  } finally {
    dev.close();
  }
}

/** The --json shape: the report keys, device first. */
export function reportJson(r: ConformanceReport): unknown {
  return {
    device: r.device, family: r.family, real: r.real, passed: r.passed, failed: r.failed,
    quirks: r.quirks, behaviour: r.behaviour, notApplicable: r.notApplicable,
    checks: r.checks.map((c) => ({
      name: c.name, ok: c.ok, status: c.status, detail: c.detail, ...(c.quirk ? { quirk: c.quirk } : {}),
    })),
  };
}

export function register(program: Command): void {
  program
    .command('conformance')
    .description('ABI and behaviour checks for a VFIO display device, through the device file only; ' +
      'exit 0 only if no check failed')
    .requiredOption('--device <spec>', 'emulated:gvt|bochs|region, emulated:<mdev type>, or an mdev UUID', deviceSpec)
    .addOption(vfioApiOption())
    .option('--json', 'print the report as JSON')
    .option('--only <prefixes>', 'run only checks whose name starts with one of these (comma separated; each must match a check)',
      prefixes(ALL_CHECKS.map((c) => c.name), 'check'))
    .action(async (opts: { device: string; json?: boolean; only?: string[]; vfioApi: VfioApi }) => {
      const report = await conformanceReport(opts.device, opts.only, opts.vfioApi);
      const out = opts.json ? JSON.stringify(reportJson(report), null, 2) : formatReport(report).join('\n');
      process.stdout.write(`${out}\n`);
      process.exitCode = report.failed === 0 ? 0 : 1;
    });
}
