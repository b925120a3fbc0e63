import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { Lab, type ExternalDevice } from '../../lab/Lab.ts';
import { openDevice, vfioApiOption } from '../DeviceSpec.ts';
import type { VfioApi } from '../../linux/RealDevice.ts';

function positiveInt(name: string, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > max) throw new InvalidArgumentError(`${name} must be an integer in 0..${max}`);
    return n;
  };
}

export function register(program: Command): void {
  program
    .command('run')
    .description('the lab: an emulated host with VMs (guests in workers), live in a browser')
    .option('--vms <list>', 'comma-separated VM kinds or mdev types (gvt, bochs, i915-GVTg_V5_8, mbochs-large, ...)', 'gvt,bochs')
    .addOption(new Option('--refresh <policy>', 'display refresh policy').choices(['timer', 'event', 'dirty']).default('dirty'))
    .option('--interval <ms>', 'refresh interval for the timer policy (and dirty-log scans)', positiveInt('--interval', 10_000), 16)
    .option('--listen <address>', 'address to listen on (a non-loopback address needs --token)', '127.0.0.1')
    .option('--port <port>', 'port (the next free one is used when it is taken)', positiveInt('--port', 65535), 8080)
    .option('--token <token>', 'access token, required when listening on a non-loopback address')
    .option('--device <spec>', 'also show a device view-only: a real mdev (UUID or /sys/bus/mdev/devices/UUID) or emulated:…; repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .addOption(vfioApiOption())
    .option('--open', 'open the viewer in a browser', false)
    .action(async (o: { vms: string; refresh: 'timer' | 'event' | 'dirty'; interval: number; listen: string; port: number; token?: string; open: boolean; device: string[]; vfioApi: VfioApi }) => {
      const vms = o.vms.split(',').map((s) => s.trim()).filter(Boolean);
      if (vms.length > 64 || vms.length + o.device.length === 0) {
        console.error('vgpu-display run: --vms takes up to 64 entries, and there must be a VM or a --device');
        process.exitCode = 2;
        return;
      }
      const devices: ExternalDevice[] = [];
      for (const spec of o.device) {
        try {
          devices.push(await openDevice(spec, { vfioApi: o.vfioApi }));
        } catch (err) {
          for (const d of devices) d.close();
          console.error(`vgpu-display run: ${err instanceof Error ? err.message : String(err)}`);
          process.exitCode = 1;
          return;
        }
      }
      const log = (line: string): void => console.log(line);
      let lab: Lab;
      try {
        lab = await Lab.start({ vms, devices, refresh: o.refresh, intervalMs: o.interval, listen: o.listen, port: o.port, token: o.token, log });
      } catch (err) {
        for (const d of devices) d.close();
        console.error(`vgpu-display run: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = err instanceof RangeError ? 2 : 1;
        return;
      }
      const url = lab.server!.url;
      console.log(`\nvgpu-display lab: ${lab.guests.length} VM(s) and ${devices.length} device(s) running — open ${url}\nPress Ctrl+C to stop.`);
      if (o.open) spawn('xdg-open', [url], { stdio: 'ignore', detached: true }).on('error', () => console.log('(could not start a browser; open the URL yourself)')).unref();
      let stopping = false;
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        console.log('\nstopping…');
        void lab.stop().then(() => { console.log('stopped'); process.exit(0); });
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
