import type { PointerInput } from '../server/VmRegistry.ts';
import { evdevToQnum } from '../protocol/Qnum.ts';

/** QEMU's InputButton numbers (qapi/ui.json), as org.qemu.Display1.Mouse.Press takes them. */
export const QEMU_BUTTON = { left: 0, middle: 1, right: 2, wheelUp: 3, wheelDown: 4 } as const;
/** PointerInput button bits (0 left, 1 right, 2 middle) → QEMU buttons. */
const BUTTON_BITS = [QEMU_BUTTON.left, QEMU_BUTTON.right, QEMU_BUTTON.middle] as const;

/** Pointer input, plus a wheel the QEMU path takes (positive = away from the user). */
export type QemuPointer = PointerInput & { readonly wheel?: number };

/**
 * Gap after QEMU answered one input call before the next goes out. QEMU's PS/2 devices queue 16
 * bytes and drop (keys) or hold back (mouse state, sent only with the next event) what does not
 * fit; the guest drains the queue an interrupt at a time. 10 ms is QEMU's own pacing of queued
 * keys (ui/input.c, kbd_default_delay_ms) and a PS/2 mouse's default 100 Hz sample rate.
 */
export const INPUT_GAP_MS = 10;
/** Queued input calls per console, at most; beyond it presses are dropped (and counted). */
export const MAX_QUEUED_INPUT = 1024;
/** The largest relative step in one call: a PS/2 packet carries ±127 (QEMU splits beyond). */
const MAX_REL_STEP = 127;
/** Wheel clicks taken from one pointer event. */
const MAX_WHEEL = 16;

export interface InputStats {
  keys: number;
  pointer: number;
  resizes: number;
  /** SetUIInfo calls QEMU refused (plain VGA: "SetUIInfo is not supported"). */
  resizeErrors: number;
  /** Keyboard/Mouse calls QEMU answered with an error (e.g. SetAbsPosition on a relative mouse). */
  errors: number;
  lastError: string;
  /** Key and button presses (their releases go too) and moves dropped because the queue was full. */
  dropped: number;
  /** Queued motion merged into the motion before it (the pointer lands where it was going). */
  merged: number;
  /** Input calls sent to QEMU. */
  sent: number;
}

/** One queued input: a key or button edge, or a pointer move (merged while it waits). */
type Item =
  | { readonly kind: 'key'; readonly qnum: number; readonly down: boolean }
  | { readonly kind: 'button'; readonly button: number; readonly down: boolean }
  | { kind: 'move'; abs: boolean; x: number; y: number };

/** How the queue reaches QEMU: one Keyboard/Mouse method call, resolved when QEMU answered. */
export type InputCall = (iface: 'Keyboard' | 'Mouse', member: string, signature: string, body: unknown[]) => Promise<unknown>;

export interface QemuInputOptions {
  readonly gapMs?: number;
  readonly maxQueued?: number;
}

/**
 * The one path of viewer input to one QEMU console: evdev keys to qnum Keyboard calls, pointer
 * events to Mouse calls (SetAbsPosition on an absolute device, RelMotion otherwise), sent one at a
 * time with a gap after each answer so QEMU's 16-byte PS/2 queues never overflow: a 200-character
 * paste arrives whole. Keyboard and mouse share the queue, so shift+click stays in order.
 *
 * Never blocks anything: callers enqueue and return. The queue is bounded (motion merges into
 * the waiting motion; a full queue drops presses, counted, with their releases); a QEMU that does
 * not answer costs one in-flight call (the connection's call timeout) and the queue's bound.
 */
export class QemuInput {
  public readonly stats: InputStats = { keys: 0, pointer: 0, resizes: 0, resizeErrors: 0, errors: 0, lastError: '', dropped: 0, merged: 0, sent: 0 };
  private readonly _queue: Item[] = [];
  private _busy = false;
  private _timer: NodeJS.Timeout | undefined;
  /** Keys and buttons whose press was dropped: their release is dropped too. */
  private readonly _droppedDown = new Set<string>();
  /** The viewer's buttons (PointerInput bits) as last seen. */
  private _buttons = 0;
  /** Where the guest's pointer is, as far as our moves go (console pixels). */
  private _pos = { x: 0, y: 0 };
  private readonly _gapMs: number;
  private readonly _max: number;

  public constructor(
    private readonly _send: InputCall,
    /** The console's size now (SetAbsPosition must be inside it) and whether its mouse is absolute. */
    private readonly _console: () => { width: number; height: number; absolute: boolean },
    o: QemuInputOptions = {},
  ) {
    this._gapMs = o.gapMs ?? INPUT_GAP_MS;
    this._max = o.maxQueued ?? MAX_QUEUED_INPUT;
  }

  /** Calls queued or in flight. */
  public get pending(): number {
    return this._queue.length + (this._busy ? 1 : 0);
  }

  public key(evdev: number, down: boolean): void {
    const qnum = evdevToQnum(evdev);
    if (qnum === undefined) return;
    this.stats.keys++;
    this._edge(`k${qnum}`, { kind: 'key', qnum, down });
  }

