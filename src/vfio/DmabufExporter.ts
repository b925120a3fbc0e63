import { Errno } from '../base/Errno.ts';
import type { GuestMemory } from '../gpu/GuestMemory.ts';
import type { DecodedPlane } from '../vgpu/Plane.ts';
import { DmabufFile } from './DmabufFile.ts';
import { DmabufObject } from './DmabufObject.ts';

export interface DmabufExporterOptions {
  memory: GuestMemory;
  /**
   * Identity of a buffer: equal keys share a dmabuf_id (GVT: start, gpa, size, fmt, mod, w, h).
   * A function of start, size, drmFormat, modifier, width, height, stride and pages only: the
   * exporter reuses a key when all of those are the same (pages: the same array).
   */
  keyOf: (plane: DecodedPlane) => string;
  /** Errno for GET of an unknown id: GVT -EINVAL, mbochs -ENOENT. */
  unknownIdErrno: number;
  /**
   * Keep an object listed after its last dma-buf closes (mbochs keeps one buffer per mode until
   * device close, so returning to a mode returns its old id); GVT frees it (the id goes stale).
   */
  retainReleased: boolean;
  /** Bound on listed objects nobody has exported (B16: a guest must not grow host memory). */
  maxUnexported?: number;
  /** Map-time page resolution for new objects (gvt: through the GGTT again, B5). */
  resolvePages?: (plane: DecodedPlane) => Uint32Array | null;
  /** First id handed out (tests start near the u32 limit to exercise -ENOSPC, B9). */
  firstId?: number;
}

/** Planes whose keys `_keyOf` remembers (triple-buffered primary, cursor, sprite). */
const KEY_MEMO = 8;

/**
 * The device-side dma-buf cache (spec §2.3–2.6): QUERY finds or creates a buffer object for the
 * decoded plane and returns its id; GET makes a NEW dma-buf file for a listed id every time (two
 * GETs = two independent references, B13). Ids are monotonic and never reused while the device
 * lives (B17). On device close, unexported objects are freed and exported ones become orphans.
 */
export class DmabufExporter {
  private readonly _byKey = new Map<string, DmabufObject>();
  /** `_keyOf`'s memo: planes and their keys, a ring of KEY_MEMO slots. */
  private readonly _memoPlanes: Array<DecodedPlane | undefined> = new Array<DecodedPlane | undefined>(KEY_MEMO).fill(undefined);
  private readonly _memoKeys: string[] = new Array<string>(KEY_MEMO).fill('');
  private _memoNext = 0;
  private readonly _byId = new Map<number, DmabufObject>();
  private _nextId = 1;
  private _tick = 0;
  private _orphans = 0;
  private readonly _maxUnexported: number;
  /** Objects evicted by the B16 bound (counter for tests and stats). */
  public evictions = 0;

  public constructor(private readonly _opts: DmabufExporterOptions) {
    this._maxUnexported = _opts.maxUnexported ?? 64;
    this._nextId = _opts.firstId ?? 1;
  }

  /** Listed objects (the device cache). */
  public get listedCount(): number {
    return this._byId.size;
  }

  /** Exported objects whose device is gone but whose dma-bufs are still open. */
  public get orphanCount(): number {
    return this._orphans;
  }

  public lookup(id: number): DmabufObject | undefined {
    return this._byId.get(id);
  }

  /** QUERY: the id for this plane, creating an object on a miss. Never fails except -ENOSPC. */
  public query(plane: DecodedPlane): number {
    const key = this._keyOf(plane);
    let obj = this._byKey.get(key);
    if (obj && !samePages(obj.pages, plane.pages)) obj = undefined;
    if (obj) {
      obj.plane = plane; // outputs (stride, pos, hot) come from the fresh decode
      obj.initref = true;
    } else {
      if (this._nextId > 0xffff_ffff) return -Errno.ENOSPC;
      this._evictIfNeeded();
      obj = new DmabufObject(this._nextId++, key, plane, this._opts.memory);
      const resolve = this._opts.resolvePages;
      if (resolve) { const o = obj; o.resolvePages = () => resolve(o.plane); }
      this._byKey.set(key, obj); // replaces a hash-colliding entry, which stays listed by id
      this._byId.set(obj.id, obj);
    }
    obj.lastUsed = ++this._tick;
    return obj.id;
  }

  /**
   * GET, first half: a new dma-buf file for `id`, not yet counted. The caller installs it in an fd
   * table and then calls `commit` — publishing the fd is the last step (B15), and a failed install
   * (EMFILE) leaves the object exactly as it was (B7).
   */
  public prepareExport(id: number): DmabufFile | number {
    const obj = this._byId.get(id);
    if (!obj) return -this._opts.unknownIdErrno;
    return new DmabufFile(obj, (f) => this._released(f));
  }

  public commit(file: DmabufFile): void {
    file.object.exports++;
    file.object.initref = false;
    file.object.lastUsed = ++this._tick;
  }

  /** Device close / vGPU destroy: free what nobody holds, orphan what is exported. */
  public cleanup(): void {
    for (const obj of this._byId.values()) {
      if (obj.exports > 0) {
        obj.state = 'orphan';
        this._orphans++;
      } else {
        obj.state = 'freed';
      }
    }
    this._byId.clear();
    this._byKey.clear();
  }

  private _released(file: DmabufFile): void {
    const obj = file.object;
    // A file that was never committed (its install failed) holds no reference.
    if (obj.exports === 0) return;
    obj.exports--;
    if (obj.exports > 0) return;
    if (obj.state === 'orphan') {
      // Final close of an orphan: free it without touching device state.
      obj.state = 'freed';
      this._orphans--;
      return;
    }
    if (!obj.initref && !this._opts.retainReleased) this._unlist(obj);
  }

  private _unlist(obj: DmabufObject): void {
    obj.state = 'freed';
    this._byId.delete(obj.id);
    if (this._byKey.get(obj.key) === obj) this._byKey.delete(obj.key);
  }

  /**
   * keyOf, remembered for the last few planes: a guest flipping between its buffers decodes the
   * same few planes again and again, and building the key string was most of a QUERY's cost.
   * Every field a key may use is compared (pages by array: the GGTT hands out the same one while
   * the VM's mappings are unchanged), so a remembered key is the key keyOf would build.
   */
  private _keyOf(p: DecodedPlane): string {
    const planes = this._memoPlanes;
    for (let i = 0; i < KEY_MEMO; i++) {
      const q = planes[i];
      if (q !== undefined && q.pages === p.pages && q.start === p.start && q.size === p.size &&
          q.drmFormat === p.drmFormat && q.modifier === p.modifier && q.width === p.width && q.height === p.height &&
          q.stride === p.stride) {
        return this._memoKeys[i]!;
      }
    }
    const key = this._opts.keyOf(p);
    planes[this._memoNext] = p;
    this._memoKeys[this._memoNext] = key;
    this._memoNext = (this._memoNext + 1) % KEY_MEMO;
    return key;
  }

  private _evictIfNeeded(): void {
    let unexported = 0;
    for (const o of this._byId.values()) if (o.exports === 0) unexported++;
    while (unexported >= this._maxUnexported) {
      let victim: DmabufObject | undefined;
      for (const o of this._byId.values()) {
        if (o.exports === 0 && (!victim || o.lastUsed < victim.lastUsed)) victim = o;
      }
      if (!victim) return;
      this._unlist(victim);
      this.evictions++;
      unexported--;
    }
  }
}

function samePages(a: Uint32Array, b: Uint32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
