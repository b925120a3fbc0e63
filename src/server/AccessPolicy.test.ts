import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccessPolicy, isLoopbackAddress, splitHost } from './AccessPolicy.ts';
import { assetsFrom, loadViewerAssets, placeholderAssets } from './StaticAssets.ts';

describe('AccessPolicy', () => {
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', 'localhost', 'LOCALHOST', 'a.localhost', '::ffff:127.0.0.1']) {
      assert.ok(isLoopbackAddress(h), h);
    }
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', 'localhost.example.com', '::2', '']) {
      assert.ok(!isLoopbackAddress(h), h);
    }
  });

  it('splits Host headers', () => {
    assert.deepEqual(splitHost('127.0.0.1:8080'), ['127.0.0.1', '8080']);
    assert.deepEqual(splitHost('[::1]:80'), ['::1', '80']);
    assert.deepEqual(splitHost('Example.com'), ['example.com', '']);
  });

  it('checks host names only when there is no token', () => {
    const open = new AccessPolicy({ listen: '127.0.0.1' });
    assert.ok(open.hostOk('127.0.0.1:8080'));
    assert.ok(open.hostOk('localhost:8080'));
    assert.ok(open.hostOk('[::1]:8080'));
    assert.ok(!open.hostOk('evil.example:8080'));
    assert.ok(!open.hostOk(undefined));
    const named = new AccessPolicy({ listen: '127.0.0.1', allowedHosts: ['lab.internal'] });
    assert.ok(named.hostOk('lab.internal:8080'));
    const locked = new AccessPolicy({ listen: '0.0.0.0', token: 'x' });
    assert.ok(locked.hostOk('anything.example:8080'));
  });

  it('accepts only its own origin (or a listed one) on the WebSocket', () => {
    const p = new AccessPolicy({ listen: '127.0.0.1', allowedOrigins: ['https://proxy.example/'] });
    assert.ok(p.originOk(undefined, '127.0.0.1:8080'), 'no Origin: not a browser');
    assert.ok(p.originOk('http://127.0.0.1:8080', '127.0.0.1:8080'));
    assert.ok(p.originOk('https://proxy.example', '127.0.0.1:8080'));
    assert.ok(!p.originOk('http://127.0.0.1:8081', '127.0.0.1:8080'));
    assert.ok(!p.originOk('http://evil.example', '127.0.0.1:8080'));
    assert.ok(!p.originOk('null', '127.0.0.1:8080'));
  });

  it('compares tokens exactly', () => {
    const p = new AccessPolicy({ listen: '127.0.0.1', token: 'abc' });
    assert.ok(p.tokenOk('abc'));
    for (const t of [undefined, '', 'ab', 'abcd', 'ABC']) assert.ok(!p.tokenOk(t), String(t));
    assert.ok(new AccessPolicy({ listen: '127.0.0.1' }).tokenOk(undefined));
  });
});

describe('StaticAssets', () => {
  it('accepts the usual build output shapes and drops unsafe names', () => {
    const a = assetsFrom({ 'index.html': '<p>x</p>', '/viewer.js': 'x()', 'viewer.css': new Uint8Array([65]), '../etc/passwd': 'no', '.env': 'no', 'a/b.js': 'no' });
    assert.deepEqual([...a.keys()].sort(), ['/', '/index.html', '/viewer.css', '/viewer.js']);
    assert.equal(a.get('/viewer.js')!.type, 'text/javascript; charset=utf-8');
    const b = assetsFrom({ html: '<p>y</p>', js: 'y()', css: 'p{}' });
    assert.deepEqual([...b.keys()].sort(), ['/', '/index.html', '/viewer.css', '/viewer.js']);
    const c = assetsFrom({ files: new Map([['index.html', 'z']]) });
    assert.ok(c.has('/'));
    assert.equal(assetsFrom(null).size, 0);
  });

  it('has a placeholder page that escapes its reason', () => {
    const p = placeholderAssets('<script>alert(1)</script>');
    const html = new TextDecoder().decode(p.get('/')!.body);
    assert.doesNotMatch(html, /<script>/);
    assert.match(html, /&#60;script&#62;/);
  });

  it('loads the web build when it exists, else serves the placeholder', async () => {
    const assets = await loadViewerAssets();
    const page = assets.get('/');
    assert.ok(page !== undefined, 'there is always an index page');
    assert.match(page.type, /^text\/html/);
  });
});
