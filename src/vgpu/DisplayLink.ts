import { Emitter } from '../base/Emitter.ts';

/**
 * The display link between a vGPU and its (virtual) monitor: the EDID the monitor offers and
 * whether it is plugged in. The host side changes it through the VFIO EDID region; the guest
 * sees a hotplug (`onChange`) and re-reads the EDID to pick its preferred mode.
 */
export class DisplayLink {
  private _edid: Uint8Array | undefined;
  private _up = false;
  private readonly _onChange = new Emitter<void>();
  public readonly onChange = this._onChange.event;
  /** Hotplugs so far (the guest compares it to notice one it missed). */
  public generation = 0;

  public constructor(private readonly _forward?: (blob: Uint8Array | undefined, up: boolean) => void) {}

  public get edid(): Uint8Array | undefined {
    return this._up ? this._edid : undefined;
  }

  public get linkUp(): boolean {
    return this._up;
  }

  public setEdid(blob: Uint8Array | undefined, linkUp: boolean): void {
    this._edid = blob ? blob.slice() : undefined;
    this._up = linkUp;
    this.generation++;
    this._forward?.(this._edid, linkUp);
    this._onChange.fire();
  }
}
