import type { Rect } from './Surface.ts';

export function rect(x: number, y: number, w: number, h: number): Rect {
  return { x: Math.floor(x), y: Math.floor(y), w: Math.max(0, Math.ceil(w)), h: Math.max(0, Math.ceil(h)) };
}

export function isEmpty(r: Rect | undefined): boolean {
  return !r || r.w <= 0 || r.h <= 0;
}

/** Bounding box of two rectangles (either may be undefined or empty). */
export function union(a: Rect | undefined, b: Rect | undefined): Rect | undefined {
  if (isEmpty(a)) return isEmpty(b) ? undefined : b;
  if (isEmpty(b)) return a;
  const x = Math.min(a!.x, b!.x);
  const y = Math.min(a!.y, b!.y);
  return { x, y, w: Math.max(a!.x + a!.w, b!.x + b!.w) - x, h: Math.max(a!.y + a!.h, b!.y + b!.h) - y };
}

export function intersects(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

export function contains(r: Rect, x: number, y: number): boolean {
  return x >= r.x && y >= r.y && x < r.x + r.w && y < r.y + r.h;
}

/** Most rectangles a damage list keeps before collapsing to their bounding box. */
export const MAX_DAMAGE_RECTS = 8;

/**
 * Add `r` to a damage list: rectangles that overlap are merged, and a list that grows past
 * MAX_DAMAGE_RECTS collapses into one bounding box. Returns the (new) list.
 */
export function addDamage(list: readonly Rect[], r: Rect | undefined): Rect[] {
  if (isEmpty(r)) return list.slice();
  let cur = r!;
  let rest = list.slice();
  for (let merged = true; merged;) {
    merged = false;
    for (let i = 0; i < rest.length; i++) {
      if (intersects(rest[i]!, cur)) {
        cur = union(rest[i], cur)!;
        rest.splice(i, 1);
        merged = true;
        break;
      }
    }
  }
  rest.push(cur);
  if (rest.length > MAX_DAMAGE_RECTS) rest = [rest.reduce<Rect | undefined>((a, b) => union(a, b), undefined)!];
  return rest;
}
