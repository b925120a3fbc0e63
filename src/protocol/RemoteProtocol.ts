/**
 * The remote display protocol between the lab server and the browser viewer: versioned binary
 * WebSocket messages, little-endian. It mirrors the VMM's dma-buf cache on each client — one
 * remote buffer per dmabuf_id, filled with raw guest bytes (formats and tiling are converted in
 * the viewer's shaders) — so a page flip between buffers the client already holds is one 17-byte
 * SCANOUT message. Isomorphic: used by src/server (Node) and src/web (browser).
 *
 * Version 2 (from 1): SCANOUT carries the flip's sequence number and the host time of the vblank
 * that latched it; PING/PONG let the viewer estimate the host clock's offset per connection, so it
 * can measure flip → present. Host times are ms since the epoch with a fraction
 * (`performance.timeOrigin + performance.now()` on both sides). PRESENTED (a client message added
 * within version 2) tells the server which flip the viewer last presented: it paces flips by it.
 *
 * Every message starts with a u8 type. Server → client types are < 0x80, client → server ≥ 0x80.
 */
export const PROTOCOL_MAGIC = 0x44504756; // 'VGPD'
export const PROTOCOL_VERSION = 2;
/** The largest message either side accepts (a BUFFER_DATA chunk is at most this minus 9). */
export const MAX_MESSAGE = 1 << 20;

export const enum Msg {
  // server → client
  HELLO = 0x01,
  BUFFER_CREATE = 0x10,
  BUFFER_DATA = 0x11,
  BUFFER_RELEASE = 0x12,
  SCANOUT = 0x13,
  CURSOR_DEFINE = 0x14,
  CURSOR_MOVE = 0x15,
  FRAME = 0x16,
  STATUS = 0x20,
  STATS = 0x21,
  EVENT = 0x22,
  PONG = 0x23,
  ERROR = 0x7f,
  // client → server
  ATTACH = 0x81,
  KEY = 0x82,
  POINTER_REL = 0x83,
  POINTER_ABS = 0x84,
  RESIZE = 0x85,
  ACK = 0x86,
  PING = 0x87,
  PRESENTED = 0x88,
}

/** Why nothing (or something stale) shows; the viewer prints a sentence for each. */
export const enum StatusCode {
  OK = 0,
  CONNECTING = 1,
  NO_PLANE_YET = 2,
  PLANE_DISABLED = 3,
  UNSUPPORTED_FORMAT = 4,
  UNSUPPORTED_MODIFIER = 5,
  DEVICE_ERROR = 6,
  VM_STOPPED = 7,
  DISCONNECTED = 8,
}

export type ServerMessage =
  | { type: Msg.HELLO; version: number; info: unknown }
  | { type: Msg.BUFFER_CREATE; id: number; drmFormat: number; modifier: bigint; width: number; height: number; stride: number; size: number }
  | { type: Msg.BUFFER_DATA; id: number; offset: number; bytes: Uint8Array }
  | { type: Msg.BUFFER_RELEASE; id: number }
  /** `flipSeq`: the VM's flip counter (gaps are flips this client never saw); `vblankMs`: 0 = unknown. */
  | { type: Msg.SCANOUT; id: number; flipSeq: number; vblankMs: number }
  | { type: Msg.CURSOR_DEFINE; id: number; hotX: number; hotY: number }
  | { type: Msg.CURSOR_MOVE; x: number; y: number }
  | { type: Msg.FRAME; seq: number; rects: Rect[] }
  | { type: Msg.STATUS; code: StatusCode; text: string }
  | { type: Msg.STATS; stats: unknown }
  | { type: Msg.EVENT; event: unknown }
  | { type: Msg.PONG; seq: number; clientMs: number; serverMs: number }
  | { type: Msg.ERROR; code: number; text: string };

