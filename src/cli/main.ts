import { Command, CommanderError } from 'commander';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `vgpu-display`: one command per file in ./commands, each exporting
 * `register(program: Command): void`. Bad flags exit 2 with a message; failures exit 1.
 */
const program = new Command('vgpu-display')
  .description('vGPU display export: emulated mediated vGPUs, the VFIO display ABI, and a display client that shows guest planes without copying pixels')
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
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    console.error(`vgpu-display: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
