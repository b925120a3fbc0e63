import { Disposable } from '../base/Disposable.ts';
import { Emitter } from '../base/Emitter.ts';
import type { CacheEntryInfo, DisplayStats, PlaneReply } from '../display/VfioDisplay.ts';
import type { DisplayConsole } from '../display/DisplayConsole.ts';

/**
 * What the server needs from a display: its console (events + latest state) and, for the
 * inspector, whatever of VfioDisplay's introspection it offers. A VfioDisplay fits as is.
 */
export interface DisplaySource {
  readonly console: DisplayConsole;
  readonly stats?: DisplayStats;
  cacheEntries?(): CacheEntryInfo[];
  planeInfo?(planeType: number): PlaneReply;
}

/** Pointer input from a viewer, already validated: buttons bit 0 left, 1 right, 2 middle. */
export type PointerInput =
  | { readonly kind: 'abs'; readonly x: number; readonly y: number; readonly buttons: number }
  | { readonly kind: 'rel'; readonly dx: number; readonly dy: number; readonly buttons: number };

/**
 * One VM a viewer can attach to. Input handlers are optional: a VM without `sendKey` is
 * view-only for keys (the viewer gets an ERROR saying so), and so on.
 */
export interface LabVm {
  /** The ATTACH key: 1..64 characters, unique in the registry. */
  readonly name: string;
  /** The vGPU kind ('gvt', 'bochs', 'region', 'real', ...), shown in the VM list. */
  readonly kind: string;
  readonly uuid?: string;
  /** One line for the VM list (type name, guest OS, ...). */
  readonly description?: string;
  readonly display: DisplaySource;
  /** Linux evdev key code (KEY_A = 30), pressed or released. */
  sendKey?(code: number, down: boolean): void;
  sendPointer?(input: PointerInput): void;
  /** The viewer's preferred mode; the guest may ignore it. */
  requestResize?(width: number, height: number): void;
  /** Its last viewer detached: restore what viewers changed (the mode before a resize). */
  lastViewerLeft?(): void;
}

/** The VM list entry in HELLO (and in the `vms` EVENT when the list changes). */
export interface VmSummary {
  readonly name: string;
  readonly kind: string;
  readonly uuid?: string;
  readonly description?: string;
  readonly width: number;
  readonly height: number;
  readonly status: string;
  readonly input: { readonly keys: boolean; readonly pointer: boolean; readonly resize: boolean };
}

export function summarize(vm: LabVm): VmSummary {
  const c = vm.display.console;
  return {
    name: vm.name, kind: vm.kind, uuid: vm.uuid, description: vm.description,
    width: c.size.width, height: c.size.height, status: c.status.reason,
    input: { keys: vm.sendKey !== undefined, pointer: vm.sendPointer !== undefined, resize: vm.requestResize !== undefined },
  };
}

const NAME = /^[\w.:@-]{1,64}$/u;

/**
 * The VMs the lab serves. The `run` command adds one per guest; removing a VM detaches its
 * viewers (they get STATUS VM_STOPPED and stay connected, free to ATTACH again).
 */
export class VmRegistry extends Disposable {
  private readonly _vms = new Map<string, LabVm>();
  private readonly _onAdd = this._register(new Emitter<LabVm>());
  public readonly onAdd = this._onAdd.event;
  private readonly _onRemove = this._register(new Emitter<LabVm>());
  public readonly onRemove = this._onRemove.event;

  public constructor(vms: readonly LabVm[] = []) {
    super();
    for (const vm of vms) this.add(vm);
  }

  /** Throws RangeError for a bad or duplicate name (configuration error). */
  public add(vm: LabVm): void {
    if (!NAME.test(vm.name)) throw new RangeError(`VM name '${vm.name}' must be 1..64 of [A-Za-z0-9_.:@-]`);
    if (this._vms.has(vm.name)) throw new RangeError(`a VM named '${vm.name}' is already registered`);
    this._vms.set(vm.name, vm);
    this._onAdd.fire(vm);
  }

  public remove(name: string): boolean {
    const vm = this._vms.get(name);
    if (vm === undefined) return false;
    this._vms.delete(name);
    this._onRemove.fire(vm);
    return true;
  }

  public get(name: string): LabVm | undefined {
    return this._vms.get(name);
  }

  public list(): LabVm[] {
    return [...this._vms.values()];
  }

  public get size(): number {
    return this._vms.size;
  }
}
