/** The ProtocolVersion exchange (RFC 6143 §7.1.1). */
export type RfbVersion = '3.3' | '3.7' | '3.8';

export const SERVER_VERSION = 'RFB 003.008\n';

/**
 * The version to speak for a client's 12-byte ProtocolVersion, as TigerVNC's server decides:
 * major 3 only; minor >= 8 is 3.8 (3.889 from Apple clients too), 7 is 3.7, anything lower 3.3.
 * Anything that is not `RFB xxx.yyy\n` is an error string.
 */
export function negotiateVersion(b: Uint8Array): RfbVersion | { readonly error: string } {
  if (b.length !== 12) return { error: `version message is ${b.length} bytes, not 12` };
  const s = String.fromCharCode(...b);
  const m = /^RFB (\d{3})\.(\d{3})\n$/.exec(s);
  if (!m) return { error: `not an RFB version: ${JSON.stringify(s.replace(/[^\x20-\x7e]/g, '?'))}` };
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major !== 3) return { error: `RFB ${major}.${minor} is not supported (3.x only)` };
  if (minor >= 8) return '3.8';
  if (minor === 7) return '3.7';
  return '3.3';
}
