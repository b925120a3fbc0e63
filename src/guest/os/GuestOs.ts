import { Disposable } from '../../base/Disposable.ts';
import { Errno, errnoName } from '../../base/Errno.ts';
import type { GuestMemory } from '../../gpu/GuestMemory.ts';
import { DRM_FORMAT, formatByName, formatName } from '../../kms/Fourcc.ts';
import { LINEAR, X_TILED, type TileLayout } from '../../kms/Tiling.ts';
import type { CursorShape } from './CursorImage.ts';
import type { DisplayDriver, DisplayMode, ModeConfig, VblankInfo } from './DisplayDriver.ts';
import { ABS_MAX, BTN } from './Evdev.ts';
import { Fbcon, TTY_COUNT } from './Fbcon.ts';
import { Keyboard } from './Keyboard.ts';
import { Session } from './Session.ts';
import { PROMPT, Shell, type CommandInfo, type ShellHost } from './Shell.ts';
import type { Surface } from './Surface.ts';
import { Tty } from './Tty.ts';

export const OS_NAME = 'vgpu-os';
export const OS_VERSION = '1.0';
/** The graphical session's VT. */
export const SESSION_VT = 7;
/** The desktop Terminal window's tty (after tty1..6; its size follows the window). */
export const TERMINAL_TTY = 8;
/** Used when the monitor has no EDID. */
export const FALLBACK_MODE: DisplayMode = { width: 1024, height: 768 };

export interface GuestOsOptions {
  readonly driver: DisplayDriver;
  /** For the boot log's memory line. */
  readonly memory?: GuestMemory;
  /** Wall clock, ms since the epoch (the session's clock). Default Date.now. */
  readonly now?: () => number;
  /** Serial console: every boot and kernel log line. */
  readonly log?: (line: string) => void;
  readonly blinkVblanks?: number;
}

/** A snapshot of what the guest is doing; the worker publishes it to the host. */
export interface GuestStatus {
  readonly booted: boolean;
  /** 1..6 fbcon, 7 the graphical session. */
  readonly activeVt: number;
  readonly vblanks: number;
  /** Primary-plane updates that latched (page flips and VT switches). */
  readonly flips: number;
  readonly framesRendered: number;
  readonly sessionRunning: boolean;
  readonly animating: boolean;
  readonly width: number;
  readonly height: number;
  readonly format: number;
  readonly tiling: 'linear' | 'x' | 'y';
  /** id of the surface the primary plane shows (0: none). */
  readonly frontId: number;
  /** Changes whenever the guest drew something (console cells, session frames, flips). */
  readonly content: number;
}

/** What `startx` can choose (see SessionOptions). */
export interface StartxOptions {
  buffers: 1 | 2 | 3;
  tiling: TileLayout | undefined;
  cursor: CursorShape;
}

const COMMANDS: readonly CommandInfo[] = [
  { name: 'info', usage: 'info', help: 'display mode, planes and session as the guest sees them' },
  { name: 'mode', usage: 'mode WxH[@format][+xtiled]', help: 'set the display mode' },
  { name: 'startx', usage: 'startx [--sw] [--xtiled] [--buffers=2|3]', help: 'graphical session on tty7' },
  { name: 'flip-demo', usage: 'flip-demo [on|off]', help: 'animate the session (a flip per vblank)' },
  { name: 'stopx', usage: 'stopx', help: 'end the graphical session' },
  { name: 'echo', usage: 'echo TEXT', help: 'print TEXT' },
];

/**
 * The guest kernel: boots the display (EDID preferred mode, fbcon on tty1..6), routes keyboard
 * and pointer input, switches VTs with Ctrl+Alt+Fn by reprogramming the primary plane to the
 * fbcon buffer or the session's front buffer (the same buffers every time), and runs the shell
 * commands. Everything is driven by three entry points: vblank(), key(), pointer*().
 */
