import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyboardInput } from './KeyboardInput.ts';
import type { EscapeActions } from './KeyboardInput.ts';

function setup(): { k: KeyboardInput; sent: Array<[number, boolean]>; calls: string[] } {
  const sent: Array<[number, boolean]> = [];
  const calls: string[] = [];
  const actions: EscapeActions = {
    release: () => calls.push('release'), fullscreen: () => calls.push('fullscreen'),
    toggleStats: () => calls.push('stats'), toggleInspector: () => calls.push('inspector'),
    screenshot: () => calls.push('screenshot'), reconnect: () => calls.push('reconnect'),
    showHelp: (s) => calls.push(`help ${s}`),
  };
  return { k: new KeyboardInput((c, d) => sent.push([c, d]), actions, 'ScrollLock'), sent, calls };
}

test('keys go down and up by evdev code; unknown keys are left to the browser', () => {
  const { k, sent } = setup();
  assert.equal(k.keydown('KeyA', false), true);
  assert.equal(k.keydown('KeyA', true), true);
  assert.equal(k.keyup('KeyA'), true);
  assert.equal(k.keydown('Fn', false), false);
  assert.equal(k.keyup('KeyB'), false, 'a key never pressed here is not released');
  assert.deepEqual(sent, [[30, true], [30, true], [30, false]]);
});

test('releaseAll lets go of every held key exactly once', () => {
  const { k, sent } = setup();
  k.keydown('ControlLeft', false);
  k.keydown('AltRight', false);
  k.releaseAll();
  k.releaseAll();
  assert.deepEqual(sent, [[29, true], [100, true], [29, false], [100, false]]);
  assert.deepEqual(k.held, []);
  assert.equal(k.keyup('ControlLeft'), false);
});

test('the escape key is never sent: with F3 it sends Ctrl+Alt+F3, alone it releases', () => {
  const { k, sent, calls } = setup();
  k.keydown('ScrollLock', false);
  k.keydown('F3', false);
  k.keyup('F3');
  k.keyup('ScrollLock');
  assert.deepEqual(sent, [[29, true], [56, true], [61, true], [61, false], [56, false], [29, false]]);
  assert.deepEqual(calls, ['help false']);
  k.keydown('ScrollLock', false);
  k.keydown('KeyD', false);
  k.keydown('KeyS', false);
  k.keyup('ScrollLock');
  k.keyup('KeyD'); // swallowed: it was part of the chord
  k.keydown('ScrollLock', false);
  k.keyup('ScrollLock');
  assert.deepEqual(calls, ['help false', 'stats', 'screenshot', 'help false', 'help false', 'release']);
  assert.equal(sent.length, 6);
});
