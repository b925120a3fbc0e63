import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BTN } from './Evdev.ts';
import { FakeMachine } from '../../testkit/FakeMachine.ts';
import { PANEL_HEIGHT } from './Scene.ts';
import { ocrGrid } from './TextOcr.ts';

function session(cmd = 'startx', opts: ConstructorParameters<typeof FakeMachine>[0] = {}): FakeMachine {
  const m = new FakeMachine({ modes: [{ width: 640, height: 480 }], ...opts });
  m.boot();
  m.type(`${cmd}\n`);
  m.vblank(2);
  assert.equal(m.os.activeVt, 7);
  return m;
}

/** The panel clock, read off the primary plane. */
function panelClock(m: FakeMachine): string {
  const f = m.driver.front!;
  return ocrGrid((x, y) => f.getRaw(x, y), 8, 1, f.width - 72, 4)[0]!;
}

test('an idle session does not flip, render or write memory', () => {
  const m = session();
  const flips = m.driver.flipCount;
  const frames = m.os.session!.framesRendered;
  m.takeDirty();
  m.vblank(120);
  assert.equal(m.driver.flipCount, flips);
  assert.equal(m.os.session!.framesRendered, frames);
  assert.deepEqual(m.takeDirty(), []);
});

test('the clock changing once a second gives exactly one flip', () => {
  const m = session();
  const front = m.driver.front!;
  assert.equal(panelClock(m), '12:00:00');
  const flips = m.driver.flipCount;
  m.time += 1000;
  m.vblank(60);
  assert.equal(m.driver.flipCount, flips + 1);
  assert.notEqual(m.driver.front, front, 'flipped to the other buffer');
  assert.equal(panelClock(m), '12:00:01');
  m.time += 999; // same second: nothing
  m.vblank(30);
  assert.equal(m.driver.flipCount, flips + 1);
  for (let s = 2; s <= 4; s++) {
    m.time = Date.UTC(2024, 0, 1, 12, 0, s);
    m.vblank(60);
  }
  assert.equal(m.driver.flipCount, flips + 4);
  assert.equal(panelClock(m), '12:00:04');
  // Double buffering: the fronts alternate between the session's two buffers.
  const bufs = m.os.session!.buffers;
  const recent = m.driver.history.slice(-4);
  assert.deepEqual(recent, [bufs[1], bufs[0], bufs[1], bufs[0]].slice(-4).map((_, i) => recent[i]));
  assert.equal(new Set(recent).size, 2);
  assert.ok(recent.every((s) => s && bufs.includes(s)), 'recent.every((s) => s && bufs.includes(s))');
});

test('a frame repaints only the damage since that buffer was drawn (buffer age)', () => {
  const m = session();
  const bufPages = m.driver.front!.pages.length;
  m.time += 1000;
  m.vblank(1); // back buffer was never drawn: full repaint
  m.vblank(1);
  m.takeDirty();
  m.time += 1000;
  m.vblank(2);
  const dirty = m.takeDirty().length;
  assert.ok(dirty > 0 && dirty < bufPages / 4, `${dirty} of ${bufPages} pages`);
});

test('flip-demo flips at every vblank while animating, and stops when turned off', () => {
  const m = session('flip-demo');
  const flips = m.driver.flipCount;
  m.vblank(30);
  assert.equal(m.driver.flipCount - flips, 30);
  assert.ok(m.os.status().animating, 'm.os.status().animating');
  m.vt(1);
  m.type('flip-demo off\n');
  m.vt(7);
  m.vblank(2);
  const after = m.driver.flipCount;
  m.vblank(30);
  assert.equal(m.driver.flipCount, after);
});

test('triple buffering cycles through three buffers', () => {
  const m = session('startx --buffers=3');
  m.os.session!.setAnimating(true);
  m.vblank(9);
  const recent = m.driver.history.slice(-9);
  assert.equal(new Set(recent).size, 3);
  for (let i = 3; i < recent.length; i++) assert.equal(recent[i], recent[i - 3]);
});