export class GuestOs extends Disposable implements ShellHost {
  public readonly driver: DisplayDriver;
  public readonly fbcon: Fbcon;
  public readonly shells: readonly Shell[];
  /** The shell in the desktop's Terminal window: typing on tty7 goes here. */
  public readonly terminalShell: Shell;
  public readonly keyboard = new Keyboard();
  public readonly commands = COMMANDS;
  private readonly _now: () => number;
  private readonly _log: (line: string) => void;
  private readonly _memory: GuestMemory | undefined;
  private _session: Session | undefined;
  private _startx: StartxOptions | undefined;
  private _vt = 1;
  private _booted = false;
  private _vblanks = 0;
  private _flips = 0;
  private _px = 0;
  private _py = 0;
  /** The user picked a mode: hotplug no longer follows the preferred one. */
  private _userMode = false;

  public constructor(opts: GuestOsOptions) {
    super();
    this.driver = opts.driver;
    this._memory = opts.memory;
    this._now = opts.now ?? (() => Date.now());
    this._log = opts.log ?? (() => {});
    this.fbcon = new Fbcon({ blinkVblanks: opts.blinkVblanks });
    this.shells = this.fbcon.ttys.map((t) => new Shell(t, this));
    this.terminalShell = new Shell(new Tty(TERMINAL_TTY, 40, 10), this);
    this._register(this.driver.onFlip(() => { this._flips++; }));
    this._register(this.driver.onHotplug(() => this._hotplug()));
  }

  public get activeVt(): number {
    return this._vt;
  }

  public get session(): Session | undefined {
    return this._session;
  }

  public get booted(): boolean {
    return this._booted;
  }

  public get ttys(): readonly Tty[] {
    return this.fbcon.ttys;
  }

  /** Bring up the display and the consoles. 0 or -errno (the guest then runs headless). */
  public boot(): number {
    const tty1 = this.ttys[0]!;
    const klog = (line: string, ok?: boolean): void => {
      this._log(line);
      tty1.write(ok === undefined ? `${line}\n` : `[\x1b[${ok ? '32m  OK  ' : '31mFAILED'}\x1b[0m] ${line}\n`);
    };
    klog(`${OS_NAME} ${OS_VERSION} booting`);
    if (this._memory) {
      klog(`memory: ${this._memory.size >> 20} MiB (${this._memory.pageCount} pages)`);
    }
    const r = this.driver.init();
    if (r < 0) {
      this._log(`display: ${this.driver.caps.name} init failed: ${errnoName(r)}`);
      return r;
    }
    const modes = this.driver.modes();
    const pref = modes[0];
    klog(`display: ${this.driver.caps.name}, ` + (pref
      ? `EDID preferred ${pref.width}x${pref.height}${pref.refresh ? `@${pref.refresh}` : ''}`
      : `no EDID, using ${FALLBACK_MODE.width}x${FALLBACK_MODE.height}`));
    const mode = this._fit(pref ?? FALLBACK_MODE);
    const err = this._applyMode(mode);
    if (err) {
      this._log(`display: ${err}`);
      return -Errno.ENODEV;
    }
    const fb = this.fbcon.surface!;
    klog(`${fb.describe()} at 0x${fb.address.toString(16)}`);
    klog(`fbcon: ${this.fbcon.cols}x${this.fbcon.rows} text console, tty1-tty${TTY_COUNT}`);
    klog(`Started getty on tty1-tty${TTY_COUNT}`, true);
    tty1.write(`\nWelcome to ${OS_NAME}. Type 'help' for commands.\n`);
    for (let i = 1; i < TTY_COUNT; i++) this.ttys[i]!.write(`${OS_NAME} ${OS_VERSION} tty${i + 1}\n\n`);
    for (const sh of this.shells) sh.prompt();
    // Short: written at the tty's boot size (40 columns) and kept when the window sizes it.
    this.terminalShell.tty.write(`${OS_NAME} terminal: try 'help'\n`);
    this.terminalShell.prompt();
    this.fbcon.render();
    this._booted = true;
    this._log(`${OS_NAME}: boot complete, prompt ${JSON.stringify(PROMPT)}`);
    return 0;
  }

  // ---- interrupts ----

  public vblank(info: VblankInfo): void {
    this._vblanks++;
    this.driver.vblank(info);
    if (!this._booted) return;
    this.fbcon.tick(info.seq);
    this.fbcon.render();
    this._session?.tick();
  }

