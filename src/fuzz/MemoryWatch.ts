import { PAGE_SIZE, type GuestMemory } from '../gpu/GuestMemory.ts';

/** A host-side access to some VM's memory that broke the isolation rules. */
export interface AccessViolation {
  /** The VM whose memory was touched. */
  readonly owner: string;
  /** The VM the host was acting for when it happened (undefined: no host operation running). */
  readonly actingFor: string | undefined;
  readonly firstPage: number;
  readonly pageCount: number;
  readonly how: 'pages' | 'view';
  readonly reason: string;
}

/**
 * Instruments VM memories for the fuzzers ("the test build"): every host-side read of a
 * GuestMemory goes through `pages()` (which calls `accessProbe`) or `view()` (wrapped here on the
 * instance). While the host acts for one VM (`actingFor`), touching any OTHER VM's memory, or a
 * range outside the memory, is recorded as a violation. The source is not modified: the probe is
 * GuestMemory's own hook and the wrapper is an instance property.
 */
export class MemoryWatch {
  /** The VM the host currently acts for; accesses to any other memory are violations. */
  public actingFor: string | undefined;
  public readonly violations: AccessViolation[] = [];
  /** Accesses seen per VM (for stats and for tests that the probe is live). */
  public readonly accesses = new Map<string, number>();
  private readonly _undo: Array<() => void> = [];

  public watch(name: string, memory: GuestMemory): void {
    const record = (first: number, count: number, how: 'pages' | 'view'): void => {
      this.accesses.set(name, (this.accesses.get(name) ?? 0) + 1);
      let reason = '';
      if (this.actingFor !== undefined && this.actingFor !== name) reason = `host acting for ${this.actingFor} touched ${name}`;
      else if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 0 || first + count > memory.pageCount) {
        reason = `range ${first}+${count} outside ${name}'s ${memory.pageCount} pages`;
      }
      if (reason) this.violations.push({ owner: name, actingFor: this.actingFor, firstPage: first, pageCount: count, how, reason });
    };
    const prevProbe = memory.accessProbe;
    memory.accessProbe = (first, count) => { record(first, count, 'pages'); prevProbe?.(first, count); };
    const origView = memory.view;
    memory.view = function view(this: GuestMemory, offset: number, length: number): Uint8Array {
      const first = Math.floor(offset / PAGE_SIZE);
      const end = Math.ceil((offset + Math.max(length, 0)) / PAGE_SIZE);
      record(first, Math.max(0, end - first), 'view');
      return origView.call(this, offset, length);
    };
    this._undo.push(() => {
      memory.accessProbe = prevProbe;
      memory.view = origView;
    });
  }

  /** Run `fn` with the host acting for `vm`. */
  public as<T>(vm: string, fn: () => T): T {
    const prev = this.actingFor;
    this.actingFor = vm;
    try {
      return fn();
    } finally {
      this.actingFor = prev;
    }
  }

  public dispose(): void {
    for (const u of this._undo.splice(0)) u();
  }
}
