/**
 * Differential test against QEMU's own VNC server: one real QEMU VM (TCG, the test guest's text
 * console) shown two ways — QEMU's `-vnc`, and our RFB server over QEMU's D-Bus display — and the
 * same RFB client (the test kit's, written from RFC 6143) reads both. After the guest settles the
 * two frames are pixel-identical.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Lab } from '../../src/lab/Lab.ts';
import { parseQemuSpec } from '../../src/qemu/QemuSession.ts';
import { QemuMachine } from '../../src/qemu/QemuMachine.ts';
import { QemuProcess, testGuest, waitFor } from '../../src/testkit/node/QemuProcess.ts';
import { RfbTestClient } from '../../src/testkit/node/RfbTestClient.ts';

describe('our VNC server and QEMU\'s show the same QEMU VM pixel for pixel', { timeout: 900_000 }, () => {
  let q: QemuProcess;
  let machine: QemuMachine;
  let lab: Lab;
  let qemuVncPort = 0;
  before(async () => {
    testGuest();
    // QEMU's own VNC server on a free display number (to=99), beside the D-Bus display.
    q = QemuProcess.start({ mode: 'p2p', extraArgs: ['-vnc', '127.0.0.1:50,to=99'] });
    await q.waitSerial('GUEST-READY');
    await waitFor(async () => (await q.vgaText()).includes('guest#'), 'the shell prompt');
    const qmp = await q.qmp();
    try {
      const info = await qmp.execute('query-vnc') as { service?: string };
      qemuVncPort = Number(info.service);
    } finally {
      qmp.close();
    }
    assert.ok(qemuVncPort > 5900, `QEMU's VNC port: ${qemuVncPort}`);
    machine = await QemuMachine.start(parseQemuSpec(q.spec), 'qemu-1', {});
    lab = await Lab.start({
      vms: [], extraVms: machine.views, refresh: 'dirty', intervalMs: 16, listen: '127.0.0.1', port: 0,
      vnc: { listen: '127.0.0.1', port: 0, security: { type: 'none' } }, log: () => {},
    });
  });
  after(async () => {
    await lab?.stop();
    machine?.dispose();
    await q?.stop();
  });

  it('Raw frames from both servers are equal once the guest settles', async () => {
    const ours = await RfbTestClient.connect(lab.vnc!.ports[0]!.port);
    const theirs = await RfbTestClient.connect(qemuVncPort);
    try {
      for (const c of [ours, theirs]) c.setEncodings([0, -223]);
      let last = '';
      await waitFor(async () => {
        for (const c of [ours, theirs]) c.request(false);
        await Promise.all([ours.nextUpdate(), theirs.nextUpdate()]);
        if (ours.width !== theirs.width || ours.height !== theirs.height) {
          last = `sizes ${ours.width}x${ours.height} vs ${theirs.width}x${theirs.height}`;
          return undefined;
        }
        let diff = 0;
        for (let y = 0; y < ours.height; y++) for (let x = 0; x < ours.width; x++) if (ours.rgb(x, y) !== theirs.rgb(x, y)) diff++;
        last = `${diff} pixels differ at ${ours.width}x${ours.height}`;
        return diff === 0;
      }, `equal frames (last: ${last})`, 120_000);
      assert.equal(ours.width, 720);
    } finally {
      ours.close();
      theirs.close();
    }
  });
});