test('X-tiled session buffers flip the same way', () => {
  const m = session('startx --xtiled');
  assert.equal(m.driver.front!.tiling.name, 'x');
  const flips = m.driver.flipCount;
  m.time += 1000;
  m.vblank(5);
  assert.equal(m.driver.flipCount, flips + 1);
  assert.equal(panelClock(m), '12:00:01');
});

test('software rendering draws into the front buffer and never flips', () => {
  const m = session('startx --sw');
  const front = m.driver.front!;
  const frontPages = new Set(front.pages);
  const flips = m.driver.flipCount;
  m.takeDirty();
  m.time += 1000;
  m.vblank(10);
  assert.equal(m.driver.flipCount, flips);
  assert.equal(m.driver.front, front);
  assert.equal(panelClock(m), '12:00:01');
  const dirty = m.takeDirty();
  assert.ok(dirty.length > 0, 'the host sees the change through the dirty log');
  assert.ok(dirty.every((p) => frontPages.has(p)), 'dirty.every((p) => frontPages.has(p))');
  m.os.session!.setAnimating(true);
  m.vblank(10);
  assert.equal(m.driver.flipCount, flips);
  assert.ok(m.takeDirty().length > 0, 'm.takeDirty().length > 0');
});

test('the pointer moves the cursor plane (hotspot applied) without flips or redraws', () => {
  const m = session();
  const cur = m.driver.cursor;
  assert.ok(cur.image, 'cur.image');
  assert.equal(cur.image.width, 64);
  assert.equal(cur.image.info.name, 'ARGB8888');
  assert.deepEqual([cur.hotX, cur.hotY], [0, 0]);
  assert.equal(cur.image.getPixel(0, 0) >>> 24, 0xff, 'the arrow tip is at the hotspot');
  assert.equal(cur.image.getPixel(63, 63), 0, 'transparent elsewhere');
  const flips = m.driver.flipCount;
  m.takeDirty();
  m.os.pointerAbs(0x4000, 0x4000);
  assert.deepEqual([m.driver.cursor.x, m.driver.cursor.y], [320, 240]);
  m.os.pointerRel(-400, 5);
  assert.deepEqual([m.driver.cursor.x, m.driver.cursor.y], [0, 245]);
  m.vblank(10);
  assert.equal(m.driver.flipCount, flips);
  assert.deepEqual(m.takeDirty(), []);
});

test('a crosshair cursor has its hotspot at the centre; the plane is offset by it', () => {
  const m = session('startx --crosshair');
  assert.deepEqual([m.driver.cursor.hotX, m.driver.cursor.hotY], [31, 31]);
  m.os.pointerRel(100, 100);
  assert.deepEqual([m.driver.cursor.x, m.driver.cursor.y], [69, 69]);
});

test('dragging a window by its title bar changes content, so it flips', () => {
  const m = session();
  const term = m.os.session!.scene.windows.find((w) => w.kind === 'term')!;
  const flips = m.driver.flipCount;
  const [x0, y0] = [term.x, term.y];
  m.os.pointerAbs(0, 0);
  m.os.pointerRel(term.x + 10, term.y + 8);
  m.os.key(BTN.LEFT, true);
  m.os.pointerRel(30, 20);
  m.vblank(2);
  m.os.key(BTN.LEFT, false);
  assert.deepEqual([term.x, term.y], [x0 + 30, y0 + 20]);
  assert.ok(m.driver.flipCount > flips, 'm.driver.flipCount > flips');
  const moved = m.driver.flipCount;
  m.os.pointerRel(50, 50); // not dragging any more
  m.vblank(5);
  assert.equal(m.driver.flipCount, moved);
});

test('away on a text VT the session does nothing; back on tty7 it shows the same front', () => {
  const m = session();
  const front = m.driver.front!;
  const frames = m.os.session!.framesRendered;
  m.vt(1);
  m.vblank();
  m.time += 5000;
  m.vblank(30);
  assert.equal(m.os.session!.framesRendered, frames);
  m.vt(7);
  assert.equal(m.driver.pending, front, 'the VT switch programs the old front');
  m.vblank(1); // latches the switch and renders the new clock
  assert.equal(m.driver.front, front);
  m.vblank(1);
  assert.equal(panelClock(m), '12:00:05');
});

