import { createCipheriv, randomBytes, timingSafeEqual } from 'node:crypto';

/** VNC Authentication (security type 2, RFC 6143 §7.2.2): DES of a 16-byte challenge. */
export const VNC_CHALLENGE_BYTES = 16;

function reverseBits(b: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) r |= ((b >> i) & 1) << (7 - i);
  return r;
}

/**
 * The expected response to `challenge` for `password`. The key is the first 8 password bytes,
 * zero-padded, each byte bit-reversed (VNC takes the LSB as DES bit 1). Node 20's OpenSSL 3 has
 * no single DES, so DES-EDE3 with K||K||K stands in for it (the same cipher).
 */
export function vncAuthResponse(password: Uint8Array, challenge: Uint8Array): Uint8Array {
  const key = new Uint8Array(8);
  for (let i = 0; i < 8 && i < password.length; i++) key[i] = reverseBits(password[i]!);
  const k3 = new Uint8Array(24);
  k3.set(key, 0);
  k3.set(key, 8);
  k3.set(key, 16);
  const c = createCipheriv('des-ede3', k3, null);
  c.setAutoPadding(false);
  const out = Buffer.concat([c.update(challenge), c.final()]);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

export function vncChallenge(): Uint8Array {
  return new Uint8Array(randomBytes(VNC_CHALLENGE_BYTES));
}

/** Constant-time check of a client's response. */
export function vncAuthCheck(password: Uint8Array, challenge: Uint8Array, response: Uint8Array): boolean {
  const want = vncAuthResponse(password, challenge);
  return response.length === want.length && timingSafeEqual(response, want);
}