  public pointer(p: QemuPointer): void {
    this.stats.pointer++;
    if (p.kind === 'abs') this._move(true, p.x, p.y);
    else if (p.dx !== 0 || p.dy !== 0) this._move(false, p.dx, p.dy);
    const changed = this._buttons ^ p.buttons;
    for (let i = 0; i < BUTTON_BITS.length; i++) {
      if (changed & (1 << i)) this._edge(`b${BUTTON_BITS[i]}`, { kind: 'button', button: BUTTON_BITS[i]!, down: (p.buttons & (1 << i)) !== 0 });
    }
    this._buttons = p.buttons & 7;
    const wheel = Math.max(-MAX_WHEEL, Math.min(MAX_WHEEL, Math.trunc(p.wheel ?? 0)));
    const b = wheel > 0 ? QEMU_BUTTON.wheelUp : QEMU_BUTTON.wheelDown;
    for (let i = 0; i < Math.abs(wheel); i++) {
      this._edge(`w${b}`, { kind: 'button', button: b, down: true });
      this._edge(`w${b}`, { kind: 'button', button: b, down: false });
    }
  }

  /** Drop what waits (QEMU went away: keys for a guest that is gone mean nothing to the next one). */
  public clear(): void {
    this._queue.length = 0;
    this._droppedDown.clear();
    this._buttons = 0;
    clearTimeout(this._timer);
    this._timer = undefined;
  }

  private _edge(id: string, item: Item & { down: boolean }): void {
    if (item.down) {
      if (this._queue.length >= this._max) {
        this.stats.dropped++;
        this._droppedDown.add(id);
        return;
      }
      this._droppedDown.delete(id);
    } else if (this._droppedDown.delete(id)) {
      return;
    }
    // A release always fits: at most one per held key or button beyond the bound.
    this._queue.push(item);
    this._pump();
  }

  private _move(abs: boolean, x: number, y: number): void {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    const last = this._queue[this._queue.length - 1];
    if (last?.kind === 'move' && last.abs === abs) {
      // Merged while waiting: an absolute move replaces, relative ones add up.
      if (abs) [last.x, last.y] = [x, y];
      else [last.x, last.y] = [last.x + x, last.y + y];
      this.stats.merged++;
      return;
    }
    if (this._queue.length >= this._max) {
      this.stats.dropped++;
      return;
    }
    this._queue.push({ kind: 'move', abs, x, y });
    this._pump();
  }

  private _pump(): void {
    if (this._busy || this._timer || this._queue.length === 0) return;
    const item = this._queue.shift()!;
    const call = this._call(item);
    if (!call) {
      this._pump();
      return;
    }
    this._busy = true;
    this.stats.sent++;
    const [member, signature, body] = call.slice(1) as [string, string, unknown[]];
    this._send(call[0], member, signature, body).catch((e: Error) => {
      this.stats.errors++;
      this.stats.lastError = `${call[0]}.${member}: ${e.message}`;
    }).finally(() => {
      this._busy = false;
      this._timer = setTimeout(() => {
        this._timer = undefined;
        this._pump();
      }, this._gapMs);
    });
  }

  /** The QEMU call for `item` now (the mouse's mode decided at send time), or none. */
  private _call(item: Item): ['Keyboard' | 'Mouse', string, string, unknown[]] | undefined {
    if (item.kind === 'key') return ['Keyboard', item.down ? 'Press' : 'Release', 'u', [item.qnum]];
    if (item.kind === 'button') return ['Mouse', item.down ? 'Press' : 'Release', 'u', [item.button]];
    const c = this._console();
    const clamp = (v: number, size: number): number => Math.max(0, Math.min(Math.max(0, size - 1), Math.round(v)));
    const to = item.abs ? { x: clamp(item.x, c.width), y: clamp(item.y, c.height) } : { x: clamp(this._pos.x + item.x, c.width), y: clamp(this._pos.y + item.y, c.height) };
    if (c.absolute) {
      this._pos = to;
      return ['Mouse', 'SetAbsPosition', 'uu', [to.x, to.y]];
    }
    // A relative mouse (PS/2): absolute viewer positions go as deltas from where we left it;
    // relative ones as they came (the guest's pointer is not bounded by our idea of its screen).
    let dx = item.abs ? to.x - this._pos.x : Math.trunc(item.x);
    let dy = item.abs ? to.y - this._pos.y : Math.trunc(item.y);
    this._pos = to;
    if (dx === 0 && dy === 0) return undefined;
    // One packet's worth per call; the rest goes back to the head of the queue.
    const sx = Math.max(-MAX_REL_STEP, Math.min(MAX_REL_STEP, dx));
    const sy = Math.max(-MAX_REL_STEP, Math.min(MAX_REL_STEP, dy));
    dx -= sx;
    dy -= sy;
    if (dx !== 0 || dy !== 0) this._queue.unshift({ kind: 'move', abs: false, x: dx, y: dy });
    if (dx !== 0 || dy !== 0) this._pos = { x: to.x - dx, y: to.y - dy };
    return ['Mouse', 'RelMotion', 'ii', [sx, sy]];
  }
}
