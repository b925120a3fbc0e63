import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DRM_FORMAT } from '../../kms/Fourcc.ts';
import { KEY } from './Evdev.ts';
import { FakeMachine } from '../../testkit/FakeMachine.ts';
import { PROMPT, helpLines } from './Shell.ts';

function booted(opts: ConstructorParameters<typeof FakeMachine>[0] = {}): FakeMachine {
  const m = new FakeMachine(opts);
  assert.equal(m.boot(), 0);
  return m;
}

/** The last non-empty screen line. */
function lastLine(m: FakeMachine): string {
  const s = m.screen().filter((l) => l !== '');
  return s[s.length - 1] ?? '';
}

test('boot: EDID preferred mode, boot log and a prompt on screen (read by OCR)', () => {
  const m = booted({ modes: [{ width: 800, height: 600, refresh: 60 }, { width: 640, height: 480 }] });
  const st = m.os.status();
  assert.equal(st.width, 800);
  assert.equal(st.height, 600);
  assert.equal(st.format, DRM_FORMAT.XRGB8888);
  assert.equal(st.activeVt, 1);
  const screen = m.screen();
  assert.equal(screen.length, Math.floor(600 / 16));
  assert.equal(screen[0]!.length <= 100, true);
  assert.ok(screen.some((l) => l.includes('EDID preferred 800x600@60')), screen.join('\n'));
  assert.ok(screen.some((l) => l.includes('[  OK  ] Started getty on tty1-tty6')), 'screen.some((l) => l.includes(\'[ OK ] Started getty on tty1-tty6\'))');
  assert.equal(lastLine(m), PROMPT.trimEnd());
  assert.equal(m.driver.front, m.os.fbcon.surface);
  assert.ok(m.log.some((l) => l.includes('boot complete')), 'm.log.some((l) => l.includes(\'boot complete\'))');
});

test('no EDID: fallback mode', () => {
  const m = booted({ modes: [] });
  assert.equal(m.os.status().width, 1024);
  assert.ok(m.screenIncludes('no EDID, using 1024x768'), 'm.screenIncludes(\'no EDID, using 1024x768\')');
});

test('typing echoes, backspace edits, Enter runs; unknown commands are reported', () => {
  const m = booted();
  m.type('echo helo');
  m.tap(KEY.BACKSPACE);
  m.type('lo World');
  assert.equal(lastLine(m), `${PROMPT}echo hello World`);
  m.type('\n');
  assert.ok(m.screenIncludes('hello World'), 'm.screenIncludes(\'hello World\')');
  assert.equal(lastLine(m), PROMPT.trimEnd());
  m.type('frobnicate\n');
  assert.ok(m.screenIncludes('sh: frobnicate: command not found'), 'm.screenIncludes(\'sh: frobnicate: command not found\')');
  // Shift and caps lock.
  m.tap(KEY.CAPSLOCK);
  m.type('echo abc\n');
  m.tap(KEY.CAPSLOCK);
  assert.ok(m.screenIncludes('ECHO ABC'), 'm.screenIncludes(\'ECHO ABC\')');
});

test('help lists every command', () => {
  const m = booted();
  m.type('help\n');
  for (const c of ['help', 'clear', 'info', 'mode WxH[@format][+xtiled]', 'startx', 'flip-demo']) {
    assert.ok(m.screenIncludes(c), c);
  }
});

