import { DirtyLog } from '../gpu/DirtyLog.ts';
import { GuestMemory, PAGE_SIZE } from '../gpu/GuestMemory.ts';
import { PageAllocator } from '../gpu/PageAllocator.ts';
import { charKey, KEY } from '../guest/os/Evdev.ts';
import { GuestOs } from '../guest/os/GuestOs.ts';
import { surfaceText } from '../guest/os/TextOcr.ts';
import { FakeDisplayDriver, type FakeDriverOptions } from './FakeDisplayDriver.ts';

export interface FakeMachineOptions extends FakeDriverOptions {
  readonly memoryMiB?: number;
  /** Initial wall-clock time (ms since the epoch); advance it with `machine.time += ms`. */
  readonly time?: number;
  readonly blinkVblanks?: number;
}

/** Pages kept out of the buffer allocator (the guest kernel's own memory). */
export const RESERVED_PAGES = 64;

/**
 * A whole guest on the FakeDisplayDriver, in-process and deterministic (test use): memory, dirty
 * log, allocator, driver and kernel, plus helpers to type, tick vblanks and read the screen.
 */
export class FakeMachine {
  public readonly memory: GuestMemory;
  public readonly dirty: DirtyLog;
  public readonly allocator: PageAllocator;
  public readonly driver: FakeDisplayDriver;
  public readonly os: GuestOs;
  public readonly log: string[] = [];
  public time: number;
  private _seq = 0;

  public constructor(opts: FakeMachineOptions = {}) {
    this.memory = new GuestMemory((opts.memoryMiB ?? 48) * 1024 * 1024);
    this.dirty = new DirtyLog(this.memory.pageCount);
    this.allocator = new PageAllocator(RESERVED_PAGES, this.memory.pageCount - RESERVED_PAGES);
    const res = { memory: this.memory, dirty: this.dirty, allocator: this.allocator };
    this.driver = new FakeDisplayDriver(res, opts);
    this.time = opts.time ?? Date.UTC(2024, 0, 1, 12, 0, 0);
    this.os = new GuestOs({
      driver: this.driver, memory: this.memory, now: () => this.time,
      log: (l) => this.log.push(l), blinkVblanks: opts.blinkVblanks,
    });
  }

  /** Boot and latch the first scanout. */
  public boot(): number {
    const r = this.os.boot();
    this.vblank();
    return r;
  }

  public get seq(): number {
    return this._seq;
  }

  public vblank(count = 1): void {
    for (let i = 0; i < count; i++) {
      this._seq++;
      this.os.vblank({ seq: this._seq, writesApplied: 0 });
    }
  }

  public tap(code: number): void {
    this.os.key(code, true);
    this.os.key(code, false);
  }

  /** Press a chord (e.g. Ctrl+Alt+F2), release in reverse order. */
  public chord(...codes: number[]): void {
    for (const c of codes) this.os.key(c, true);
    for (const c of codes.slice().reverse()) this.os.key(c, false);
  }

  public vt(n: number): void {
    this.chord(KEY.LEFTCTRL, KEY.LEFTALT, KEY.F1 + n - 1);
  }

  /** Type text on the US keyboard ('\n' = Enter). */
  public type(text: string): void {
    for (const ch of text) {
      const k = charKey(ch);
      if (!k) throw new RangeError(`cannot type ${JSON.stringify(ch)}`);
      if (k.shift) this.os.key(KEY.LEFTSHIFT, true);
      this.tap(k.code);
      if (k.shift) this.os.key(KEY.LEFTSHIFT, false);
    }
  }

  /** OCR of what the primary plane scans out (empty when it shows nothing). */
  public screen(): string[] {
    const f = this.driver.front;
    return f ? surfaceText(f) : [];
  }

  public screenIncludes(s: string): boolean {
    return this.screen().some((l) => l.includes(s));
  }

  /** Pages dirtied since the last call (and clears them). */
  public takeDirty(): number[] {
    const out: number[] = [];
    this.dirty.fetchAndClear(0, this.memory.pageCount, (p) => out.push(p));
    return out;
  }

  public static readonly PAGE_SIZE = PAGE_SIZE;
}
