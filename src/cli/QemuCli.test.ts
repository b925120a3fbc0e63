import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decode } from 'fast-png';
import { QemuProcess, testGuest, waitFor } from '../testkit/node/QemuProcess.ts';

const BIN = resolve(import.meta.dirname, '../../bin/vgpu-display.mjs');

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('vgpu-display snapshot/probe --qemu (real QEMU, p2p via QMP)', { timeout: 900_000 }, () => {
  let q: QemuProcess;
  let dir: string;
  before(async () => {
    testGuest();
    dir = mkdtempSync(join(tmpdir(), 'vgpu-qemu-cli-'));
    q = QemuProcess.start({ mode: 'p2p' });
    await q.waitSerial('GUEST-READY');
    await waitFor(async () => (await q.vgaText()).includes('guest#'), 'the shell prompt');
  });
  after(async () => {
    await q.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('snapshot --qemu qmp:PATH writes a PNG equal to QMP screendump', async () => {
    const out = join(dir, 'f.png');
    let diff = -1;
    let last = '';
    // The guest has settled at its prompt; retry only in case it was still drawing.
    await waitFor(async () => {
      const r = await cli('snapshot', '--qemu', q.spec, '--out', out);
      last = r.stdout + r.stderr;
      if (r.code !== 0) return undefined;
      const png = decode(readFileSync(out));
      const dump = await q.screendump();
      if (png.width !== dump.width || png.height !== dump.height) return undefined;
      const ch = png.channels;
      diff = 0;
      for (let i = 0, j = 0; j < dump.rgb.length; i += ch, j += 3) {
        if (png.data[i] !== dump.rgb[j] || png.data[i + 1] !== dump.rgb[j + 1] || png.data[i + 2] !== dump.rgb[j + 2]) diff++;
      }
      return diff === 0;
    }, `snapshot equal to screendump (last: ${last}, ${diff} pixels differ)`, 120_000);
    assert.match(last, /720x400 XRGB8888 QEMU console 0 \(VGA\)/);
  });

  it('probe --qemu --json lists the consoles and what the listener negotiated', async () => {
    const r = await cli('probe', '--qemu', q.spec, '--json');
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { transport: string; consoles: { id: number; type: string; label: string; width: number; qemuInterfaces: unknown }[]; listener: { announced: string[]; stats: { used: string[]; scanouts: number } } };
    assert.equal(j.transport, 'p2p');
    assert.deepEqual(j.consoles.map((c) => [c.id, c.type, c.label, c.width]), [[0, 'Graphic', 'VGA', 720]]);
    assert.equal(j.consoles[0]!.qemuInterfaces, null, 'QEMU 7.2 has no Interfaces property');
    assert.ok(j.listener.stats.used.includes('Scanout'), 'QEMU called Scanout');
    assert.ok(j.listener.announced.includes('org.qemu.Display1.Listener.Unix.Map'), 'the listener announces Unix.Map');
  });

  it('bad specs exit 2, an unreachable QEMU exits 1, a missing console exits 2', async () => {
    const bad = await cli('probe', '--qemu', 'vnc:1');
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /expected dbus:unix:path=/);
    const gone = await cli('probe', '--qemu', `qmp:${join(dir, 'nothing.sock')}`);
    assert.equal(gone.code, 1, gone.stderr);
    assert.match(gone.stderr, /ENOENT/);
    const nocon = await cli('probe', '--qemu', q.spec, '--qemu-console', '7');
    assert.equal(nocon.code, 2, nocon.stderr);
    assert.match(nocon.stderr, /no console 7 \(consoles: 0 \(Graphic VGA\)\)/);
  });
});
