/**
 * Debian's Chromium for the browser tests and the browser bench, driven by playwright-core (no
 * browser download). When /usr/bin/chromium is missing and we are root, it is installed with
 * apt-get; otherwise the caller fails with a message that says what to do.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Flags verified on this machine (docs: toolchain-notes §4). SwiftShader gives headless WebGL2. */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--enable-unsafe-swiftshader', '--use-angle=swiftshader', '--disable-gpu',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic',
];

/** The Chromium binary, installing it when possible. Throws with instructions otherwise. */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root) {
    throw new Error(`browser tests need Chromium at ${CHROMIUM}: run 'sudo apt-get install -y chromium' ` +
      '(Debian/Ubuntu) or run the tests as root so they can install it');
  }
  for (const args of [['update'], ['install', '-y', 'chromium']]) {
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (status ${r.status}); install chromium by hand`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is still missing`);
  return CHROMIUM;
}

/** Headless Chromium with CHROMIUM_ARGS plus `extraArgs` (e.g. --force-device-scale-factor=2). */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: ensureChromium(), headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}
