import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SETTINGS, parseSettings, resizeTarget, settingsToSearch, webSocketUrl } from './Settings.ts';

test('URL parameters use the CLI flag names; bad values keep defaults with a warning', () => {
  const { settings, warnings } = parseSettings(
    '?vm=guest1&scale=fit&filter=nearest&renderer=canvas&stats=1&inspector=yes&token=t0k&resize=guest' +
    '&escape=Pause&ws=%2Fapi%2Fws&grid=0&bogus=1');
  assert.deepEqual(settings, {
    vm: 'guest1', scale: 'fit', filter: 'nearest', renderer: 'canvas', stats: true, inspector: true,
    token: 't0k', resize: 'guest', escape: 'Pause', ws: '/api/ws', grid: false,
  });
  assert.deepEqual(warnings, []);
  const bad = parseSettings('?scale=huge&stats=maybe&renderer=vulkan&escape=Ctrl+Alt');
  assert.deepEqual(bad.settings, DEFAULT_SETTINGS);
  assert.equal(bad.warnings.length, 4);
});

test('the address bar lists only what differs from the defaults, and round-trips', () => {
  assert.equal(settingsToSearch(DEFAULT_SETTINGS), '');
  const s = { ...DEFAULT_SETTINGS, vm: 'a b', scale: 'off' as const, stats: true };
  assert.equal(settingsToSearch(s), '?vm=a+b&scale=off&stats=1');
  assert.deepEqual(parseSettings(settingsToSearch(s)).settings, s);
});

test('the WebSocket URL is relative to the page, ws(s) for http(s), with the token', () => {
  assert.equal(webSocketUrl(DEFAULT_SETTINGS, 'http://h:8080/view/?vm=x'), 'ws://h:8080/view/ws');
  assert.equal(webSocketUrl({ ...DEFAULT_SETTINGS, token: 'a&b', ws: '/ws' }, 'https://h/view/'),
    'wss://h/ws?token=a%26b');
});

test('readable defaults: whole-factor scaling, guest follows the viewer where it can', () => {
  assert.equal(DEFAULT_SETTINGS.scale, 'integer');
  assert.equal(DEFAULT_SETTINGS.resize, 'auto');
  assert.equal(parseSettings('?resize=off').settings.resize, 'off');
});

test('guest resize targets stay within 640×480 and the wire limit', () => {
  assert.deepEqual(resizeTarget(266, 637), { width: 640, height: 637 });
  assert.deepEqual(resizeTarget(1500.7, 900.2), { width: 1500, height: 900 });
  assert.deepEqual(resizeTarget(100_000, 10), { width: 8192, height: 480 });
});
