import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A private dbus-daemon for one test (session config, socket in a 0700 temp dir). */
export class PrivateBus {
  private constructor(public readonly address: string, private readonly _proc: ChildProcess, private readonly _dir: string) {}

  public static start(): Promise<PrivateBus> {
    const dir = mkdtempSync(join(tmpdir(), 'vgpu-bus-'));
    const proc = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1', `--address=unix:path=${join(dir, 'bus')}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    return new Promise((resolve, reject) => {
      let out = '';
      proc.on('error', reject);
      proc.on('exit', (code) => reject(new Error(`dbus-daemon exited (${code}) before printing its address`)));
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(new PrivateBus(out.slice(0, nl).trim(), proc, dir));
      });
    });
  }

  public stop(): void {
    this._proc.kill('SIGTERM');
    rmSync(this._dir, { recursive: true, force: true });
  }
}
