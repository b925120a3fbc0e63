import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { ServerConfigError } from './ServerConfigError.ts';

/** True for 127.0.0.0/8, ::1 (also IPv4-mapped), and the name `localhost`. */
export function isLoopbackAddress(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h.startsWith('::ffff:')) h = h.slice(7);
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return new URL(`http://[${h}]/`).hostname === '[::1]';
  return false;
}

/** Split a Host header into name and port ('[::1]:8080' → ['::1', '8080']). */
export function splitHost(host: string): [string, string] {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return [h, ''];
    const rest = h.slice(end + 1);
    return [h.slice(1, end), rest.startsWith(':') ? rest.slice(1) : ''];
  }
  const colon = h.lastIndexOf(':');
  return colon < 0 ? [h, ''] : [h.slice(0, colon), h.slice(colon + 1)];
}

export interface AccessOptions {
  /** The address the server listens on. */
  readonly listen: string;
  /** Required from every client when set. */
  readonly token?: string;
  /** Extra origins allowed to open the WebSocket (e.g. a reverse proxy's https origin). */
  readonly allowedOrigins?: readonly string[];
  /** Extra Host header names accepted without a token (DNS names of this machine). */
  readonly allowedHosts?: readonly string[];
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * Who may talk to the lab server.
 *  - Token: required on a non-loopback listen address (refused at start without one), compared
 *    in constant time, taken from `?token=` or `Authorization: Bearer`. Never from a cookie:
 *    browsers send a host's cookies to every port of it, so another service there would get it.
 *  - Host header: without a token only loopback names and the listen address are served, so a
 *    DNS-rebinding page (evil.example resolving to 127.0.0.1) gets nothing.
 *  - Origin (WebSocket upgrade): must be this server's own origin as the Host header names it;
 *    a missing Origin is a non-browser client and is allowed (the token still applies).
 */
export class AccessPolicy {
  public readonly listen: string;
  private readonly _token: Buffer | undefined;
  private readonly _origins: ReadonlySet<string>;
  private readonly _hosts: ReadonlySet<string>;

  public constructor(o: AccessOptions) {
    this.listen = o.listen;
    if (o.token !== undefined && o.token.length === 0) throw new ServerConfigError('--token must not be empty');
    if (!isLoopbackAddress(o.listen) && o.token === undefined) {
      throw new ServerConfigError(`refusing to listen on non-loopback address ${o.listen} without --token ` +
        '(anyone who can reach it could watch and type into the VMs)');
    }
    this._token = o.token === undefined ? undefined : digest(o.token);
    this._origins = new Set((o.allowedOrigins ?? []).map((x) => x.toLowerCase().replace(/\/+$/, '')));
    const [listenName] = splitHost(o.listen.includes(':') && !o.listen.startsWith('[') ? `[${o.listen}]` : o.listen);
    this._hosts = new Set([listenName, ...(o.allowedHosts ?? []).map((h) => h.toLowerCase())]);
  }

  public get tokenRequired(): boolean {
    return this._token !== undefined;
  }

  /** Constant-time comparison (of digests, so the length does not leak either). */
  public tokenOk(presented: string | undefined): boolean {
    if (this._token === undefined) return true;
    if (presented === undefined) return false;
    return timingSafeEqual(digest(presented), this._token);
  }

  /** The token a request presents, and whether it came from the query string. */
  public tokenFrom(req: IncomingMessage, url: URL): { token: string | undefined; fromQuery: boolean } {
    const q = url.searchParams.get('token');
    if (q !== null) return { token: q, fromQuery: true };
    const auth = req.headers.authorization;
    if (auth !== undefined && /^bearer /i.test(auth)) return { token: auth.slice(7).trim(), fromQuery: false };
    return { token: undefined, fromQuery: false };
  }

  public hostOk(host: string | undefined): boolean {
    if (this._token !== undefined) return true;
    if (host === undefined || host.length === 0) return false;
    const [name] = splitHost(host);
    return isLoopbackAddress(name) || this._hosts.has(name);
  }

  public originOk(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined) return true;
    const o = origin.toLowerCase().replace(/\/+$/, '');
    if (this._origins.has(o)) return true;
    if (host === undefined) return false;
    const h = host.toLowerCase();
    return o === `http://${h}` || o === `https://${h}`;
  }
}
