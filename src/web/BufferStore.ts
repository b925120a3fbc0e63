import type { ServerMessage, Msg } from '../protocol/RemoteProtocol.ts';

/**
 * One remote buffer: the client's mirror of one dma-buf of the VMM's cache, holding the guest's
 * raw bytes (format and tiling untouched). Renderers upload and decode from `bytes`.
 */
export interface RemoteBuffer {
  readonly id: number;
  readonly drmFormat: number;
  readonly modifier: bigint;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  /** Bytes of guest data (the dma-buf size). */
  readonly size: number;
  /**
   * The mirror: `size` bytes of data, zero-padded to a whole number of STORE_ROW_BYTES, so a
   * renderer can upload whole rows of a 4096-word-wide texture without bounds checks.
   */
  readonly bytes: Uint8Array;
  /** performance.now() at BUFFER_CREATE. */
  readonly createdAt: number;
  /** Bytes received through BUFFER_DATA (re-sends count again). */
  bytesReceived: number;
  /** How many times it was scanned out, and when last. */
  scanouts: number;
  lastScanoutAt: number | undefined;
}

export type BufferCreate = Extract<ServerMessage, { type: Msg.BUFFER_CREATE }>;

export const enum StoreLimits {
  /** Bytes per row of the raw texture (4096 RGBA8UI texels); mirrors are padded to it. */
  ROW_BYTES = 16384,
  /** One buffer: 8192 rows of ROW_BYTES (the smallest MAX_TEXTURE_SIZE we accept). */
  MAX_BUFFER_BYTES = 128 * 1024 * 1024,
  /** All buffers together: a hostile server must not exhaust the tab's memory. */
  MAX_TOTAL_BYTES = 512 * 1024 * 1024,
  MAX_BUFFERS = 64,
  MAX_DIMENSION = 16384,
}

/** A written byte range [lo, hi) of a buffer. */
export interface BufferWrite {
  readonly buffer: RemoteBuffer;
  readonly lo: number;
  readonly hi: number;
}

/**
 * The per-connection mirror of the dma-buf cache, keyed by the server's buffer id. Every input is
 * untrusted: methods return an error string instead of throwing, and nothing changes on error.
 */
export class BufferStore {
  private readonly _buffers = new Map<number, RemoteBuffer>();
  private _total = 0;

  public constructor(private readonly _now: () => number) {}

  public get size(): number {
    return this._buffers.size;
  }

  /** Bytes allocated for mirrors. */
  public get totalBytes(): number {
    return this._total;
  }

  public get(id: number): RemoteBuffer | undefined {
    return this._buffers.get(id);
  }

  public list(): RemoteBuffer[] {
    return [...this._buffers.values()];
  }

  /**
   * BUFFER_CREATE. An id that exists is replaced (its old mirror is returned as `replaced`, so
   * the renderer can free it).
   */
  public create(m: BufferCreate): { buffer: RemoteBuffer; replaced: RemoteBuffer | undefined } | string {
    const { id, width, height, stride, size } = m;
    if (width < 1 || height < 1 || width > StoreLimits.MAX_DIMENSION || height > StoreLimits.MAX_DIMENSION) {
      return `BUFFER_CREATE ${id}: bad size ${width}x${height}`;
    }
    if (stride < 1 || size < 1 || size > StoreLimits.MAX_BUFFER_BYTES) {
      return `BUFFER_CREATE ${id}: bad stride ${stride} or size ${size}`;
    }
    const old = this._buffers.get(id);
    if (old === undefined && this._buffers.size >= StoreLimits.MAX_BUFFERS) {
      return `BUFFER_CREATE ${id}: more than ${StoreLimits.MAX_BUFFERS} buffers`;
    }
    const alloc = Math.ceil(size / StoreLimits.ROW_BYTES) * StoreLimits.ROW_BYTES;
    if (this._total - (old?.bytes.length ?? 0) + alloc > StoreLimits.MAX_TOTAL_BYTES) {
      return `BUFFER_CREATE ${id}: buffers would exceed ${StoreLimits.MAX_TOTAL_BYTES} bytes`;
    }
    const buffer: RemoteBuffer = {
      id, drmFormat: m.drmFormat, modifier: m.modifier, width, height, stride, size,
      bytes: new Uint8Array(alloc), createdAt: this._now(), bytesReceived: 0, scanouts: 0,
      lastScanoutAt: undefined,
    };
    if (old !== undefined) this._total -= old.bytes.length;
    this._total += alloc;
    this._buffers.set(id, buffer);
    return { buffer, replaced: old };
  }

  /** BUFFER_DATA: copy `data` to `offset`. */
  public write(id: number, offset: number, data: Uint8Array): BufferWrite | string {
    const b = this._buffers.get(id);
    if (b === undefined) return `BUFFER_DATA for unknown buffer ${id}`;
    if (offset + data.byteLength > b.size) {
      return `BUFFER_DATA ${id}: bytes ${offset}..${offset + data.byteLength} beyond size ${b.size}`;
    }
    b.bytes.set(data, offset);
    b.bytesReceived += data.byteLength;
    return { buffer: b, lo: offset, hi: offset + data.byteLength };
  }

  /** BUFFER_RELEASE: the removed buffer, or undefined for an unknown id. */
  public release(id: number): RemoteBuffer | undefined {
    const b = this._buffers.get(id);
    if (b === undefined) return undefined;
    this._buffers.delete(id);
    this._total -= b.bytes.length;
    return b;
  }

  public clear(): void {
    this._buffers.clear();
    this._total = 0;
  }
}
