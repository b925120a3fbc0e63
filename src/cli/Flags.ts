import { InvalidArgumentError } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';

/**
 * The one set of flag parsers of every command (commander argParsers). Each turns the flag's text
 * into its value or throws InvalidArgumentError; commander then prints
 * `error: option '--x <v>' argument 'v' is invalid. <message>` and the CLI exits 2 before the
 * command's action runs, so a bad flag binds no port, opens no device and boots no guest.
 * A bad combination of valid flags is reported from the action with `cmd.error(message)`, which
 * also exits 2 (src/cli/main.ts); any other error thrown by an action is a runtime failure: exit 1.
 */

/** An integer in min..max, written in decimal digits (no sign, exponent, fraction or spaces). */
export function integer(min: number, max: number): (v: string) => number {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
    }
    return n;
  };
}

/** A u32 in decimal or 0x hex (seeds). */
export function u32(v: string): number {
  const n = /^0x[0-9a-f]{1,8}$/i.test(v) ? Number.parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n > 0xffffffff) throw new InvalidArgumentError('expected a u32 (decimal or 0x hex)');
  return n;
}

/** One of `choices`, exactly. */
export function oneOf<T extends string>(choices: readonly T[]): (v: string) => T {
  return (v: string): T => {
    if (!(choices as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}`);
    return v as T;
  };
}

/**
 * A comma-separated list (entries trimmed, empty ones dropped), 1..max entries (0..max with
 * `allowEmpty`), each passed through `item` (which throws InvalidArgumentError for a bad entry).
 */
export function list<T = string>(
  opts: { max?: number; allowEmpty?: boolean; item?: (entry: string) => T } = {},
): (v: string) => T[] {
  const max = opts.max ?? 64;
  return (v: string): T[] => {
    const entries = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (entries.length > max || (entries.length === 0 && !opts.allowEmpty)) {
      throw new InvalidArgumentError(`expected a comma-separated list of ${opts.allowEmpty ? 0 : 1}..${max} entries`);
    }
    return entries.map((e) => (opts.item ? opts.item(e) : (e as T)));
  };
}

/** A list of name prefixes where every prefix must match at least one of `names` (a typo is an error). */
export function prefixes(names: readonly string[], what: string): (v: string) => string[] {
  return list({
    item: (p) => {
      if (!names.some((n) => n.startsWith(p))) throw new InvalidArgumentError(`'${p}' matches no ${what}`);
      return p;
    },
  });
}

/** A repeatable flag: every occurrence parsed by `item` and collected (default: []). */
export function repeatable<T = string>(item: (v: string) => T = (v) => v as T): (v: string, acc: T[]) => T[] {
  return (v: string, acc: T[]): T[] => [...acc, item(v)];
}

/** A display resolution `WIDTHxHEIGHT`, each 2..4 digits (e.g. 1024x768). */
export function resolution(v: string): { width: number; height: number } {
  const m = /^(\d{2,4})x(\d{2,4})$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected WIDTHxHEIGHT, e.g. 1024x768');
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** Any non-empty text (tokens, names). */
export function nonEmpty(v: string): string {
  if (v === '') throw new InvalidArgumentError('must not be empty');
  return v;
}

/** An address to listen on: an IPv4/IPv6 literal or `localhost`. */
export function listenAddress(v: string): string {
  if (v !== 'localhost' && isIP(v) === 0) throw new InvalidArgumentError('expected an IP address (e.g. 127.0.0.1, ::1, 0.0.0.0) or localhost');
  return v;
}

/** A file to write: its folder must exist (checked before the command does any work). */
export function outputFile(v: string): string {
  const dir = dirname(resolve(v));
  if (v === '' || !existsSync(dir) || !statSync(dir).isDirectory()) throw new InvalidArgumentError(`folder ${dir} does not exist`);
  if (existsSync(v) && statSync(v).isDirectory()) throw new InvalidArgumentError(`${v} is a folder`);
  return v;
}
