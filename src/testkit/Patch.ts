/**
 * Temporarily replace a method on a prototype (fault injection for the fuzzers' self-tests: each
 * oracle must catch the bug it exists for). Restores the exact previous state, even on throw.
 */
export function withPatch<R>(
  target: object, key: string, make: (orig: (...args: never[]) => unknown) => (...args: never[]) => unknown, fn: () => R,
): R {
  const t = target as Record<string, unknown>;
  const own = Object.getOwnPropertyDescriptor(target, key);
  const orig = t[key] as (...args: never[]) => unknown;
  Object.defineProperty(target, key, { value: make(orig), writable: true, configurable: true });
  try {
    return fn();
  } finally {
    if (own) Object.defineProperty(target, key, own);
    else delete t[key];
  }
}