test('info shows mode and plane as the guest sees them', () => {
  const m = booted();
  m.type('info\n');
  const s = m.screen().join('\n');
  assert.match(s, /mode: 1024x768 XRGB8888 linear/);
  assert.match(s, /primary: fb#\d+ \(fbcon\) 1024x768 XRGB8888 linear stride 4096/);
  assert.match(s, /cursor: off/);
  assert.match(s, /session: not started/);
});

test('mode: invalid size or format prints an error and keeps the old mode', () => {
  const m = booted();
  const fb = m.driver.front;
  const allocs = m.driver.allocCount;
  m.type('mode 10x10\n');
  assert.ok(m.screenIncludes('mode: invalid size 10x10 (64x64 to 4096x4096)'), m.screen().join('\n'));
  m.type('mode 800x600@NV12\n');
  assert.ok(m.screenIncludes("mode: unknown format 'NV12'"), 'm.screenIncludes("mode: unknown format \'NV12\'")');
  m.type('mode 800x600@C8\n');
  assert.ok(m.screenIncludes('mode: format C8 not supported'), 'm.screenIncludes(\'mode: format C8 not supported\')');
  m.type('mode banana\n');
  assert.ok(m.screenIncludes('mode: usage: mode WxH[@format][+xtiled]'), 'm.screenIncludes(\'mode: usage: mode WxH[@format][+xtiled]\')');
  m.vblank();
  assert.equal(m.os.status().width, 1024);
  assert.equal(m.driver.front, fb);
  assert.equal(m.driver.allocCount, allocs);
});

test('mode WxH@format+xtiled re-lays out the console on a new buffer', () => {
  const m = booted();
  const old = m.driver.front!;
  m.type('echo before\n');
  m.type('mode 640x480@RGB565+xtiled\n');
  m.vblank();
  const fb = m.driver.front!;
  assert.notEqual(fb, old);
  assert.equal(fb.width, 640);
  assert.equal(fb.format, DRM_FORMAT.RGB565);
  assert.equal(fb.tiling.name, 'x');
  assert.equal(m.os.fbcon.cols, 80);
  assert.equal(m.os.fbcon.rows, 30);
  assert.ok(m.screenIncludes('mode: 640x480 RGB565 x'), 'm.screenIncludes(\'mode: 640x480 RGB565 x\')');
  assert.ok(m.screenIncludes('echo before'), 'text survives the re-layout');
  assert.equal(lastLine(m), PROMPT.trimEnd());
  // The old buffer was released once the new one latched.
  assert.ok(!m.driver.surfaces.includes(old), '!m.driver.surfaces.includes(old)');
  m.type('info\n');
  assert.ok(m.screenIncludes('mode: 640x480 RGB565 x'), 'm.screenIncludes(\'mode: 640x480 RGB565 x\')');
});

test('clear empties the screen; output scrolls when the screen is full', () => {
  const m = booted({ modes: [{ width: 320, height: 128 }] });
  for (let i = 0; i < 12; i++) m.type(`echo line${i}\n`);
  const s = m.screen();
  assert.equal(s.length, 8);
  assert.ok(s.includes('line11'), 's.includes(\'line11\')');
  assert.ok(!s.includes('line0'), '!s.includes(\'line0\')');
  m.type('clear\n');
  assert.deepEqual(m.screen().filter((l) => l !== ''), [PROMPT.trimEnd()]);
});

test('the cursor blinks on vblank counts and shows at once on typing', () => {
  const m = booted({ blinkVblanks: 10 });
  const fb = m.driver.front!;
  const at = () => {
    const t = m.os.ttys[0]!;
    return fb.getPixel(t.cursorX * 8, t.cursorY * 16 + 8);
  };
  const on = at();
  assert.notEqual(on, 0xff000000, 'cursor cell starts inverted');
  m.vblank(10);
  assert.equal(at(), 0xff000000);
  m.takeDirty();
  m.vblank(3);
  assert.deepEqual(m.takeDirty(), [], 'an idle console writes nothing between blinks');
  m.type('x');
  assert.notEqual(at(), 0xff000000, 'typing shows the cursor');
  // The OCR reads through the cursor either way.
  assert.equal(lastLine(m), `${PROMPT}x`);
});

test('tty1..tty6 are separate screens on one shared buffer', () => {
  const m = booted();
  const fb = m.driver.front!;
  m.type('echo on-tty1\n');
  m.vt(2);
  m.vblank();
  assert.equal(m.os.activeVt, 2);
  assert.equal(m.driver.front, fb);
  assert.ok(m.screenIncludes('vgpu-os 1.0 tty2'), 'm.screenIncludes(\'vgpu-os 1.0 tty2\')');
  assert.ok(!m.screenIncludes('on-tty1'), '!m.screenIncludes(\'on-tty1\')');
  m.type('echo on-tty2\n');
  m.vt(1);
  assert.ok(m.screenIncludes('on-tty1'), 'm.screenIncludes(\'on-tty1\')');
  assert.ok(!m.screenIncludes('on-tty2'), '!m.screenIncludes(\'on-tty2\')');
  assert.equal(m.driver.allocCount, 1);
});

test('VT switching reuses the same surfaces: fbcon ⇄ session, never reallocating', () => {
  const m = booted();
  const fbcon = m.driver.front!;
  m.type('startx\n');
  m.vblank();
  assert.equal(m.os.activeVt, 7);
  const sessionFront = m.driver.front!;
  assert.notEqual(sessionFront, fbcon);
  assert.equal(sessionFront, m.os.session!.front);
  assert.equal(m.driver.cursor.image, m.os.session!.cursorImage);
  const allocs = m.driver.allocCount;
  const fbPages = Array.from(fbcon.pages);
  for (let i = 0; i < 3; i++) {
    m.vt(1);
    m.vblank();
    assert.equal(m.driver.front, fbcon);
    assert.deepEqual(Array.from(m.driver.front!.pages), fbPages);
    assert.equal(m.driver.cursor.image, null, 'no cursor plane on fbcon');
    assert.equal(m.os.status().activeVt, 1);
    m.vt(7);
    m.vblank();
    assert.equal(m.driver.front, sessionFront);
    assert.ok(m.driver.cursor.image, 'm.driver.cursor.image');
  }
  assert.equal(m.driver.allocCount, allocs);
  // The fbcon text is intact when we come back.
  m.vt(1);
  m.vblank();
  assert.equal(lastLine(m), PROMPT.trimEnd());
  assert.ok(m.screenIncludes('startx'), 'm.screenIncludes(\'startx\')');
  // VT 8 does not exist; Ctrl+Alt+F7 without a session does nothing.
  m.chord(KEY.LEFTCTRL, KEY.LEFTALT, KEY.F8);
  assert.equal(m.os.activeVt, 1);
  m.type('stopx\n');
  m.vt(7);
  assert.equal(m.os.activeVt, 1);
});

test('startx --sw, --xtiled and --buffers=3 pick the session layout', () => {
  const m = booted();
  m.type('startx --xtiled --buffers=3\n');
  m.vblank();
  assert.equal(m.os.session!.buffers.length, 3);
  assert.equal(m.driver.front!.tiling.name, 'x');
  m.vt(1);
  m.type('startx --sw\n');
  m.vblank();
  assert.equal(m.os.session!.buffers.length, 1);
  assert.ok(m.os.session!.software, 'm.os.session!.software');
  m.vt(1);
  m.type('startx --bogus\n');
  m.vblank();
  assert.ok(m.screenIncludes("startx: unknown option '--bogus'"), 'm.screenIncludes("startx: unknown option \'--bogus\'")');
});

test('a hotplug with a new preferred mode re-modes the display unless the user chose one', () => {
  const m = booted();
  m.driver.plug([{ width: 800, height: 600 }]);
  m.vblank();
  assert.equal(m.os.status().width, 800);
  m.type('mode 640x480\n');
  m.driver.plug([{ width: 1280, height: 720 }]);
  assert.equal(m.os.status().width, 640);
});

test('pointer input: relative and absolute moves clamp to the screen', () => {
  const m = booted();
  m.os.pointerRel(-50, -50);
  assert.deepEqual(m.os.pointer, { x: 0, y: 0 });
  m.os.pointerRel(100, 40);
  assert.deepEqual(m.os.pointer, { x: 100, y: 40 });
  m.os.pointerAbs(0x7fff, 0x7fff);
  assert.deepEqual(m.os.pointer, { x: 1023, y: 767 });
  m.os.pointerAbs(0x4000, 0);
  assert.deepEqual(m.os.pointer, { x: 512, y: 0 });
});

test('help fits the tty: words are never broken, long usages stand on their own line', () => {
  const cmds = [
    { usage: 'help', help: 'list commands' },
    { usage: 'startx [--sw] [--xtiled] [--buffers=2|3]', help: 'graphical session on tty7' },
    { usage: 'info', help: 'display mode, planes and session as the guest sees them' },
  ];
  const narrow = helpLines(cmds, 44);
  assert.deepEqual(narrow, [
    '  help                    list commands',
    '  startx [--sw] [--xtiled] [--buffers=2|3]',
    '                          graphical session',
    '                          on tty7',
    '  info                    display mode,',
    '                          planes and session',
    '                          as the guest sees',
    '                          them',
  ]);
  for (const l of narrow) assert.ok(l.length <= 44, l);
  assert.deepEqual(helpLines(cmds, 100).slice(0, 1), ['  help                    list commands']);
  assert.equal(helpLines(cmds, 100).length, 4, 'only the long usage takes a second line at 100 columns');
});
