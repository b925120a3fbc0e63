import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { Lab, type ExternalDevice } from '../../lab/Lab.ts';
import type { RfbSecurity } from '../../rfb/RfbConnection.ts';
import { deviceSpec, openDevice, vfioApiOption, vmSpec } from '../DeviceSpec.ts';
import type { VfioApi } from '../../linux/RealDevice.ts';
import { isLoopbackAddress } from '../../server/AccessPolicy.ts';
import { ServerConfigError } from '../../server/ServerConfigError.ts';
import { integer, list, listenAddress, nonEmpty, repeatable } from '../Flags.ts';
import type { QemuMachine } from '../../qemu/QemuMachine.ts';
import { qemuSpecFlag, startQemus } from '../QemuCli.ts';

/** The environment variable that carries the access token (not visible in /proc/PID/cmdline). */
export const TOKEN_ENV = 'VGPU_DISPLAY_TOKEN';

interface AccessFlags { listen: string; token?: string; tokenFile?: string; tlsCert?: string; tlsKey?: string; insecure: boolean }

/**
 * The token and TLS material from the flags, files and environment, checked before anything
 * starts. Returns an error message for a configuration that must not run (exit 2).
 */
function accessConfig(o: AccessFlags, env: NodeJS.ProcessEnv): { token?: string; tls?: { cert: Buffer; key: Buffer }; warnings: string[] } | string {
  const warnings: string[] = [];
  let token: string | undefined;
  if (o.token !== undefined) {
    warnings.push(`warning: --token puts the token where every local user can read it (/proc/PID/cmdline); use --token-file or ${TOKEN_ENV}`);
    token = o.token;
  }
  if (o.tokenFile !== undefined) {
    if (token !== undefined) return '--token and --token-file: give one';
    try {
      token = readFileSync(o.tokenFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      return `--token-file: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (token.length === 0 || /[\s]/.test(token)) return `--token-file: ${o.tokenFile} must hold one token (non-empty, no spaces)`;
  }
  const fromEnv = env[TOKEN_ENV];
  if (token === undefined && fromEnv !== undefined && fromEnv.length > 0) token = fromEnv;
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) return '--tls-cert and --tls-key go together';
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (o.tlsCert !== undefined && o.tlsKey !== undefined) {
    try {
      tls = { cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey) };
    } catch (err) {
      return `--tls-cert/--tls-key: ${err instanceof Error ? err.message : String(err)}`;
    }
    // A certificate that does not parse or a key that does not match is refused here, before
    // the HTTP server or a VNC port could find out.
    try {
      createSecureContext(tls);
    } catch (err) {
      return `--tls-cert ${o.tlsCert} / --tls-key ${o.tlsKey}: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  if (!isLoopbackAddress(o.listen)) {
    if (token === undefined) return `--listen ${o.listen} is not loopback: give a token with --token-file or ${TOKEN_ENV}`;
    if (tls === undefined && !o.insecure) {
      return `--listen ${o.listen} is not loopback: give --tls-cert and --tls-key, or --insecure to send the token and every keystroke in clear`;
    }
  }
  return { token, tls, warnings };
}
/** `--vnc [ADDR:]PORT` → where the first VM's RFB port listens (loopback by default). */
function vncAddress(v: string): { listen: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d+)$/.exec(v) ?? /^()()(\d+)$/.exec(v);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError('--vnc takes [ADDR:]PORT, e.g. 5900, 127.0.0.1:5900 or [::1]:5900 (0: any free ports)');
  }
  return { listen: m[1] || m[2] || '127.0.0.1', port };
}

/** The environment variable that carries the VNC password (never the command line). */
export const VNC_PASSWORD_ENV = 'VGPU_DISPLAY_VNC_PASSWORD';

/**
 * VNC security, decided before anything starts. With --tls-cert/--tls-key: VeNCrypt X509 (X509Vnc
 * with a password, else X509None), on any address. Otherwise VNC Authentication with a password
 * (from a file or the environment, never the command line), or None on loopback only. Off
 * loopback, TLS without a password starts, as QEMU's `tls-creds` without `password` does, with a
 * warning: encrypted and the server proven, but whoever reaches the port gets the VMs.
 */
export function vncSecurity(listen: string, passwordFile: string | undefined, env: NodeJS.ProcessEnv,
  tls?: { cert: Buffer; key: Buffer }): { security: RfbSecurity; warnings: string[] } | string {
  let password: string | undefined;
  if (passwordFile !== undefined) {
    try {
      password = readFileSync(passwordFile, 'utf8').split(/\r?\n/)[0];
    } catch (err) {
      return `--vnc-password-file: ${err instanceof Error ? err.message : String(err)}`;
    }
  } else if (env[VNC_PASSWORD_ENV] !== undefined) {
    password = env[VNC_PASSWORD_ENV];
  }
  if (password !== undefined && password.length === 0) return 'the VNC password is empty';
  const pw = password === undefined ? undefined : new TextEncoder().encode(password);
  const loopback = isLoopbackAddress(listen);
  if (tls !== undefined) {
    let context;
    try {
      context = createSecureContext(tls);
    } catch (err) {
      return `--tls-cert/--tls-key: ${err instanceof Error ? err.message : String(err)}`;
    }
    const warnings = pw !== undefined || loopback ? [] : [
      `warning: --vnc on ${listen} (not loopback) with TLS but no password: the link is encrypted, but anyone who reaches the port sees and controls the VMs; set --vnc-password-file or ${VNC_PASSWORD_ENV}`,
    ];
    return { security: pw === undefined ? { type: 'vencrypt', context } : { type: 'vencrypt', context, password: pw }, warnings };
  }
  if (pw !== undefined) return { security: { type: 'vnc', password: pw }, warnings: [] };
  if (!loopback) {
    return `--vnc on ${listen} (not loopback) needs a password (--vnc-password-file PATH or ${VNC_PASSWORD_ENV}) or TLS (--tls-cert and --tls-key)`;
  }
  return { security: { type: 'none' }, warnings: [] };
}

export function register(program: Command): void {
  program
    .command('run')
    .description('the lab: an emulated host with VMs (guests in workers), live in a browser')
    .option('--vms <list>', 'comma-separated VM kinds or mdev types (gvt, bochs, i915-GVTg_V5_8, mbochs-large, ...); "" for none',
      list({ max: 64, allowEmpty: true, item: vmSpec }), ['gvt', 'bochs'])
    .addOption(new Option('--refresh <policy>', 'display refresh policy').choices(['timer', 'event', 'dirty']).default('dirty'))
    .option('--interval <ms>', 'refresh interval for the timer policy (and dirty-log scans)', integer(1, 10_000), 16)
    .option('--listen <address>', 'address to listen on (a non-loopback address needs a token and TLS or --insecure)', listenAddress, '127.0.0.1')
    .option('--port <port>', 'port (the next free one is used when it is taken; 0: any)', integer(0, 65535), 8080)
    .option('--token <token>', `access token (deprecated: visible in /proc; use --token-file or ${TOKEN_ENV})`, nonEmpty)
    .option('--token-file <path>', `file holding the access token (or set ${TOKEN_ENV}); required off loopback`)
    .option('--tls-cert <path>', 'PEM certificate: serve HTTPS and WSS, and VNC over VeNCrypt X509 with --vnc (with --tls-key)')
    .option('--tls-key <path>', 'PEM private key for --tls-cert')
    .option('--insecure', 'allow a non-loopback --listen without TLS (the token and input cross in clear)', false)
    .option('--max-queued <MiB>', 'bytes queued for all viewers together, at most (MiB)', integer(1, 65536), 256)
    .option('--print-url', 'print the URL with the token (once)', false)
    .option('--device <spec>', 'also show a device view-only: a real mdev (UUID or /sys/bus/mdev/devices/UUID) or emulated:…; repeatable', repeatable(deviceSpec), [] as string[])
    .addOption(vfioApiOption())
    .option('--open', 'open the viewer in a browser', false)
    .option('--qemu <spec>', 'also show a QEMU VM through its D-Bus display: dbus:unix:path=BUS or qmp:QMP-SOCKET (instead of the lab VMs unless --vms is given); repeatable', repeatable(qemuSpecFlag), [] as string[])
    .option('--qemu-console <n>', 'with --qemu: only this console id (default: every graphic console)', integer(0, 0xffffffff))
    .option('--vnc <[addr:]port>', 'also serve every VM over VNC (RFB 3.8): VM i on port PORT+i, and at /vnc/<vm> on the web server', vncAddress)
    .option('--vnc-password-file <path>', `VNC Authentication password (first line), or set ${VNC_PASSWORD_ENV}; off loopback this or --tls-cert/--tls-key is required`)
    .action(async (o: { vfioApi: VfioApi; vnc?: { listen: string; port: number }; vncPasswordFile?: string; vms: string[]; refresh: 'timer' | 'event' | 'dirty'; interval: number; listen: string; port: number; token?: string; tokenFile?: string; tlsCert?: string; tlsKey?: string; insecure: boolean; maxQueued: number; printUrl: boolean; open: boolean; device: string[]; qemu: string[]; qemuConsole?: number }, cmd: Command) => {
      const vms = o.qemu.length > 0 && cmd.getOptionValueSource('vms') === 'default' ? [] : o.vms;
      if (vms.length + o.device.length + o.qemu.length === 0) cmd.error('error: there must be a VM (--vms) or a --device (or a --qemu)');
      // Token and TLS are checked before anything opens, binds or boots.
      const access = accessConfig(o, process.env);
      if (typeof access === 'string') cmd.error(`error: ${access}`);
      for (const w of access.warnings) console.error(w);
      let vnc: { listen: string; port: number; security: RfbSecurity } | undefined;
      if (o.vnc !== undefined) {
        const v = vncSecurity(o.vnc.listen, o.vncPasswordFile, process.env, access.tls);
        if (typeof v === 'string') cmd.error(`error: ${v}`);
        for (const w of v.warnings) console.error(w);
        vnc = { ...o.vnc, security: v.security };
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
      let qemus: QemuMachine[] = [];
      try {
        qemus = await startQemus(o.qemu, o.qemuConsole, log);
        lab = await Lab.start({
          extraVms: qemus.flatMap((m) => m.views),
          vms, devices, refresh: o.refresh, intervalMs: o.interval, listen: o.listen, port: o.port,
          token: access.token, tls: access.tls, insecure: o.insecure, maxQueuedTotal: o.maxQueued * 1024 * 1024, vnc, log,
        });
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
      // The token is printed (once) only when asked for; otherwise the user has it already.
      const server = lab.server!;
      const shown = o.printUrl ? server.url : server.publicUrl;
      const hint = access.token !== undefined && !o.printUrl ? ' (append ?token=… or use --print-url)' : '';
      const host = vnc === undefined ? '' : vnc.listen.includes(':') ? `[${vnc.listen}]` : vnc.listen;
      const wsBase = server.publicUrl.replace(/^http/, 'ws').replace(/\/$/, '');
      const vncTls = vnc?.security.type === 'vencrypt' ? ` VeNCrypt ${vnc.security.password === undefined ? 'X509None' : 'X509Vnc'}` : '';
      const vncLines = (lab.vnc?.ports ?? []).map((p) => `\n  VNC ${p.vm}: ${host}:${p.port}${vncTls}  (noVNC: ${wsBase}/vnc/${p.vm})`).join('');
      console.log(`\nvgpu-display lab: ${lab.guests.length} VM(s), ${qemus.length} QEMU(s) and ${devices.length} device(s) running — open ${shown}${hint}${vncLines}\nPress Ctrl+C to stop.`);
      if (o.open) spawn('xdg-open', [server.url], { stdio: 'ignore', detached: true }).on('error', () => console.log('(could not start a browser; open the URL yourself)')).unref();
    });
}
