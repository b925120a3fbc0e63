import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_ATTR, Tty } from './Tty.ts';

test('writes wrap at the right edge and scroll at the bottom', () => {
  const t = new Tty(1, 5, 3);
  t.write('abcdefg\nhi');
  assert.deepEqual(t.text(), ['abcde', 'fg', 'hi']);
  t.write('\nxyz');
  assert.deepEqual(t.text(), ['fg', 'hi', 'xyz']);
  assert.deepEqual([t.cursorX, t.cursorY], [3, 2]);
  t.write('\b\bQ\r>');
  assert.deepEqual(t.text(), ['fg', 'hi', '>Qz']);
  const w = new Tty(1, 20, 2);
  w.write('a\tb');
  assert.equal(w.line(0), 'a       b');
});

test('escape sequences: colours, clear, home, erase line; non-ASCII prints as ?', () => {
  const t = new Tty(2, 10, 2);
  t.write('\x1b[32mok\x1b[0m!é');
  assert.equal(t.attrAt(0, 0) & 0x0f, 2);
  assert.equal(t.attrAt(2, 0), DEFAULT_ATTR);
  assert.equal(t.line(0), 'ok!?');
  t.write('\x1b[H\x1b[K');
  assert.equal(t.line(0), '');
  t.write('zz\x1b[2J');
  assert.deepEqual(t.text(), ['', '']);
  assert.deepEqual([t.cursorX, t.cursorY], [0, 0]);
  t.write('\x1b[99;99Hx');
  assert.equal(t.line(1), '         x');
});

test('resize keeps the bottom lines so the cursor stays visible; dirty rows are tracked', () => {
  const t = new Tty(1, 10, 4);
  t.write('l1\nl2\nl3\nl4');
  t.takeDirtyRows(() => {});
  t.write('!');
  const dirty: number[] = [];
  t.takeDirtyRows((y) => dirty.push(y));
  assert.deepEqual(dirty, [3]);
  t.resize(4, 2);
  assert.deepEqual(t.text(), ['l3', 'l4!']);
  assert.equal(t.cursorY, 1);
  t.resize(20, 5);
  assert.deepEqual(t.text(), ['l3', 'l4!', '', '', '']);
});
