/** Where the viewer keeps the access token for this tab (survives reloads, not other tabs). */
export const TOKEN_KEY = 'vgpu-display.token';

interface TokenPlaces {
  readonly href: string;
  readonly storage: Pick<Storage, 'getItem' | 'setItem'> | undefined;
  replaceUrl(url: string): void;
}

/**
 * The token the page was opened with (`?token=`), moved out of the address bar and history into
 * this tab's sessionStorage (never a cookie: browsers send a host's cookies to every one of its
 * ports). Without `?token=`, the one stored by an earlier load of this tab.
 */
export function takeToken(p: TokenPlaces): string | undefined {
  const url = new URL(p.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl === null) return p.storage?.getItem(TOKEN_KEY) ?? undefined;
  url.searchParams.delete('token');
  try {
    p.storage?.setItem(TOKEN_KEY, fromUrl);
  } catch {
    // Storage full or disabled: the token lives in memory for this page only.
  }
  p.replaceUrl(`${url.pathname}${url.search}${url.hash}`);
  return fromUrl;
}
