import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';

/**
 * VeNCrypt (RFB security type 19): a sub-negotiation of version 0.2 and a U32 subtype, then — for
 * the TLS subtypes — a TLS handshake on the same socket, and RFB carries on inside TLS. The wire
 * follows QEMU's ui/vnc-auth-vencrypt.c, which libvncclient, gtk-vnc and TigerVNC talk to:
 *   S: U8 0, U8 2            C: U8 major, U8 minor
 *   S: U8 0 (ok) / 1 (bad version, then close)
 *   S: U8 n, n × U32 subtype C: U32 subtype
 *   S: U8 1 (ok) / 0 (not offered, then close)   — then the TLS handshake
 * After TLS, X509None sends the SecurityResult (U32 0) and X509Vnc runs VNC Authentication.
 */
export const SECURITY_VENCRYPT = 19;

export const VENCRYPT_PLAIN = 256;
export const VENCRYPT_TLS_NONE = 257;
export const VENCRYPT_TLS_VNC = 258;
export const VENCRYPT_TLS_PLAIN = 259;
export const VENCRYPT_X509_NONE = 260;
export const VENCRYPT_X509_VNC = 261;
export const VENCRYPT_X509_PLAIN = 262;

const NAMES: Readonly<Record<number, string>> = {
  [VENCRYPT_PLAIN]: 'Plain', [VENCRYPT_TLS_NONE]: 'TLSNone', [VENCRYPT_TLS_VNC]: 'TLSVnc',
  [VENCRYPT_TLS_PLAIN]: 'TLSPlain', [VENCRYPT_X509_NONE]: 'X509None', [VENCRYPT_X509_VNC]: 'X509Vnc',
  [VENCRYPT_X509_PLAIN]: 'X509Plain',
};

export function vencryptSubtypeName(subtype: number): string {
  return NAMES[subtype] ?? `subtype ${subtype}`;
}

/** The server's VeNCrypt configuration: its certificate, and the VNC password if one is set. */
export interface VeNCryptConfig {
  readonly context: SecureContext;
  readonly password?: Uint8Array;
}

/**
 * The one subtype offered. With a password only X509Vnc: offering X509None next to it would let
 * any client skip the password. Anonymous TLS (TLSNone/TLSVnc) is never offered: its anonymous
 * Diffie-Hellman suites need OpenSSL's security level 0 and TLS 1.2, and prove nothing about the
 * server (see SECURITY.md §6).
 */
export function vencryptSubtypes(c: VeNCryptConfig): readonly number[] {
  return c.password === undefined ? [VENCRYPT_X509_NONE] : [VENCRYPT_X509_VNC];
}

/** The server's first message: version 0.2. */
export const VENCRYPT_VERSION = Uint8Array.of(0, 2);

/** The reply to the client's version: accept (and the subtype list) or refuse with a reason. */
export function vencryptVersionReply(clientVersion: Uint8Array, subtypes: readonly number[]): { readonly reply: Uint8Array; readonly error?: string } {
  if (clientVersion[0] !== 0 || clientVersion[1] !== 2) {
    return { reply: Uint8Array.of(1), error: `VeNCrypt version ${clientVersion[0]}.${clientVersion[1]} is not supported (0.2 only)` };
  }
  const out = new Uint8Array(2 + 4 * subtypes.length);
  const v = new DataView(out.buffer);
  out[1] = subtypes.length;
  subtypes.forEach((s, i) => v.setUint32(2 + 4 * i, s));
  return { reply: out };
}

/** The reply to the client's chosen subtype: U8 1 and go on to TLS, or U8 0 and close. */
export function vencryptSubtypeReply(chosen: Uint8Array, subtypes: readonly number[]): { readonly reply: Uint8Array; readonly subtype?: number; readonly error?: string } {
  const s = new DataView(chosen.buffer, chosen.byteOffset, 4).getUint32(0);
  if (!subtypes.includes(s)) {
    return { reply: Uint8Array.of(0), error: `VeNCrypt ${vencryptSubtypeName(s)} was not offered (offered: ${subtypes.map(vencryptSubtypeName).join(', ')})` };
  }
  return { reply: Uint8Array.of(1), subtype: s };
}

export interface TlsUpgrade {
  /** The socket RFB continues on (writes before the handshake ends are queued by TLS). */
  readonly socket: TLSSocket;
  /** Stop the handshake timer and any further report (the connection is closing anyway). */
  cancel(): void;
}

/**
 * Start the server side of TLS on a TCP socket that has spoken plain RFB so far. `pending` are
 * bytes the client sent after its subtype (the start of its ClientHello if it did not wait for the
 * ack): they are handed to TLS first. The caller must have removed its own 'data' listener.
 * `secure` runs once the handshake is done; `failed` once, with a reason, on a TLS error or when
 * the handshake has not finished within `timeoutMs` (a client that stalls holds nothing longer).
 */
export function startServerTls(raw: Socket, context: SecureContext, pending: Uint8Array, timeoutMs: number,
  secure: () => void, failed: (reason: string) => void): TlsUpgrade {
  // Paused, so that the pending bytes wait in the socket's buffer (flowing with no 'data'
  // listener would drop them) until TLSSocket reads them out on its first tick.
  raw.pause();
  if (pending.length > 0) raw.unshift(Buffer.from(pending));
  const socket = new TLSSocket(raw, { isServer: true, secureContext: context });
  // `settled`: the handshake ended (secure, failed or timed out); later errors still close.
  let settled = false;
  let cancelled = false;
  const timer = setTimeout(() => {
    if (settled || cancelled) return;
    settled = true;
    failed(`TLS handshake not finished within ${timeoutMs} ms`);
  }, timeoutMs);
  timer.unref?.();
  socket.once('secure', () => {
    if (settled || cancelled) return;
    settled = true;
    clearTimeout(timer);
    secure();
  });
  socket.on('error', (err: Error) => {
    clearTimeout(timer);
    settled = true;
    if (!cancelled) failed(`TLS: ${err.message}`);
  });
  return { socket, cancel: () => { cancelled = true; clearTimeout(timer); } };
}
