import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TOKEN_KEY, takeToken } from './TokenStore.ts';

function places(href: string, stored?: string): { href: string; storage: Map<string, string> & Pick<Storage, 'getItem' | 'setItem'>; urls: string[]; replaceUrl(u: string): void } {
  const m = new Map<string, string>() as Map<string, string> & Pick<Storage, 'getItem' | 'setItem'>;
  m.getItem = (k: string) => m.get(k) ?? null;
  m.setItem = (k: string, v: string) => { m.set(k, v); };
  if (stored !== undefined) m.set(TOKEN_KEY, stored);
  const urls: string[] = [];
  return { href, storage: m, urls, replaceUrl: (u) => urls.push(u) };
}

describe('takeToken', () => {
  it('moves ?token= from the address bar into sessionStorage, keeping the other settings', () => {
    const p = places('http://127.0.0.1:8080/?vm=a&token=s%20cret&scale=fit#x');
    assert.equal(takeToken(p), 's cret');
    assert.deepEqual(p.urls, ['/?vm=a&scale=fit#x']);
    assert.equal(p.storage.get(TOKEN_KEY), 's cret');
  });

  it('after a reload (no ?token=) the stored one is used and the URL is left alone', () => {
    const p = places('http://127.0.0.1:8080/?vm=a', 'old');
    assert.equal(takeToken(p), 'old');
    assert.deepEqual(p.urls, []);
    assert.equal(takeToken(places('http://127.0.0.1:8080/')), undefined);
  });
});
