// Retake docs/lab.png: `npm start`'s lab (the CLI with its defaults, on a free port) in Debian's
// headless Chromium at 1400×900 — type `help` into the desktop's Terminal, start flip-demo with a
// click, open Stats and the Inspector, let the figures settle, and save the page.
// Usage: node --import tsx scripts/lab-screenshot.ts [out.png]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { launchChromium } from '../src/testkit/node/Chromium.ts';

const out = process.argv[2] ?? new URL('../docs/lab.png', import.meta.url).pathname;
const cli = new URL('../bin/vgpu-display.mjs', import.meta.url).pathname;
const lab = spawn(process.execPath, [cli, 'run', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise<string>((resolve, reject) => {
  const lines = createInterface({ input: lab.stdout! });
  lines.on('line', (l) => {
    const m = /open (http:\/\/\S+)/.exec(l);
    if (m) resolve(m[1]!);
  });
  lab.once('exit', (code) => reject(new Error(`the lab exited (${code}) before it served`)));
});
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(url);
  const state = (): Promise<{ primaryId: number | null; frameWidth: number; vm: string }> =>
    page.evaluate(() => (globalThis as unknown as { __vgpu: { state(): never } }).__vgpu.state());
  for (let i = 0; ; i++) {
    const s = await state();
    if (s.primaryId !== null && s.frameWidth > 0 && s.vm.startsWith('gvt')) break;
    if (i > 600) throw new Error(`no picture: ${JSON.stringify(s)}`);
    await page.waitForTimeout(100);
  }
  // Let the guest follow the viewer's size before clicking into its layout.
  await page.waitForTimeout(3000);
  const canvas = page.locator('canvas').first();
  const box = (await canvas.boundingBox())!;
  // The Terminal window sits top-left of the desktop, flip-demo in the middle (guest Scene layout).
  await page.mouse.click(box.x + box.width * 0.2, box.y + box.height * 0.25);
  await page.keyboard.type('help\n', { delay: 40 });
  await page.mouse.click(box.x + box.width * 0.5, box.y + box.height * 0.75);
  await page.getByRole('button', { name: 'Stats' }).click();
  await page.getByRole('button', { name: 'Inspector' }).click();
  await page.waitForTimeout(8000);
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  lab.kill('SIGINT');
  await once(lab, 'exit');
}
