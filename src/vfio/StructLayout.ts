/**
 * Field tables for the fixed-layout UAPI structs. One table per struct drives decoding, encoding
 * and the ABI test (which compiles a C program against <linux/vfio.h> and compares every offset
 * and size with the table), so the three can never disagree. All UAPI structs are little-endian
 * on every architecture we care about.
 */
export type FieldType = 'u8' | 'u16' | 'u32' | 'u64';

export const FIELD_SIZE: Readonly<Record<FieldType, number>> = { u8: 1, u16: 2, u32: 4, u64: 8 };

export interface Field {
  readonly offset: number;
  readonly type: FieldType;
  /** The member as C's offsetof() names it: 'dmabuf_id', or 'header.id' for a nested struct. */
  readonly c: string;
  /** Missing from older headers (a field added later at the tail): the ABI test checks sizeof. */
  readonly optional?: boolean;
  /** Another name for the same bytes (a C union member): reads fill it, writes skip it. */
  readonly alias?: boolean;
  /** A C flexible array member: its bytes run from `offset` to argsz; not read or written here. */
  readonly flex?: boolean;
}

export type Fields = Readonly<Record<string, Field>>;

export interface Layout<F extends Fields = Fields> {
  /** The C type, e.g. 'struct vfio_region_info'. */
  readonly c: string;
  /** sizeof() in the current UAPI. */
  readonly size: number;
  readonly fields: F;
}

/** The decoded form of a layout: u64 fields are bigint, the rest numbers; flex members omitted. */
export type Values<F extends Fields> = {
  -readonly [K in keyof F as F[K] extends { readonly flex: true } ? never : K]:
    F[K]['type'] extends 'u64' ? bigint : number;
};

export function defineLayout<const F extends Fields>(c: string, size: number, fields: F): Layout<F> {
  return { c, size, fields };
}

export function fieldEnd(f: Field): number {
  return f.offset + FIELD_SIZE[f.type];
}

/** A DataView over exactly the bytes of `bytes` (which may be a slice of a SharedArrayBuffer). */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The leading `argsz` of an in/out struct (0 when the buffer cannot even hold it). */
export function readArgsz(bytes: Uint8Array): number {
  return bytes.byteLength >= 4 ? viewOf(bytes).getUint32(0, true) : 0;
}

export function getField(view: DataView, f: Field): number | bigint {
  switch (f.type) {
    case 'u8': return view.getUint8(f.offset);
    case 'u16': return view.getUint16(f.offset, true);
    case 'u32': return view.getUint32(f.offset, true);
    case 'u64': return view.getBigUint64(f.offset, true);
  }
}

/** Stores `v` truncated to the field's width (two's complement for negatives, like C). */
export function setField(view: DataView, f: Field, v: number | bigint): void {
  if (f.type === 'u64') {
    const big = typeof v === 'bigint' ? v : Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
    view.setBigUint64(f.offset, BigInt.asUintN(64, big), true);
    return;
  }
  // ToUint32 is modular, so -1 becomes 0xFFFFFFFF; the narrower types mask that.
  const u32 = typeof v === 'bigint' ? Number(BigInt.asUintN(32, v)) : v >>> 0;
  if (f.type === 'u32') view.setUint32(f.offset, u32, true);
  else if (f.type === 'u16') view.setUint16(f.offset, u32 & 0xffff, true);
  else view.setUint8(f.offset, u32 & 0xff);
}

/**
 * Decode every non-flex field. A field that does not fit in `bytes` (a short caller buffer, e.g.
 * a 16-byte vfio_device_info) decodes as 0.
 */
export function readLayout<F extends Fields>(layout: Layout<F>, bytes: Uint8Array): Values<F> {
  const view = viewOf(bytes);
  const out: Record<string, number | bigint> = {};
  for (const [name, f] of Object.entries(layout.fields)) {
    if (f.flex) continue;
    if (fieldEnd(f) <= bytes.byteLength) out[name] = getField(view, f);
    else out[name] = f.type === 'u64' ? 0n : 0;
  }
  return out as Values<F>;
}

/**
 * Encode the given fields; absent ones, aliases and fields that do not fit are left untouched.
 * Returns the number of fields written.
 */
export function writeLayout<F extends Fields>(
  layout: Layout<F>, bytes: Uint8Array, values: Partial<Values<F>>,
): number {
  const view = viewOf(bytes);
  const vals = values as Record<string, number | bigint | undefined>;
  let n = 0;
  for (const [name, f] of Object.entries(layout.fields)) {
    const v = vals[name];
    if (v === undefined || f.alias || f.flex || fieldEnd(f) > bytes.byteLength) continue;
    setField(view, f, v);
    n++;
  }
  return n;
}
