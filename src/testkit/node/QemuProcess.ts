import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Qmp } from '../../qemu/Qmp.ts';
import type { PrivateBus } from './PrivateBus.ts';

const REPO = resolve(import.meta.dirname, '../../..');

/** Build (once, cached) the test guest with test/qemu/make-guest.sh; returns its directory. */
export function testGuest(): string {
  return execFileSync('bash', [join(REPO, 'test/qemu/make-guest.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
}

export interface QemuProcessOptions {
  /** 'bus': -display dbus,addr=<bus>; 'p2p': -display dbus,p2p=yes (QMP add_client). */
  readonly mode: 'bus' | 'p2p';
  readonly bus?: PrivateBus;
  readonly vga?: string;
  /** Extra kernel command line. */
  readonly append?: string;
  readonly extraArgs?: readonly string[];
  /** Reuse a directory (a restart keeps the QMP path and serial log location). */
  readonly dir?: string;
}

/** waitFor's poll: every 20 ms until `fn` returns something, or fail after `timeoutMs`. */
export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 150_000): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A real qemu-system-x86_64 under TCG with `-display dbus`, booting the test guest (a busybox
 * shell on the VGA text console; GUEST-READY, the guest's pointer events (INPUT-DEVICE/INPUT lines
 * from test/qemu/inputlog.c) and DRM-MODE lines on the serial log).
 */
export class QemuProcess {
  public readonly qmpPath: string;
  public readonly serialPath: string;
  private _exited = false;

  private constructor(public readonly dir: string, public readonly proc: ChildProcess, private readonly _ownDir: boolean) {
    this.qmpPath = join(dir, 'qmp.sock');
    this.serialPath = join(dir, 'serial.log');
    proc.on('exit', () => { this._exited = true; });
  }

  public static start(o: QemuProcessOptions): QemuProcess {
    const guest = testGuest();
    const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'vgpu-qemu-'));
    rmSync(join(dir, 'qmp.sock'), { force: true });
    rmSync(join(dir, 'serial.log'), { force: true });
    // The bus goes by environment: -display dbus,addr= cannot take an address with commas.
    const display = o.mode === 'p2p' ? 'dbus,p2p=yes' : 'dbus';
    const args = [
      '-accel', 'tcg', '-m', '128', '-smp', '1', '-nodefaults', '-no-user-config', '-no-reboot',
      '-device', o.vga ?? 'VGA', '-display', display,
      '-kernel', join(guest, 'vmlinuz'), '-initrd', join(guest, 'initrd.gz'),
      '-append', `console=tty0 loglevel=3 mitigations=off vt.global_cursor_default=0 ${o.append ?? ''}`.trim(),
      '-serial', `file:${join(dir, 'serial.log')}`,
      '-qmp', `unix:${join(dir, 'qmp.sock')},server=on,wait=off`,
      ...(o.extraArgs ?? []),
    ];
    const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: o.bus?.address ?? 'disabled:' };
    const proc = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => { if (err.length < 8192) err += d.toString(); });
    proc.on('exit', (code, sig) => { if (code) process.stderr.write(`qemu exited ${code ?? sig}: ${err}\n`); });
    return new QemuProcess(dir, proc, o.dir === undefined);
  }

  public get exited(): boolean {
    return this._exited;
  }

  public get spec(): string {
    return `qmp:${this.qmpPath}`;
  }

  public serial(): string {
    return existsSync(this.serialPath) ? readFileSync(this.serialPath, 'utf8') : '';
  }

  public waitSerial(text: string | RegExp, timeoutMs = 180_000): Promise<string> {
    return waitFor(() => {
      const s = this.serial();
      return (typeof text === 'string' ? s.includes(text) : text.test(s)) ? s : undefined;
    }, `'${String(text)}' on the guest's serial log`, timeoutMs);
  }

  public async qmp(): Promise<Qmp> {
    return waitFor(() => (existsSync(this.qmpPath) ? Qmp.connect(this.qmpPath) : undefined), 'the QMP socket', 30_000);
  }

  /** QEMU's own picture of console 0: QMP screendump (PPM) as RGB. */
  public async screendump(): Promise<{ width: number; height: number; rgb: Uint8Array }> {
    const q = await this.qmp();
    const file = join(this.dir, `dump-${Date.now()}.ppm`);
    try {
      await q.execute('screendump', { filename: file });
    } finally {
      q.close();
    }
    const b = readFileSync(file);
    rmSync(file, { force: true });
    const m = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(b.subarray(0, 64).toString('latin1'));
    if (!m) throw new Error('screendump did not write a P6 PPM');
    return { width: Number(m[1]), height: Number(m[2]), rgb: new Uint8Array(b.subarray(m[0].length)) };
  }

  /**
   * The VGA text memory as characters, 80 per line (text mode only). vgacon scrolls by moving
   * the display start within the 32 KiB window, so this is the screen plus its scroll-back: use
   * it for "was shown" checks; the pixel comparisons say what is on screen now.
   */
  public async vgaText(): Promise<string> {
    const q = await this.qmp();
    try {
      const out = String(await q.execute('human-monitor-command', { 'command-line': 'xp /16384hx 0xb8000' }));
      const words = [...out.matchAll(/0x([0-9a-f]{4})(?![0-9a-f:])/g)].map((x) => parseInt(x[1]!, 16) & 0xff);
      let s = '';
      for (let i = 0; i < words.length; i++) s += (i > 0 && i % 80 === 0 ? '\n' : '') + (words[i]! >= 32 && words[i]! < 127 ? String.fromCharCode(words[i]!) : ' ');
      return s;
    } finally {
      q.close();
    }
  }

  public kill(): Promise<void> {
    if (this._exited) return Promise.resolve();
    return new Promise((r) => {
      this.proc.once('exit', () => r());
      this.proc.kill('SIGKILL');
    });
  }

  public async stop(): Promise<void> {
    await this.kill();
    if (this._ownDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