  /** An evdev key (or button) event. */
  public key(code: number, down: boolean): void {
    if (code === BTN.LEFT) {
      if (this._vt === SESSION_VT) this._session?.button(down);
      return;
    }
    const action = this.keyboard.event(code, down);
    if (!action || !this._booted) return;
    if (action.kind === 'vt') {
      this.switchVt(action.vt);
      return;
    }
    if (this._vt <= TTY_COUNT) {
      this.shells[this._vt - 1]!.input(action);
      this.fbcon.poke();
      this.fbcon.render();
    } else if (this._session !== undefined) {
      // The desktop's Terminal window has the keyboard; the session redraws it at the next vblank.
      this.terminalShell.input(action);
    }
  }

  /** Relative pointer motion (a mouse). */
  public pointerRel(dx: number, dy: number): void {
    this._movePointer(this._px + dx, this._py + dy);
  }

  /** Absolute pointer position in 0..ABS_MAX on both axes (a tablet). */
  public pointerAbs(x: number, y: number): void {
    const m = this.driver.mode;
    if (!m) return;
    this._movePointer(Math.round((x / ABS_MAX) * (m.width - 1)), Math.round((y / ABS_MAX) * (m.height - 1)));
  }

  public get pointer(): { x: number; y: number } {
    return { x: this._px, y: this._py };
  }

  // ---- VTs ----

