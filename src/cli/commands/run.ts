import { spawn } from 'node:child_process';
import { Option, type Command } from 'commander';
import { Lab, type ExternalDevice } from '../../lab/Lab.ts';
import { deviceSpec, openDevice, vmSpec } from '../DeviceSpec.ts';
import { isLoopbackAddress } from '../../server/AccessPolicy.ts';
import { ServerConfigError } from '../../server/ServerConfigError.ts';
import { integer, list, listenAddress, nonEmpty, repeatable } from '../Flags.ts';
import type { QemuMachine } from '../../qemu/QemuMachine.ts';
import { qemuSpecFlag, startQemus } from '../QemuCli.ts';

export function register(program: Command): void {
  program
    .command('run')
    .description('the lab: an emulated host with VMs (guests in workers), live in a browser')
    .option('--vms <list>', 'comma-separated VM kinds or mdev types (gvt, bochs, i915-GVTg_V5_8, mbochs-large, ...); "" for none',
      list({ max: 64, allowEmpty: true, item: vmSpec }), ['gvt', 'bochs'])
    .addOption(new Option('--refresh <policy>', 'display refresh policy').choices(['timer', 'event', 'dirty']).default('dirty'))
    .option('--interval <ms>', 'refresh interval for the timer policy (and dirty-log scans)', integer(1, 10_000), 16)
    .option('--listen <address>', 'address to listen on (a non-loopback address needs --token)', listenAddress, '127.0.0.1')
    .option('--port <port>', 'port (the next free one is used when it is taken; 0: any)', integer(0, 65535), 8080)
    .option('--token <token>', 'access token, required when listening on a non-loopback address', nonEmpty)
    .option('--device <spec>', 'also show a device view-only: a real mdev (UUID or /sys/bus/mdev/devices/UUID) or emulated:…; repeatable', repeatable(deviceSpec), [] as string[])
    .option('--open', 'open the viewer in a browser', false)
    .option('--qemu <spec>', 'also show a QEMU VM through its D-Bus display: dbus:unix:path=BUS or qmp:QMP-SOCKET (instead of the lab VMs unless --vms is given); repeatable', repeatable(qemuSpecFlag), [] as string[])
    .option('--qemu-console <n>', 'with --qemu: only this console id (default: every graphic console)', integer(0, 0xffffffff))
    .action(async (o: { vms: string[]; refresh: 'timer' | 'event' | 'dirty'; interval: number; listen: string; port: number; token?: string; open: boolean; device: string[]; qemu: string[]; qemuConsole?: number }, cmd: Command) => {
      const vms = o.qemu.length > 0 && cmd.getOptionValueSource('vms') === 'default' ? [] : o.vms;
      if (vms.length + o.device.length + o.qemu.length === 0) cmd.error('error: there must be a VM (--vms) or a --device (or a --qemu)');
      // The server refuses this too, but only after the devices below were opened.
      if (!isLoopbackAddress(o.listen) && o.token === undefined) cmd.error(`error: --listen ${o.listen} is not loopback: it needs --token`);
      const devices: ExternalDevice[] = [];
      for (const spec of o.device) {
        try {
          devices.push(await openDevice(spec));
        } catch (err) {
          for (const d of devices) d.close();
          console.error(`vgpu-display run: ${err instanceof Error ? err.message : String(err)}`);
          process.exitCode = 1;
          return;
        }
      }
      const log = (line: string): void => console.log(line);
      let lab: Lab;
      let qemus: QemuMachine[] = [];
      try {
        qemus = await startQemus(o.qemu, o.qemuConsole, log);
        lab = await Lab.start({ vms, devices, refresh: o.refresh, intervalMs: o.interval, listen: o.listen, port: o.port, token: o.token, log, extraVms: qemus.flatMap((m) => m.views) });
      } catch (err) {
        for (const q of qemus) q.dispose();
        for (const d of devices) d.close();
        console.error(`vgpu-display run: ${err instanceof Error ? err.message : String(err)}`);
        // Every flag was checked above; only a server option it refuses is still a usage error.
        process.exitCode = err instanceof ServerConfigError || err instanceof RangeError ? 2 : 1;
        return;
      }
      let stopping = false;
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        console.log('\nstopping…');
        void lab.stop().then(() => { for (const q of qemus) q.dispose(); console.log('stopped'); process.exit(0); });
      };
      // Before the URL is printed: whoever reads it may stop the lab at once.
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      const url = lab.server!.url;
      console.log(`\nvgpu-display lab: ${lab.guests.length} VM(s), ${qemus.length} QEMU(s) and ${devices.length} device(s) running — open ${url}\nPress Ctrl+C to stop.`);
      if (o.open) spawn('xdg-open', [url], { stdio: 'ignore', detached: true }).on('error', () => console.log('(could not start a browser; open the URL yourself)')).unref();
    });
}