export type ClientMessage =
  | { type: Msg.ATTACH; vm: string }
  | { type: Msg.KEY; code: number; down: boolean }
  | { type: Msg.POINTER_REL; dx: number; dy: number; buttons: number }
  | { type: Msg.POINTER_ABS; x: number; y: number; buttons: number }
  | { type: Msg.RESIZE; width: number; height: number }
  | { type: Msg.ACK; seq: number }
  | { type: Msg.PING; seq: number; clientMs: number }
  /** The viewer presented flip `flipSeq` (and so is done with every flip before it). */
  | { type: Msg.PRESENTED; flipSeq: number };

export interface Rect { x: number; y: number; width: number; height: number }

/** A decoding failure: the message is refused with this reason and nothing else changes. */
export interface ProtocolError { error: string }

export function isProtocolError(x: unknown): x is ProtocolError {
  return typeof x === 'object' && x !== null && 'error' in x;
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

function msg(type: number, size: number): { bytes: Uint8Array; v: DataView } {
  const bytes = new Uint8Array(1 + size);
  bytes[0] = type;
  return { bytes, v: new DataView(bytes.buffer) };
}

function withText(type: number, head: number, text: string): { bytes: Uint8Array; v: DataView } {
  const t = enc.encode(text);
  const m = msg(type, head + t.byteLength);
  m.bytes.set(t, 1 + head);
  return m;
}

// ---- server → client encoders ----------------------------------------------------------------

export function encodeHello(info: unknown): Uint8Array {
  const { bytes, v } = withText(Msg.HELLO, 8, JSON.stringify(info));
  v.setUint32(1, PROTOCOL_MAGIC, true);
  v.setUint16(5, PROTOCOL_VERSION, true);
  return bytes;
}

export function encodeBufferCreate(b: { id: number; drmFormat: number; modifier: bigint; width: number; height: number; stride: number; size: number }): Uint8Array {
  const { bytes, v } = msg(Msg.BUFFER_CREATE, 32);
  v.setUint32(1, b.id, true);
  v.setUint32(5, b.drmFormat, true);
  v.setBigUint64(9, b.modifier, true);
  v.setUint32(17, b.width, true);
  v.setUint32(21, b.height, true);
  v.setUint32(25, b.stride, true);
  v.setUint32(29, b.size, true);
  return bytes;
}

/** Header for BUFFER_DATA; the caller appends `length` raw bytes (see encodeBufferData). */
export const BUFFER_DATA_HEADER = 9;

export function encodeBufferData(id: number, offset: number, data: Uint8Array): Uint8Array {
  const { bytes, v } = msg(Msg.BUFFER_DATA, 8 + data.byteLength);
  v.setUint32(1, id, true);
  v.setUint32(5, offset, true);
  bytes.set(data, BUFFER_DATA_HEADER);
  return bytes;
}

export function encodeId(type: Msg.BUFFER_RELEASE, id: number): Uint8Array {
  const { bytes, v } = msg(type, 4);
  v.setUint32(1, id, true);
  return bytes;
}

/** SCANOUT: show buffer `id`; flip `flipSeq` latched at host time `vblankMs` (0: unknown). */
export function encodeScanout(id: number, flipSeq: number, vblankMs: number): Uint8Array {
  const { bytes, v } = msg(Msg.SCANOUT, 16);
  v.setUint32(1, id, true);
  v.setUint32(5, flipSeq >>> 0, true);
  v.setFloat64(9, vblankMs, true);
  return bytes;
}

/** The answer to PING: the client's time echoed, and the host time when it was answered. */
export function encodePong(seq: number, clientMs: number, serverMs: number): Uint8Array {
  const { bytes, v } = msg(Msg.PONG, 20);
  v.setUint32(1, seq >>> 0, true);
  v.setFloat64(5, clientMs, true);
  v.setFloat64(13, serverMs, true);
  return bytes;
}

export function encodeCursorDefine(id: number, hotX: number, hotY: number): Uint8Array {
  const { bytes, v } = msg(Msg.CURSOR_DEFINE, 12);
  v.setUint32(1, id, true);
  v.setUint32(5, hotX >>> 0, true);
  v.setUint32(9, hotY >>> 0, true);
  return bytes;
}

/** Positions are signed: a cursor may hang off the top/left edge. */
export function encodeCursorMove(x: number, y: number): Uint8Array {
  const { bytes, v } = msg(Msg.CURSOR_MOVE, 8);
  v.setInt32(1, x, true);
  v.setInt32(5, y, true);
  return bytes;
}

export function encodeFrame(seq: number, rects: readonly Rect[]): Uint8Array {
  const n = Math.min(rects.length, 0xffff);
  const { bytes, v } = msg(Msg.FRAME, 6 + n * 8);
  v.setUint32(1, seq, true);
  v.setUint16(5, n, true);
  for (let i = 0; i < n; i++) {
    const r = rects[i]!;
    const o = 7 + i * 8;
    v.setUint16(o, r.x, true);
    v.setUint16(o + 2, r.y, true);
    v.setUint16(o + 4, r.width, true);
    v.setUint16(o + 6, r.height, true);
  }
  return bytes;
}

export function encodeStatus(code: StatusCode, text: string): Uint8Array {
  const { bytes } = withText(Msg.STATUS, 1, text);
  bytes[1] = code;
  return bytes;
}

export function encodeJson(type: Msg.STATS | Msg.EVENT, value: unknown): Uint8Array {
  return withText(type, 0, JSON.stringify(value)).bytes;
}

export function encodeError(code: number, text: string): Uint8Array {
  const { bytes, v } = withText(Msg.ERROR, 2, text);
  v.setUint16(1, code, true);
  return bytes;
}

// ---- client → server encoders ----------------------------------------------------------------

export function encodeAttach(vm: string): Uint8Array {
  return withText(Msg.ATTACH, 0, vm).bytes;
}

export function encodeKey(code: number, down: boolean): Uint8Array {
  const { bytes, v } = msg(Msg.KEY, 3);
  v.setUint16(1, code, true);
  bytes[3] = down ? 1 : 0;
  return bytes;
}

export function encodePointerRel(dx: number, dy: number, buttons: number): Uint8Array {
  const { bytes, v } = msg(Msg.POINTER_REL, 5);
  v.setInt16(1, dx, true);
  v.setInt16(3, dy, true);
  bytes[5] = buttons;
  return bytes;
}

export function encodePointerAbs(x: number, y: number, buttons: number): Uint8Array {
  const { bytes, v } = msg(Msg.POINTER_ABS, 5);
  v.setUint16(1, x, true);
  v.setUint16(3, y, true);
  bytes[5] = buttons;
  return bytes;
}

export function encodeResize(width: number, height: number): Uint8Array {
  const { bytes, v } = msg(Msg.RESIZE, 4);
  v.setUint16(1, width, true);
  v.setUint16(3, height, true);
  return bytes;
}

export function encodeAck(seq: number): Uint8Array {
  const { bytes, v } = msg(Msg.ACK, 4);
  v.setUint32(1, seq, true);
  return bytes;
}

/**
 * The frame showing flip `flipSeq` (a SCANOUT's number) reached the screen. A viewer that sends it
 * is paced: the server holds a further flip while two are unpresented, so a viewer slower than
 * the guest drops flips instead of queueing them.
 */
export function encodePresented(flipSeq: number): Uint8Array {
  const { bytes, v } = msg(Msg.PRESENTED, 4);
  v.setUint32(1, flipSeq >>> 0, true);
  return bytes;
}

/** A clock probe: the server answers PONG at once (NTP-style offset estimate in the viewer). */
export function encodePing(seq: number, clientMs: number): Uint8Array {
  const { bytes, v } = msg(Msg.PING, 12);
  v.setUint32(1, seq >>> 0, true);
  v.setFloat64(5, clientMs, true);
  return bytes;
}

// ---- decoders (validate everything; never throw) -------------------------------------------

function need(b: Uint8Array, n: number, name: string): ProtocolError | undefined {
  return b.byteLength === n ? undefined : { error: `${name}: expected ${n} bytes, got ${b.byteLength}` };
}

function text(b: Uint8Array, from: number): string | ProtocolError {
  try {
    return dec.decode(b.subarray(from));
  } catch {
    return { error: 'invalid UTF-8' };
  }
}

function json(b: Uint8Array, from: number): unknown {
  const t = text(b, from);
  if (typeof t !== 'string') return t;
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return { error: 'invalid JSON' };
  }
}

