import { PIXEL_FORMAT_BYTES, decodePixelFormat, type PixelFormat } from './PixelFormat.ts';

/** Client-to-server messages of RFB 3.8 (RFC 6143 §7.5) and the extensions this server takes. */
export type ClientMessage =
  | { readonly type: 'set-pixel-format'; readonly format: PixelFormat }
  | { readonly type: 'set-encodings'; readonly encodings: Int32Array }
  | { readonly type: 'update-request'; readonly incremental: boolean; readonly x: number; readonly y: number; readonly w: number; readonly h: number }
  | { readonly type: 'key'; readonly down: boolean; readonly keysym: number }
  | { readonly type: 'pointer'; readonly mask: number; readonly x: number; readonly y: number }
  | { readonly type: 'cut-text'; readonly length: number }
  | { readonly type: 'continuous-updates'; readonly enable: boolean; readonly x: number; readonly y: number; readonly w: number; readonly h: number }
  | { readonly type: 'fence'; readonly flags: number; readonly payload: Uint8Array }
  | { readonly type: 'xvp'; readonly version: number; readonly code: number }
  | { readonly type: 'set-desktop-size'; readonly width: number; readonly height: number; readonly screens: readonly Screen[] }
  | { readonly type: 'qemu-key'; readonly down: boolean; readonly keysym: number; readonly keycode: number }
  | { readonly type: 'qemu-audio'; readonly op: number };

export interface Screen {
  readonly id: number;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  readonly flags: number;
}

export type ParseResult =
  | { readonly kind: 'message'; readonly message: ClientMessage; readonly size: number }
  | { readonly kind: 'need-more' }
  | { readonly kind: 'error'; readonly reason: string };

/** Limits on what a client may send in one message (the rest of the protocol is fixed-size). */
export interface MessageLimits {
  /** ClientCutText bytes; longer text closes the client. QEMU's limit is 1 MiB. */
  readonly maxCutText: number;
}

export const DEFAULT_MESSAGE_LIMITS: MessageLimits = { maxCutText: 1 << 20 };

const NEED_MORE: ParseResult = { kind: 'need-more' };

function error(reason: string): ParseResult {
  return { kind: 'error', reason };
}

/**
 * Parse one client message from `b[at..end)`. Never throws: a message that is not complete yet is
 * 'need-more', an unknown type or an out-of-range field is an 'error' with a reason (the caller
 * closes that client and changes nothing else). `extendedMouse`: the client's PointerEvents carry
 * an extra byte when bit 7 of the mask is set (after the -316 ack).
 */
export function parseClientMessage(b: Uint8Array, at: number, end: number, extendedMouse = false,
  limits: MessageLimits = DEFAULT_MESSAGE_LIMITS): ParseResult {
  const avail = end - at;
  if (avail < 1) return NEED_MORE;
  const v = new DataView(b.buffer, b.byteOffset + at, avail);
  const type = b[at]!;
  const msg = (message: ClientMessage, size: number): ParseResult => ({ kind: 'message', message, size });
  switch (type) {
    case 0: {
      if (avail < 4 + PIXEL_FORMAT_BYTES) return NEED_MORE;
      return msg({ type: 'set-pixel-format', format: decodePixelFormat(b, at + 4) }, 4 + PIXEL_FORMAT_BYTES);
    }
    case 2: {
      if (avail < 4) return NEED_MORE;
      const n = v.getUint16(2);
      if (avail < 4 + 4 * n) return NEED_MORE;
      const encodings = new Int32Array(n);
      for (let i = 0; i < n; i++) encodings[i] = v.getInt32(4 + 4 * i);
      return msg({ type: 'set-encodings', encodings }, 4 + 4 * n);
    }
    case 3: {
      if (avail < 10) return NEED_MORE;
      return msg({
        type: 'update-request', incremental: v.getUint8(1) !== 0,
        x: v.getUint16(2), y: v.getUint16(4), w: v.getUint16(6), h: v.getUint16(8),
      }, 10);
    }
    case 4: {
      if (avail < 8) return NEED_MORE;
      return msg({ type: 'key', down: v.getUint8(1) !== 0, keysym: v.getUint32(4) }, 8);
    }
    case 5: {
      if (avail < 6) return NEED_MORE;
      const mask = v.getUint8(1);
      const extra = extendedMouse && (mask & 0x80) !== 0 ? 1 : 0;
      if (avail < 6 + extra) return NEED_MORE;
      const ext = extra ? v.getUint8(6) : 0;
      // Bits 0-6 as sent; the extended byte's back/forward buttons become bits 7 and 8.
      const full = extra ? (mask & 0x7f) | ((ext & 3) << 7) : mask;
      return msg({ type: 'pointer', mask: full, x: v.getUint16(2), y: v.getUint16(4) }, 6 + extra);
    }
    case 6: {
      if (avail < 8) return NEED_MORE;
      const len = Math.abs(v.getInt32(4));
      if (len > limits.maxCutText) return error(`ClientCutText of ${len} bytes exceeds ${limits.maxCutText}`);
      if (avail < 8 + len) return NEED_MORE;
      return msg({ type: 'cut-text', length: len }, 8 + len);
    }
    case 150: {
      if (avail < 10) return NEED_MORE;
      return msg({
        type: 'continuous-updates', enable: v.getUint8(1) !== 0,
        x: v.getUint16(2), y: v.getUint16(4), w: v.getUint16(6), h: v.getUint16(8),
      }, 10);
    }
    case 248: {
      if (avail < 9) return NEED_MORE;
      const len = v.getUint8(8);
      if (len > 64) return error(`Fence payload of ${len} bytes exceeds 64`);
      if (avail < 9 + len) return NEED_MORE;
      return msg({ type: 'fence', flags: v.getUint32(4), payload: b.slice(at + 9, at + 9 + len) }, 9 + len);
    }
    case 250: {
      if (avail < 4) return NEED_MORE;
      return msg({ type: 'xvp', version: v.getUint8(2), code: v.getUint8(3) }, 4);
    }
    case 251: {
      if (avail < 8) return NEED_MORE;
      const n = v.getUint8(6);
      if (n === 0) return error('SetDesktopSize with no screens');
      if (avail < 8 + 16 * n) return NEED_MORE;
      const screens: Screen[] = [];
      for (let i = 0; i < n; i++) {
        const o = 8 + 16 * i;
        screens.push({
          id: v.getUint32(o), x: v.getUint16(o + 4), y: v.getUint16(o + 6),
          w: v.getUint16(o + 8), h: v.getUint16(o + 10), flags: v.getUint32(o + 12),
        });
      }
      return msg({ type: 'set-desktop-size', width: v.getUint16(2), height: v.getUint16(4), screens }, 8 + 16 * n);
    }
    case 255: {
      if (avail < 2) return NEED_MORE;
      const sub = v.getUint8(1);
      if (sub === 0) {
        if (avail < 12) return NEED_MORE;
        return msg({ type: 'qemu-key', down: v.getUint16(2) !== 0, keysym: v.getUint32(4), keycode: v.getUint32(8) }, 12);
      }
      if (sub === 1) {
        if (avail < 4) return NEED_MORE;
        const op = v.getUint16(2);
        if (op === 0 || op === 1) return msg({ type: 'qemu-audio', op }, 4);
        if (op === 2) {
          if (avail < 10) return NEED_MORE;
          return msg({ type: 'qemu-audio', op }, 10);
        }
        return error(`QEMU audio operation ${op} is unknown`);
      }
      return error(`QEMU client message subtype ${sub} is unknown`);
    }
    default:
      return error(`client message type ${type} is unknown`);
  }
}
