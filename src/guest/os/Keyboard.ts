import { FKEYS, KEY, keyChar } from './Evdev.ts';

const LETTER = /^[a-z]$/;

/** What a key press means to the OS. */
export type KeyAction =
  | { kind: 'char'; ch: string }
  | { kind: 'vt'; vt: number }
  | { kind: 'enter' }
  | { kind: 'backspace' }
  /** Ctrl+letter: 'c', 'l', 'u'… */
  | { kind: 'ctrl'; key: string }
  | { kind: 'other'; code: number };

/**
 * Keyboard state: modifiers, caps lock, and the translation of key presses to actions.
 * Ctrl+Alt+Fn switches virtual terminals, as on Linux.
 */
export class Keyboard {
  private _down = new Set<number>();
  private _caps = false;

  public get shift(): boolean {
    return this._down.has(KEY.LEFTSHIFT) || this._down.has(KEY.RIGHTSHIFT);
  }
  public get ctrl(): boolean {
    return this._down.has(KEY.LEFTCTRL) || this._down.has(KEY.RIGHTCTRL);
  }
  public get alt(): boolean {
    return this._down.has(KEY.LEFTALT) || this._down.has(KEY.RIGHTALT);
  }
  public get capsLock(): boolean {
    return this._caps;
  }

  public isDown(code: number): boolean {
    return this._down.has(code);
  }

  /** Feed one key event; returns the action for a press (or auto-repeat), undefined otherwise. */
  public event(code: number, down: boolean): KeyAction | undefined {
    if (!down) {
      this._down.delete(code);
      return undefined;
    }
    this._down.add(code);
    if (code === KEY.CAPSLOCK) {
      this._caps = !this._caps;
      return undefined;
    }
    const fn = FKEYS.get(code);
    if (fn !== undefined && this.ctrl && this.alt) return { kind: 'vt', vt: fn };
    if (code === KEY.ENTER || code === KEY.KPENTER) return { kind: 'enter' };
    if (code === KEY.BACKSPACE) return { kind: 'backspace' };
    const ch = keyChar(code, this.shift, this._caps);
    if (ch !== undefined) {
      if (this.ctrl && LETTER.test(ch.toLowerCase())) return { kind: 'ctrl', key: ch.toLowerCase() };
      return { kind: 'char', ch };
    }
    return { kind: 'other', code };
  }

  /** Forget held keys (e.g. when focus is lost on the host). */
  public reset(): void {
    this._down.clear();
  }
}