/** Decode a client → server message (the server's input: untrusted). */
export function decodeClientMessage(data: Uint8Array): ClientMessage | ProtocolError {
  if (data.byteLength === 0) return { error: 'empty message' };
  if (data.byteLength > 4096) return { error: `client message of ${data.byteLength} bytes exceeds 4096` };
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (data[0]) {
    case Msg.ATTACH: {
      const vm = text(data, 1);
      if (typeof vm !== 'string') return vm;
      if (vm.length === 0 || vm.length > 64) return { error: 'ATTACH: vm name must be 1..64 characters' };
      return { type: Msg.ATTACH, vm };
    }
    case Msg.KEY: {
      const e = need(data, 4, 'KEY');
      if (e) return e;
      const code = v.getUint16(1, true);
      if (code === 0 || code > 0x2ff) return { error: `KEY: code ${code} is not an evdev key code` };
      if (data[3]! > 1) return { error: 'KEY: state must be 0 or 1' };
      return { type: Msg.KEY, code, down: data[3] === 1 };
    }
    case Msg.POINTER_REL: {
      const e = need(data, 6, 'POINTER_REL');
      if (e) return e;
      return { type: Msg.POINTER_REL, dx: v.getInt16(1, true), dy: v.getInt16(3, true), buttons: data[5]! & 7 };
    }
    case Msg.POINTER_ABS: {
      const e = need(data, 6, 'POINTER_ABS');
      if (e) return e;
      return { type: Msg.POINTER_ABS, x: v.getUint16(1, true), y: v.getUint16(3, true), buttons: data[5]! & 7 };
    }
    case Msg.RESIZE: {
      const e = need(data, 5, 'RESIZE');
      if (e) return e;
      const width = v.getUint16(1, true);
      const height = v.getUint16(3, true);
      if (width < 64 || height < 64) return { error: `RESIZE: ${width}x${height} below 64x64` };
      return { type: Msg.RESIZE, width, height };
    }
    case Msg.ACK: {
      const e = need(data, 5, 'ACK');
      if (e) return e;
      return { type: Msg.ACK, seq: v.getUint32(1, true) };
    }
    case Msg.PING: {
      const e = need(data, 13, 'PING');
      if (e) return e;
      const clientMs = v.getFloat64(5, true);
      if (!Number.isFinite(clientMs)) return { error: 'PING: time is not a finite number' };
      return { type: Msg.PING, seq: v.getUint32(1, true), clientMs };
    }
    case Msg.PRESENTED: {
      const e = need(data, 5, 'PRESENTED');
      if (e) return e;
      return { type: Msg.PRESENTED, flipSeq: v.getUint32(1, true) };
    }
    default:
      return { error: `unknown message type 0x${data[0]!.toString(16)}` };
  }
}

