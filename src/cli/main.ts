import { Command, CommanderError } from 'commander';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `vgpu-display`: one command per file in ./commands, each exporting
 * `register(program: Command): void`. Exit codes, for every command: 0 success; 2 a usage error
 * (a bad flag value from the parsers in ../cli/Flags.ts, an unknown command or option, a missing
 * flag, or a bad flag combination reported with `cmd.error()`), before anything started; 1 a
 * runtime failure (any other error thrown by an action, or an action's own exitCode 1).
 */
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

/**
 * The package's version: src/cli/main.ts and dist/cli/main.js sit two folders below package.json;
 * a copy compiled elsewhere (test/kernel's .cache/kernel-js) finds it further up.
 */
function packageVersion(): string {
  for (let url = new URL('../../package.json', import.meta.url); ;) {
    try {
      const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vgpu-display' && pkg.version) return pkg.version;
    } catch {
      // Not here: look one folder up.
    }
    const up = new URL('../package.json', url);
    if (up.href === url.href) return 'unknown';
    url = up;
  }
}

const program = new Command('vgpu-display')
  .description('vGPU display export: emulated mediated vGPUs, the VFIO display ABI, and a display client that shows guest planes without copying pixels')
  .version(packageVersion(), '-V, --version', 'print the package version')
  .showHelpAfterError()
  .exitOverride();

const dir = fileURLToPath(new URL('./commands/', import.meta.url));
// Command modules only: `x.ts` from the sources, `x.js` compiled (not `x.test.ts`, not `x.d.ts`).
const files = readdirSync(dir).filter((f) => /^[^.]+\.(ts|js)$/.test(f)).sort();
for (const f of files) {
  const mod = (await import(new URL(`./commands/${f}`, import.meta.url).href)) as { register?: (p: Command) => void };
  mod.register?.(program);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and --version exit 0; every other commander error is a usage error.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    console.error(`vgpu-display: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = EXIT_FAILURE;
  }
}
