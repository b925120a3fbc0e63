import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KEY } from '../guest/os/Evdev.ts';
import { QemuInput, QEMU_BUTTON } from './QemuInput.ts';

/** A fake QEMU: records calls, answers only when the test says so (one in flight at a time). */
function rig(o: { absolute?: boolean; maxQueued?: number } = {}) {
  const calls: string[] = [];
  const answers: ((err?: Error) => void)[] = [];
  const con = { width: 720, height: 400, absolute: o.absolute ?? false };
  const input = new QemuInput((iface, member, _sig, body) => {
    calls.push(`${iface}.${member}(${body.join(',')})`);
    return new Promise((resolve, reject) => answers.push((e) => (e ? reject(e) : resolve(undefined))));
  }, () => con, { gapMs: 0, maxQueued: o.maxQueued });
  /** Answer the call in flight and wait until the next one went out (or the queue is empty). */
  const answer = async (err?: Error): Promise<void> => {
    const n = calls.length;
    answers.shift()!(err);
    while (calls.length === n && input.pending > 0) await new Promise((r) => setImmediate(r));
  };
  const drain = async (): Promise<void> => {
    while (answers.length > 0 || input.pending > 0) {
      if (answers.length > 0) await answer();
      else await new Promise((r) => setImmediate(r));
    }
  };
  return { calls, input, con, answer, drain };
}

describe('QemuInput: paced keyboard and mouse to QEMU', () => {
  it('sends one call at a time, the next only after QEMU answered the last', async () => {
    const r = rig();
    r.input.key(KEY.A, true);
    r.input.key(KEY.A, false);
    r.input.key(KEY.B, true);
    assert.deepEqual(r.calls, ['Keyboard.Press(30)'], 'one in flight');
    assert.equal(r.input.pending, 3);
    await r.answer();
    assert.deepEqual(r.calls, ['Keyboard.Press(30)', 'Keyboard.Release(30)']);
    await r.drain();
    assert.deepEqual(r.calls, ['Keyboard.Press(30)', 'Keyboard.Release(30)', 'Keyboard.Press(48)']);
    assert.equal(r.input.pending, 0);
    assert.equal(r.input.stats.sent, 3);
  });

  it('keeps keyboard and mouse in one order (shift+click), wheel as press/release of buttons 3/4', async () => {
    const r = rig();
    r.input.key(KEY.LEFTSHIFT, true);
    r.input.pointer({ kind: 'rel', dx: 0, dy: 0, buttons: 1 });
    r.input.pointer({ kind: 'rel', dx: 0, dy: 0, buttons: 0, wheel: -1 });
    r.input.key(KEY.LEFTSHIFT, false);
    await r.drain();
    assert.deepEqual(r.calls, [
      'Keyboard.Press(42)', `Mouse.Press(${QEMU_BUTTON.left})`, `Mouse.Release(${QEMU_BUTTON.left})`,
      `Mouse.Press(${QEMU_BUTTON.wheelDown})`, `Mouse.Release(${QEMU_BUTTON.wheelDown})`, 'Keyboard.Release(42)',
    ]);
  });

  it('relative mouse: absolute viewer positions go as deltas, split at ±127; waiting motion merges', async () => {
    const r = rig();
    r.input.key(KEY.A, true); // holds the queue while the moves arrive
    r.input.pointer({ kind: 'abs', x: 100, y: 50, buttons: 0 });
    r.input.pointer({ kind: 'abs', x: 300, y: 60, buttons: 0 });
    assert.equal(r.input.stats.merged, 1, 'the second absolute move replaced the first');
    await r.drain();
    assert.deepEqual(r.calls.slice(1), ['Mouse.RelMotion(127,60)', 'Mouse.RelMotion(127,0)', 'Mouse.RelMotion(46,0)']);
    r.input.pointer({ kind: 'rel', dx: -5, dy: 3, buttons: 0 });
    await r.drain();
    assert.equal(r.calls.at(-1), 'Mouse.RelMotion(-5,3)');
  });

  it('absolute mouse: SetAbsPosition inside the console; relative input moves from the last position', async () => {
    const r = rig({ absolute: true });
    r.input.pointer({ kind: 'abs', x: 5000, y: -3, buttons: 0 });
    await r.drain();
    r.input.pointer({ kind: 'rel', dx: -19, dy: 10, buttons: 0 });
    await r.drain();
    assert.deepEqual(r.calls, ['Mouse.SetAbsPosition(719,0)', 'Mouse.SetAbsPosition(700,10)']);
  });

  it('bounded: a full queue drops presses (counted) and their releases; releases of kept keys still go', async () => {
    const r = rig({ maxQueued: 4 });
    r.input.key(KEY.LEFTSHIFT, true); // in flight
    for (const k of [KEY.A, KEY.B, KEY.C, KEY.D, KEY.E, KEY.F]) r.input.key(k, true);
    assert.equal(r.input.stats.dropped, 2, 'E and F did not fit');
    for (const k of [KEY.A, KEY.B, KEY.C, KEY.D, KEY.E, KEY.F]) r.input.key(k, false);
    r.input.key(KEY.LEFTSHIFT, false);
    await r.drain();
    const released = r.calls.filter((c) => c.startsWith('Keyboard.Release')).length;
    const pressed = r.calls.filter((c) => c.startsWith('Keyboard.Press')).length;
    assert.equal(pressed, 5);
    assert.equal(released, 5, 'every key pressed in the guest is released, no release for a dropped press');
    assert.equal(r.input.stats.dropped, 2);
  });

  it('an error answer is counted and the queue goes on; clear() drops what waits', async () => {
    const r = rig();
    r.input.key(KEY.A, true);
    r.input.key(KEY.A, false);
    await r.answer(new Error('Mouse is not absolute'));
    assert.equal(r.input.stats.errors, 1);
    assert.match(r.input.stats.lastError, /Keyboard.Press: Mouse is not absolute/);
    assert.equal(r.calls.length, 2, 'the release went out after the error');
    r.input.key(KEY.B, true);
    r.input.clear();
    await r.drain();
    assert.equal(r.calls.length, 2, 'nothing sent after clear()');
  });
});