test('the panel stays above the windows', () => {
  const m = session();
  const f = m.driver.front!;
  assert.equal(f.getPixel(2, 2), f.getPixel(f.width - 90, PANEL_HEIGHT - 2));
});

/** The desktop Terminal window's text, read off the primary plane with the guest's font. */
function terminalText(m: FakeMachine): string[] {
  const f = m.driver.front!;
  const w = m.os.session!.scene.windows.find((x) => x.kind === 'term')!;
  const t = m.os.terminalShell.tty;
  // Body = window + 2 px border + 20 px title; text starts 4 px right and 2 px down of it.
  return ocrGrid((x, y) => f.getRaw(x, y), t.cols, t.rows, w.x + 2 + 4, w.y + 2 + 20 + 2);
}

test('typing on tty7 goes to the desktop Terminal, which runs the same shell as the ttys', () => {
  const m = session();
  assert.ok(terminalText(m).some((l) => l.startsWith('root@vgpu:~#')), terminalText(m).join('\n'));
  const flips = m.driver.flipCount;
  m.type('echo hello tty7\n');
  m.vblank(2);
  const text = terminalText(m);
  assert.ok(text.includes('root@vgpu:~# echo hello tty7'), `the command echoes:\n${text.join('\n')}`);
  assert.ok(text.includes('hello tty7'), `and runs:\n${text.join('\n')}`);
  assert.ok(m.driver.flipCount > flips, 'the echo is a page flip');
  assert.deepEqual(m.os.screenText().filter((l) => l !== '').slice(-3),
    ['root@vgpu:~# echo hello tty7', 'hello tty7', 'root@vgpu:~#']);
  // The consoles did not get the keys.
  assert.ok(!m.os.ttys[0]!.text().some((l) => l.includes('hello tty7')), 'tty1 untouched');
  // Idle again: no flips without typing.
  const idle = m.driver.flipCount;
  m.vblank(30);
  assert.equal(m.driver.flipCount, idle);
  // A command from the list works there too.
  m.type('flip-demo\n');
  m.vblank(3);
  assert.ok(m.os.status().animating, 'flip-demo typed in the Terminal animates the session');
});

test('a click in flip-demo\'s window starts it, another pauses it', () => {
  const m = session();
  const anim = m.os.session!.scene.windows.find((w) => w.kind === 'anim')!;
  m.os.pointerAbs(0, 0);
  m.os.pointerRel(anim.x + Math.floor(anim.w / 2), anim.y + Math.floor(anim.h / 2));
  m.os.key(BTN.LEFT, true);
  m.os.key(BTN.LEFT, false);
  assert.ok(m.os.status().animating, 'the first click starts it');
  m.vblank(1); // the first animated frame is requested; it latches at the next vblank
  const flips = m.driver.flipCount;
  m.vblank(10);
  assert.equal(m.driver.flipCount - flips, 10);
  m.os.key(BTN.LEFT, true);
  m.os.key(BTN.LEFT, false);
  assert.ok(!m.os.status().animating, 'the second click pauses it');
  // A click on its title bar only raises/drags it.
  m.os.pointerAbs(0, 0);
  m.os.pointerRel(anim.x + 30, anim.y + 8);
  m.os.key(BTN.LEFT, true);
  m.os.key(BTN.LEFT, false);
  assert.ok(!m.os.status().animating, 'the title bar does not toggle it');
});

test('startx and stopx typed in the desktop Terminal', () => {
  const m = session();
  m.type('startx --buffers=3\n');
  m.vblank(2);
  assert.equal(m.os.activeVt, 7);
  assert.equal(m.os.session!.buffers.length, 3);
  assert.ok(m.os.session!.buffers.includes(m.driver.front!), 'the new session is on screen');
  m.type('stopx\n');
  m.vblank(2);
  assert.equal(m.os.activeVt, 1, 'the console takes the screen');
  assert.equal(m.os.session, undefined);
  assert.equal(m.driver.front, m.os.fbcon.surface);
});