  /**
   * Show VT `n`: 1..6 put the fbcon buffer on the primary plane, 7 the session's current front
   * buffer. No buffer is allocated, so the host sees buffers it already knows. 0 or -errno.
   */
  public switchVt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > SESSION_VT) return -Errno.EINVAL;
    if (n === this._vt) return 0;
    if (n === SESSION_VT) {
      if (!this._session) return -Errno.ENODEV;
      this.fbcon.hide();
      this._vt = n;
      this._log(`vt: switch to tty${n}`);
      return this._session.activate();
    }
    const fromSession = this._vt === SESSION_VT;
    this._vt = n;
    this._log(`vt: switch to tty${n}`);
    if (fromSession) {
      this._session?.deactivate();
      const r = this.driver.show(this.fbcon.surface ?? null);
      this.fbcon.setActive(n - 1);
      this.fbcon.show();
      return r;
    }
    this.fbcon.setActive(n - 1);
    return 0;
  }

  public status(): GuestStatus {
    const m = this.driver.mode;
    return {
      booted: this._booted,
      activeVt: this._vt,
      vblanks: this._vblanks,
      flips: this._flips,
      framesRendered: this._session?.framesRendered ?? 0,
      sessionRunning: this._session !== undefined,
      animating: this._session?.scene.animating ?? false,
      width: m?.width ?? 0,
      height: m?.height ?? 0,
      format: m?.format ?? 0,
      tiling: m?.tiling.name ?? 'linear',
      frontId: this.driver.front?.id ?? 0,
      content: (this.fbcon.cellsDrawn + (this._session?.framesRendered ?? 0) + this._flips) | 0,
    };
  }

  /** The active tty's text, or the Terminal window's on tty7 (the guest's own view). */
  public screenText(): string[] {
    if (this._vt <= TTY_COUNT) return this.ttys[this._vt - 1]!.text();
    return this._session !== undefined ? this.terminalShell.tty.text() : [];
  }

  // ---- shell commands ----

  public exec(name: string, args: readonly string[], tty: Tty): string[] | undefined {
    switch (name) {
      case 'info': return this._info(tty);
      case 'mode': return this._modeCommand(args);
      case 'startx': return this._startxCommand(args);
      case 'stopx': return this._stopx();
      case 'flip-demo': return this._flipDemo(args);
      case 'echo': return [args.join(' ')];
      default: return undefined;
    }
  }

  /** Set the display mode (what `mode` does). Returns an error message, or undefined. */
  public setDisplayMode(width: number, height: number, format = DRM_FORMAT.XRGB8888 as number,
    tiling: TileLayout = LINEAR): string | undefined {
    const err = this._applyMode({ width, height, format, tiling });
    if (!err) this._userMode = true;
    return err;
  }

  public override dispose(): void {
    this._session?.dispose();
    this._session = undefined;
    super.dispose();
  }

  private _info(tty: Tty): string[] {
    const lines = this.driver.info();
    lines.push(`vt: ${this._vt === SESSION_VT ? 'tty7 (graphical session)' : tty.name}`);
    const fb = this.fbcon.surface;
    if (fb) lines.push(`fbcon: ${this.fbcon.cols}x${this.fbcon.rows} on fb#${fb.id}`);
    lines.push(this._session ? this._session.describe() : 'session: not started');
    return lines;
  }

  private _modeCommand(args: readonly string[]): string[] {
    if (args.length === 0) {
      const m = this.driver.mode;
      const modes = this.driver.modes().map((x) => `${x.width}x${x.height}`).join(' ');
      return [
        m ? `mode: ${m.width}x${m.height} ${formatName(m.format)} ${m.tiling.name}` : 'mode: unset',
        `EDID modes: ${modes || 'none'}`,
        `formats: ${this.driver.caps.formats.map(formatName).join(' ')}`,
      ];
    }
    const match = /^(\d{1,5})x(\d{1,5})(?:@([A-Za-z0-9]+))?(?:\+(xtiled|linear))?$/.exec(args.join(''));
    if (!match) return ['mode: usage: mode WxH[@format][+xtiled]'];
    const fmt = match[3] === undefined
      ? (this.driver.mode?.format ?? DRM_FORMAT.XRGB8888)
      : formatByName(match[3])?.fourcc;
    if (fmt === undefined) return [`mode: unknown format '${match[3]}'`];
    const tiling = match[4] === 'xtiled' ? X_TILED : LINEAR;
    const err = this.setDisplayMode(Number(match[1]), Number(match[2]), fmt, tiling);
    if (err) return [`mode: ${err}`];
    const m = this.driver.mode!;
    return [`mode: ${m.width}x${m.height} ${formatName(m.format)} ${m.tiling.name}`];
  }

  private _startxCommand(args: readonly string[]): string[] {
    const opts: StartxOptions = { buffers: 2, tiling: undefined, cursor: 'arrow' };
    for (const a of args) {
      if (a === '--sw') opts.buffers = 1;
      else if (a === '--xtiled') opts.tiling = X_TILED;
      else if (a === '--linear') opts.tiling = LINEAR;
      else if (a === '--crosshair') opts.cursor = 'crosshair';
      else if (a === '--buffers=2' || a === '--buffers=3') opts.buffers = Number(a.slice(-1)) as 2 | 3;
      else return [`startx: unknown option '${a}'`];
    }
    const err = this.startSession(opts);
    return err ? [`startx: ${err}`] : [];
  }

  /** Start (or reuse) the graphical session and switch to tty7. Error message or undefined. */
  public startSession(opts: Partial<StartxOptions> = {}): string | undefined {
    const want: StartxOptions = {
      buffers: opts.buffers ?? 2, tiling: opts.tiling, cursor: opts.cursor ?? 'arrow',
    };
    const same = this._startx && this._startx.buffers === want.buffers &&
      this._startx.tiling === want.tiling && this._startx.cursor === want.cursor;
    if (!this._session || !same) {
      const mode = this.driver.mode;
      if (!mode) return 'no display';
      if (want.tiling && !this.driver.caps.tilings.some((t) => t.name === want.tiling!.name)) {
        return `${want.tiling.name} tiling not supported by ${this.driver.caps.name}`;
      }
      this._session?.dispose();
      this._session = undefined;
      const s = new Session(this.driver, {
        buffers: want.buffers, tiling: want.tiling, cursor: want.cursor, now: this._now,
        terminal: this.terminalShell.tty,
      });
      const r = s.start(mode);
      if (r < 0) {
        s.dispose();
        return r === -Errno.ENOMEM ? 'out of memory' : errnoName(r);
      }
      this._session = s;
      this._startx = want;
      this._log(`startx: ${s.describe()}`);
    }
    // Already on tty7 (startx typed in the desktop's Terminal): show the new session's buffers.
    const r = this._vt === SESSION_VT ? this._session.activate() : this.switchVt(SESSION_VT);
    return r < 0 ? errnoName(r) : undefined;
  }

  private _stopx(): string[] {
    if (!this._session) return ['stopx: no session'];
    // From the desktop's own Terminal: the console takes the screen before the session goes.
    if (this._vt === SESSION_VT) this.switchVt(1);
    this._session.dispose();
    this._session = undefined;
    this._startx = undefined;
    return ['stopx: session ended'];
  }

  private _flipDemo(args: readonly string[]): string[] {
    const arg = args[0] ?? 'on';
    if (arg !== 'on' && arg !== 'off') return ['flip-demo: usage: flip-demo [on|off]'];
    if (arg === 'off') {
      this._session?.setAnimating(false);
      return ['flip-demo: off'];
    }
    if (!this._session) {
      const err = this.startSession();
      if (err) return [`flip-demo: ${err}`];
    } else {
      this.switchVt(SESSION_VT);
    }
    this._session!.setAnimating(true);
    return [];
  }

  /** Validate, allocate the new fbcon buffer, program the pipe, re-layout everything. */
  private _applyMode(m: ModeConfig): string | undefined {
    const c = this.driver.caps;
    if (this.driver.checkMode(m) < 0) {
      if (!c.formats.includes(m.format)) {
        return `format ${formatName(m.format)} not supported (${c.formats.map(formatName).join(', ')})`;
      }
      if (!c.tilings.some((t) => t.name === m.tiling.name)) return `${m.tiling.name} tiling not supported`;
      return `invalid size ${m.width}x${m.height} ` +
        `(${c.minWidth}x${c.minHeight} to ${c.maxWidth}x${c.maxHeight})`;
    }
    const fb = this.driver.allocSurface({ ...m, purpose: 'scanout', label: 'fbcon' });
    if (typeof fb === 'number') {
      return fb === -Errno.ENOMEM ? 'out of memory' : `cannot allocate: ${errnoName(fb)}`;
    }
    const r = this.driver.setMode(m);
    if (r < 0) {
      this.driver.freeSurface(fb);
      return `mode set failed: ${errnoName(r)}`;
    }
    const old: Surface | undefined = this.fbcon.surface;
    fb.clear(0xff000000);
    this.fbcon.attach(fb);
    if (this._vt !== SESSION_VT) this.driver.show(fb);
    if (old) this.driver.freeSurface(old);
    if (this._session) {
      const sr = this._session.resize(m);
      if (sr < 0) {
        this._log(`session: cannot resize (${errnoName(sr)}), stopped`);
        this._session.dispose();
        this._session = undefined;
        this._startx = undefined;
      }
    }
    this._px = Math.min(this._px, m.width - 1);
    this._py = Math.min(this._py, m.height - 1);
    this._log(`mode: ${m.width}x${m.height} ${formatName(m.format)} ${m.tiling.name}`);
    return undefined;
  }

  /** Clamp a monitor mode to what the device can do. */
  private _fit(m: DisplayMode): ModeConfig {
    const c = this.driver.caps;
    return {
      width: Math.min(c.maxWidth, Math.max(c.minWidth, m.width)),
      height: Math.min(c.maxHeight, Math.max(c.minHeight, m.height)),
      format: c.formats[0] ?? DRM_FORMAT.XRGB8888,
      tiling: LINEAR,
    };
  }

  private _hotplug(): void {
    const pref = this.driver.modes()[0];
    this._log(`hotplug: ${pref ? `preferred ${pref.width}x${pref.height}` : 'no EDID'}`);
    if (!pref || this._userMode || !this._booted) return;
    const cur = this.driver.mode;
    if (cur && cur.width === pref.width && cur.height === pref.height) return;
    const m = this._fit(pref);
    const err = this._applyMode({ ...m, format: cur?.format ?? m.format, tiling: cur?.tiling ?? m.tiling });
    if (err) this._log(`hotplug: ${err}`);
  }

  private _movePointer(x: number, y: number): void {
    const m = this.driver.mode;
    if (!m) return;
    this._px = Math.max(0, Math.min(m.width - 1, Math.round(x)));
    this._py = Math.max(0, Math.min(m.height - 1, Math.round(y)));
    this._session?.pointer(this._px, this._py);
  }
}
