import { spawnSync } from 'node:child_process';

/** Debian packages (dpkg names) that are not installed. */
export function missingPackages(names: readonly string[]): string[] {
  return names.filter((n) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', n], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
}

/**
 * Install what tests need from Debian's archive when it is missing (CI runs as root on a fresh
 * machine; `.ci/run` installs the same list up front). Waits for a dpkg lock another installer
 * holds. Throws with instructions when it cannot.
 */
export function ensurePackages(names: readonly string[]): void {
  const missing = missingPackages(names);
  if (missing.length === 0) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root) throw new Error(`tests need Debian packages ${missing.join(' ')}: run 'sudo apt-get install -y ${missing.join(' ')}'`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  for (const args of [[...lock, 'update', '-q'], [...lock, 'install', '-y', '-q', '--no-install-recommends', ...missing]]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (status ${r.status})`);
  }
  const still = missingPackages(missing);
  if (still.length > 0) throw new Error(`apt-get did not install ${still.join(' ')}`);
}
