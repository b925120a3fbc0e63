import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { vncAuthCheck, vncAuthResponse, vncChallenge } from './VncAuth.ts';
import { negotiateVersion } from './Version.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('VNC authentication', () => {
  it('matches noVNC\'s test vectors', () => {
    const challenge = hex('00112233445566778899aabbccddeeff');
    assert.equal(Buffer.from(vncAuthResponse(text('password'), challenge)).toString('hex'), 'b7b9c87777661a7a2299733209bfdfce');
    assert.equal(Buffer.from(vncAuthResponse(text('pw'), challenge)).toString('hex'), '4d7a74da2480830e543b44ad841a6778');
  });

  it('checks a response in constant time and refuses a wrong one or a wrong length', () => {
    const c = vncChallenge();
    assert.equal(c.length, 16);
    const good = vncAuthResponse(text('secret'), c);
    assert.ok(vncAuthCheck(text('secret'), c, good));
    assert.ok(!vncAuthCheck(text('secret!'.slice(0, 5)), c, good));
    assert.ok(!vncAuthCheck(text('secret'), c, good.subarray(0, 15)));
    // Only the first 8 bytes of a password count, as in every VNC implementation.
    assert.ok(vncAuthCheck(text('12345678-ignored'), c, vncAuthResponse(text('12345678'), c)));
  });
});

describe('RFB version', () => {
  it('negotiates like TigerVNC\'s server', () => {
    const v = (s: string): ReturnType<typeof negotiateVersion> => negotiateVersion(text(s));
    assert.equal(v('RFB 003.008\n'), '3.8');
    assert.equal(v('RFB 003.889\n'), '3.8');
    assert.equal(v('RFB 003.007\n'), '3.7');
    assert.equal(v('RFB 003.003\n'), '3.3');
    assert.equal(v('RFB 003.005\n'), '3.3');
    for (const bad of ['RFB 004.000\n', 'RFB 003.008 ', 'GET / HTTP/1', '\0\0\0\0\0\0\0\0\0\0\0\0']) {
      const r = v(bad);
      assert.ok(typeof r === 'object' && r.error.length > 0, `${JSON.stringify(bad)} refused`);
    }
    const short = negotiateVersion(text('RFB 003.008'));
    assert.ok(typeof short === 'object' && /11 bytes/.test(short.error));
  });
});
