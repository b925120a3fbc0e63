import { PROMPT } from '../guest/os/Shell.ts';
import { PlaneType } from '../kms/PlaneType.ts';
import type { GuestVm } from './GuestVm.ts';

export const SCENARIOS = ['boot', 'desktop', 'fbcon-tty2', 'software'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ScenarioResult {
  readonly scenario: ScenarioName;
  /** Vblanks the scenario took. */
  readonly vblanks: number;
  /** dmabuf_id of the console (fbcon) buffer, as the host first saw it. */
  readonly fbconId: number;
  /** software: frames the guest drew and flips it latched while the host watched. */
  readonly framesWatched?: number;
  readonly flipsWatched?: number;
  readonly writesWatched?: number;
}

export function isScenario(s: string): s is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(s);
}

const PROMPT_TEXT = PROMPT.trimEnd();

/**
 * Drive a booted-or-not VM through a scenario until its content condition holds on the plane the
 * host exports (vblanks paced one by one, every condition read through QUERY and the dma-buf):
 *  - boot: the fbcon prompt is on screen;
 *  - desktop: `startx`, the session is on the primary plane (and the pointer mid-screen);
 *  - fbcon-tty2: Ctrl+Alt+F2, tty2's banner and prompt are on screen;
 *  - software: `startx --sw` animated, the content changes with no flip and no register write.
 * Rejects when a condition is not reached within `maxSteps` vblanks per stage.
 */
export async function runScenario(g: GuestVm, name: ScenarioName, maxSteps = 2000): Promise<ScenarioResult> {
  let vblanks = 0;
  const until = async (pred: () => boolean, what: string): Promise<void> => {
    vblanks += await g.stepUntil(pred, what, maxSteps);
  };
  const id = (type: number = PlaneType.PRIMARY): number => g.query(type).info.dmabufId;
  const screenHas = (s: string): boolean => g.screenText().some((l) => l.includes(s));
  const lastLine = (): string => g.screenText().filter((l) => l !== '').at(-1) ?? '';
  const typeLine = async (text: string): Promise<void> => {
    g.vm.typeText(text);
    await g.step(1);
    vblanks++;
  };

  if (g.vm.state === 'created') await g.boot();
  await until(() => lastLine() === PROMPT_TEXT, 'the prompt');
  const fbconId = id();
  switch (name) {
    case 'boot':
      return { scenario: name, vblanks, fbconId };
    case 'fbcon-tty2':
      g.vm.switchVt(2);
      await until(() => g.status.activeVt === 2 && screenHas('tty2') && lastLine() === PROMPT_TEXT, 'tty2');
      return { scenario: name, vblanks, fbconId };
    case 'desktop': {
      await typeLine('startx\n');
      await until(() => g.status.activeVt === 7 && id() !== fbconId && id() !== 0, 'the session');
      // The pointer a little up-left of the centre, so the cursor sits on the desktop.
      g.vm.sendPointer({ x: 0x3000, y: 0x3000 });
      const hasCursor = g.vgpu.kind === 'gvt';
      await until(() => !hasCursor || g.query(PlaneType.CURSOR).info.xPos > 0, 'the cursor moved');
      await g.step(2);
      return { scenario: name, vblanks: vblanks + 2, fbconId };
    }
    case 'software': {
      await typeLine('startx --sw\n');
      await until(() => g.status.activeVt === 7 && id() !== fbconId && id() !== 0, 'the session');
      // Animate it: `flip-demo` from tty1 switches back to tty7 with the animation on.
      g.vm.switchVt(1);
      await until(() => g.status.activeVt === 1 && id() === fbconId, 'tty1');
      await typeLine('flip-demo\n');
      await until(() => g.status.activeVt === 7 && g.status.animating && id() !== fbconId, 'the animation');
      await g.step(1);
      const before = g.status;
      await until(() => g.status.framesRendered >= before.framesRendered + 20, 'frames drawn in place');
      const after = g.status;
      return {
        scenario: name, vblanks: vblanks + 1, fbconId,
        framesWatched: after.framesRendered - before.framesRendered,
        flipsWatched: after.flips - before.flips,
        writesWatched: after.writesApplied - before.writesApplied,
      };
    }
  }
}
