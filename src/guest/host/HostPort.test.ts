import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ctl, GuestChannel } from './GuestChannel.ts';
import { HostPort, type MmioTarget } from './HostPort.ts';

function port(onVblank: () => void): HostPort {
  const mmio: MmioTarget = { read: () => 0, write: () => {}, vblank: onVblank };
  return new HostPort(new GuestChannel({ regSlots: 16, inputSlots: 16 }), mmio);
}

describe('HostPort vblank', () => {
  it('publishes the vblank at once and rings the guest once per port after the host task', async () => {
    const order: string[] = [];
    const a = port(() => order.push('latch a'));
    const b = port(() => order.push('latch b'));
    a.vblank();
    a.vblank();
    b.vblank();
    assert.deepEqual(order, ['latch a', 'latch a', 'latch b']);
    assert.equal(a.channel.load(Ctl.VBLANK_SEQ), 2, 'a guest polling the sequence sees both vblanks now');
    assert.equal(b.channel.load(Ctl.VBLANK_SEQ), 1);
    assert.equal(a.channel.load(Ctl.H2G_BELL), 0, 'the doorbell waits for the end of the task');
    // The host's display IRQ handlers (microtasks of this task) run before any guest is woken.
    await Promise.resolve();
    assert.equal(a.channel.load(Ctl.H2G_BELL), 0, 'not before the task\'s microtasks are done');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(a.channel.load(Ctl.H2G_BELL), 1, 'one ring for two vblanks in one task');
    assert.equal(b.channel.load(Ctl.H2G_BELL), 1);
    a.vblank();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(a.channel.load(Ctl.H2G_BELL), 2, 'the next task rings again');
    assert.equal(b.channel.load(Ctl.H2G_BELL), 1, 'a port without a vblank is not rung');
  });
});