/** Decode a server → client message (the viewer's input). */
export function decodeServerMessage(data: Uint8Array): ServerMessage | ProtocolError {
  if (data.byteLength === 0) return { error: 'empty message' };
  if (data.byteLength > MAX_MESSAGE) return { error: 'message too large' };
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (data[0]) {
    case Msg.HELLO: {
      if (data.byteLength < 9) return { error: 'HELLO: short' };
      if (v.getUint32(1, true) !== PROTOCOL_MAGIC) return { error: 'HELLO: bad magic' };
      const version = v.getUint16(5, true);
      if (version !== PROTOCOL_VERSION) return { error: `HELLO: protocol version ${version}, expected ${PROTOCOL_VERSION}` };
      const info = json(data, 9);
      if (isProtocolError(info)) return info;
      return { type: Msg.HELLO, version, info };
    }
    case Msg.BUFFER_CREATE: {
      const e = need(data, 33, 'BUFFER_CREATE');
      if (e) return e;
      return {
        type: Msg.BUFFER_CREATE, id: v.getUint32(1, true), drmFormat: v.getUint32(5, true),
        modifier: v.getBigUint64(9, true), width: v.getUint32(17, true), height: v.getUint32(21, true),
        stride: v.getUint32(25, true), size: v.getUint32(29, true),
      };
    }
    case Msg.BUFFER_DATA:
      if (data.byteLength < BUFFER_DATA_HEADER) return { error: 'BUFFER_DATA: short' };
      return { type: Msg.BUFFER_DATA, id: v.getUint32(1, true), offset: v.getUint32(5, true), bytes: data.subarray(BUFFER_DATA_HEADER) };
    case Msg.BUFFER_RELEASE: {
      const e = need(data, 5, 'BUFFER_RELEASE');
      if (e) return e;
      return { type: Msg.BUFFER_RELEASE, id: v.getUint32(1, true) };
    }
    case Msg.SCANOUT: {
      const e = need(data, 17, 'SCANOUT');
      if (e) return e;
      const vblankMs = v.getFloat64(9, true);
      if (!Number.isFinite(vblankMs) || vblankMs < 0) return { error: 'SCANOUT: vblank time is not a time' };
      return { type: Msg.SCANOUT, id: v.getUint32(1, true), flipSeq: v.getUint32(5, true), vblankMs };
    }
    case Msg.PONG: {
      const e = need(data, 21, 'PONG');
      if (e) return e;
      const clientMs = v.getFloat64(5, true);
      const serverMs = v.getFloat64(13, true);
      if (!Number.isFinite(clientMs) || !Number.isFinite(serverMs)) return { error: 'PONG: times are not finite numbers' };
      return { type: Msg.PONG, seq: v.getUint32(1, true), clientMs, serverMs };
    }
    case Msg.CURSOR_DEFINE: {
      const e = need(data, 13, 'CURSOR_DEFINE');
      if (e) return e;
      return { type: Msg.CURSOR_DEFINE, id: v.getUint32(1, true), hotX: v.getUint32(5, true), hotY: v.getUint32(9, true) };
    }
    case Msg.CURSOR_MOVE: {
      const e = need(data, 9, 'CURSOR_MOVE');
      if (e) return e;
      return { type: Msg.CURSOR_MOVE, x: v.getInt32(1, true), y: v.getInt32(5, true) };
    }
    case Msg.FRAME: {
      if (data.byteLength < 7) return { error: 'FRAME: short' };
      const n = v.getUint16(5, true);
      if (data.byteLength !== 7 + n * 8) return { error: 'FRAME: rect count does not match length' };
      const rects: Rect[] = [];
      for (let i = 0; i < n; i++) {
        const o = 7 + i * 8;
        rects.push({ x: v.getUint16(o, true), y: v.getUint16(o + 2, true), width: v.getUint16(o + 4, true), height: v.getUint16(o + 6, true) });
      }
      return { type: Msg.FRAME, seq: v.getUint32(1, true), rects };
    }
    case Msg.STATUS: {
      if (data.byteLength < 2) return { error: 'STATUS: short' };
      const t = text(data, 2);
      if (typeof t !== 'string') return t;
      return { type: Msg.STATUS, code: data[1] as StatusCode, text: t };
    }
    case Msg.STATS:
    case Msg.EVENT: {
      const value = json(data, 1);
      if (isProtocolError(value)) return value;
      return data[0] === Msg.STATS ? { type: Msg.STATS, stats: value } : { type: Msg.EVENT, event: value };
    }
    case Msg.ERROR: {
      if (data.byteLength < 3) return { error: 'ERROR: short' };
      const t = text(data, 3);
      if (typeof t !== 'string') return t;
      return { type: Msg.ERROR, code: v.getUint16(1, true), text: t };
    }
    default:
      return { error: `unknown message type 0x${data[0]!.toString(16)}` };
  }
}
