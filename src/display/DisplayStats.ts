/**
 * - `timer`: QUERY both planes every `intervalMs` (QEMU's GUI refresh timer), full-frame update.
 * - `event`: QUERY only when the device's display event channel fires, full-frame update.
 * - `dirty`: like `event` for flips, plus a dirty-log scan every `intervalMs` (no ioctl) that
 *   turns written pages of the shown buffer into damage rectangles.
 */
export type RefreshPolicy = 'timer' | 'event' | 'dirty';

/** How the device exports its display: decided once by probe (DMABUF first, then REGION). */
export type DisplayMode = 'unprobed' | 'dmabuf' | 'region' | 'none';

/** The counters every part of the display client adds to: one object, shared by reference. */
export class DisplayCounters {
  public refreshes = 0;
  /** Dirty-log scans that were not refreshes (dirty policy ticks). */
  public dirtyScans = 0;
  public queries = 0;
  public gets = 0;
  public fdsOpened = 0;
  public fdsClosed = 0;
  public cacheHits = 0;
  public cacheMisses = 0;
  public evictions = 0;
  /** Pixel bytes copied between guest memory and renderer input: 0 on the dma-buf path. */
  public bytesCopied = 0;
  public scanouts = 0;
  public updates = 0;
  public damageRects = 0;
  public dirtyPages = 0;
  public cursorDefines = 0;
  public cursorMoves = 0;
  /** QUERY/GET answers of -ENOMEM/-EAGAIN (and GET's -EMFILE), retried later. */
  public retries = 0;
  /** Other failures (each also reported as status 'device-error' when it concerns the primary). */
  public errors = 0;
}

/** A snapshot of the counters and of what runs (`VfioDisplay.stats`). */
export interface DisplayStats extends Readonly<DisplayCounters> {
  readonly mode: DisplayMode;
  readonly requestedPolicy: RefreshPolicy;
  /** What runs (after falling back, e.g. to `timer` when the device has no display IRQ). */
  readonly policy: RefreshPolicy;
  /** Why `policy` differs from `requestedPolicy` ('' when it does not). */
  readonly policyNote: string;
  readonly cacheEntries: number;
  /** Display IRQ wake-ups and the device events they carried. */
  readonly irqWakeups: number;
  readonly irqEvents: number;
}
