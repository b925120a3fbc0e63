/**
 * In-VM test of a busy device: while one process holds the mdev (through the cdev or the group),
 * a second open — `vgpu-display probe --device UUID --vfio-api API` in another process — must exit
 * 1 with the documented error: the kernel's errno at the step that failed, the holder's pid and
 * comm, and `--qemu`. The holder's device keeps working, and once it lets go the device opens.
 *
 * Usage: node busy.js UUID API...   (the APIs this kernel has: `group`, or `cdev group`)
 *        node busy.js --hold UUID API   (the holder: prints "held PID API", answers "check" lines)
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openRealDevice, VFIO_APIS, type VfioApi } from '../../../src/linux/RealDevice.ts';
import { VFIO_DEVICE_GET_INFO } from '../../../src/vfio/Abi.ts';
import { encodeDeviceInfoRequest } from '../../../src/vfio/DeviceInfo.ts';
import { Checker } from './VmLib.ts';

const args = process.argv.slice(2);
const api = (s: string | undefined): VfioApi => {
  if (!s || !(VFIO_APIS as readonly string[]).includes(s) || s === 'auto') throw new Error(`not an API: ${s}`);
  return s as VfioApi;
};

if (args[0] === '--hold') {
  const dev = await openRealDevice(args[1]!, { vfioApi: api(args[2]) });
  console.log(`held ${process.pid} ${dev.api}`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'check') console.log(`ok ${dev.sys.ioctl(dev.fd, VFIO_DEVICE_GET_INFO, encodeDeviceInfoRequest())}`);
  }
  dev.close();
  process.exit(0);
}

const [uuid, ...apis] = args;
if (!uuid || apis.length === 0) {
  console.error('usage: busy.ts UUID API...');
  process.exit(2);
}
const c = new Checker('busy');
const self = fileURLToPath(import.meta.url);
const main = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

/** A holder process; resolves once it holds the device, with a line reader for its answers. */
async function hold(a: VfioApi): Promise<{ pid: number; next: () => Promise<string>; send: (s: string) => void; end: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [self, '--hold', uuid!, a], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: Array<(s: string) => void> = [];
  createInterface({ input: child.stdout }).on('line', (l) => { const w = waiters.shift(); if (w) w(l); else lines.push(l); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => { for (const w of waiters.splice(0)) w(`exit ${code}`); r(code); }));
  const next = (): Promise<string> => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((r) => waiters.push(r)));
  const first = await next();
  const m = /^held (\d+) (\w+)$/.exec(first);
  if (!m) throw new Error(`the holder did not open the device: ${first}`);
  return { pid: Number(m[1]), next, send: (s) => child.stdin.write(`${s}\n`), end: () => { child.stdin.end(); return exited; } };
}

function cli(argv: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [main, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((r) => child.on('exit', (code) => r({ code, stderr })));
}

/** The errno the kernel gives the second open (6.6+ rules; iommufd's compat container alike). */
function expectedErrno(first: VfioApi, second: VfioApi): string {
  if (second === 'cdev') return first === 'cdev' ? 'EINVAL' : 'EBUSY'; // a second BIND; BIND while the group is open
  return 'EBUSY'; // the group's single open, or a bound cdev in the group
}

for (const first of apis.map(api)) {
  for (const second of apis.map(api)) {
    const h = await hold(first);
    c.info(`holder pid ${h.pid} opened ${uuid} through ${first}`);
    const r = await cli(['probe', '--device', uuid, '--vfio-api', second]);
    const msg = r.stderr.trim();
    const errno = expectedErrno(first, second);
    c.ok(r.code === 1, `held via ${first}, probe --vfio-api ${second}: exit ${r.code}`);
    c.ok(msg.includes(`: ${errno}: `), `the kernel's ${errno} is named: ${msg.slice(0, 400)}`);
    c.ok(msg.includes(`pid ${h.pid} (node)`), `the holder (pid ${h.pid}, node) is named`);
    c.ok(msg.includes('--qemu'), 'the message points to --qemu');
    h.send('check');
    const answer = await h.next();
    c.ok(answer === 'ok 0', `the holder's device still answers GET_INFO (${answer})`);
    c.ok(await h.end() === 0, 'the holder closes cleanly');
    try {
      const dev = await openRealDevice(uuid, { vfioApi: second });
      c.ok(dev.api === second, `released: ${second} opens it again`);
      dev.close();
    } catch (err) {
      c.ok(false, `released: ${second} opens it again: ${(err as Error).message}`);
    }
  }
}
c.done();
