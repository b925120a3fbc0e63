import { F_KEYS, KEY, evdevCode } from './KeyCodes.ts';

/** What the escape chord can do besides sending keys. */
export interface EscapeActions {
  /** Escape tapped alone: leave fullscreen / keyboard lock and give the keyboard back. */
  release(): void;
  fullscreen(): void;
  toggleStats(): void;
  toggleInspector(): void;
  screenshot(): void;
  reconnect(): void;
  /** Show (true) or hide the list of bindings while the escape key is held. */
  showHelp(show: boolean): void;
}

/** The chord bindings, for the help overlay. */
export const ESCAPE_BINDINGS: ReadonlyArray<readonly [string, string]> = [
  ['alone', 'leave fullscreen, release the keyboard'],
  ['F1…F12', 'send Ctrl+Alt+F1…F12 (switch the guest\'s VT)'],
  ['Delete', 'send Ctrl+Alt+Del'],
  ['Backspace', 'send Ctrl+Alt+Backspace'],
  ['F', 'fullscreen'],
  ['D', 'stats overlay'],
  ['I', 'inspector'],
  ['S', 'screenshot'],
  ['R', 'reconnect now'],
];

/** Hold time before the bindings list appears, ms. */
const HELP_DELAY_MS = 600;

/**
 * Physical keys → KEY messages. Keys travel as evdev codes of KeyboardEvent.code (never
 * characters); held keys are remembered so focus loss releases them (no stuck Ctrl in the
 * guest). The escape key (default ScrollLock, Looking Glass style) is never sent: held with
 * another key it runs a chord, tapped alone it gives the keyboard back to the browser.
 */
export class KeyboardInput {
  private readonly _held = new Set<number>();
  /** Chord keys pressed while escape was down: their keyups are swallowed too. */
  private readonly _chordKeys = new Set<string>();
  private _escapeDown = false;
  private _chordUsed = false;
  private _helpTimer: ReturnType<typeof setTimeout> | undefined;

  public constructor(private readonly _send: (code: number, down: boolean) => void,
    private readonly _actions: EscapeActions, public escapeCode = 'ScrollLock') {}

  /** Evdev codes held down in the guest right now. */
  public get held(): readonly number[] {
    return [...this._held];
  }

  /** A keydown; true when it was consumed (the caller prevents the browser's default). */
  public keydown(code: string, repeat: boolean): boolean {
    if (code === this.escapeCode) {
      if (!this._escapeDown) {
        this._escapeDown = true;
        this._chordUsed = false;
        clearTimeout(this._helpTimer);
        this._helpTimer = setTimeout(() => this._actions.showHelp(true), HELP_DELAY_MS);
      }
      return true;
    }
    if (this._escapeDown) {
      this._chordUsed = true;
      this._chordKeys.add(code);
      if (!repeat) this._chord(code);
      return true;
    }
    const ev = evdevCode(code);
    if (ev === undefined) return false;
    // Repeats are sent as further presses, as evdev clients see autorepeat.
    this._held.add(ev);
    this._send(ev, true);
    return true;
  }

  public keyup(code: string): boolean {
    if (code === this.escapeCode) {
      if (this._escapeDown) {
        this._escapeDown = false;
        clearTimeout(this._helpTimer);
        this._actions.showHelp(false);
        if (!this._chordUsed) this._actions.release();
      }
      return true;
    }
    if (this._chordKeys.delete(code)) return true;
    const ev = evdevCode(code);
    if (ev === undefined || !this._held.has(ev)) return false;
    this._held.delete(ev);
    this._send(ev, false);
    return true;
  }

  /** Focus left the viewer: release every key the guest thinks is down. */
  public releaseAll(): void {
    for (const ev of this._held) this._send(ev, false);
    this._held.clear();
    this._chordKeys.clear();
    if (this._escapeDown) {
      this._escapeDown = false;
      clearTimeout(this._helpTimer);
      this._actions.showHelp(false);
    }
  }

  /** Press `codes` in order and release them in reverse (Send-key menu, chords). */
  public sendCombo(codes: readonly number[]): void {
    for (const c of codes) this._send(c, true);
    for (let i = codes.length - 1; i >= 0; i--) this._send(codes[i]!, false);
  }

  private _chord(code: string): void {
    const f = /^F([1-9]|1[0-2])$/.exec(code);
    if (f !== null) {
      this.sendCombo([KEY.LEFTCTRL, KEY.LEFTALT, F_KEYS[Number(f[1]) - 1]!]);
      return;
    }
    switch (code) {
      case 'Delete': this.sendCombo([KEY.LEFTCTRL, KEY.LEFTALT, KEY.DELETE]); break;
      case 'Backspace': this.sendCombo([KEY.LEFTCTRL, KEY.LEFTALT, KEY.BACKSPACE]); break;
      case 'KeyF': this._actions.fullscreen(); break;
      case 'KeyD': this._actions.toggleStats(); break;
      case 'KeyI': this._actions.toggleInspector(); break;
      case 'KeyS': this._actions.screenshot(); break;
      case 'KeyR': this._actions.reconnect(); break;
    }
  }
}
