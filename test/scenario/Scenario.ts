// Helpers for the scenario tests: whole VMs (a guest worker driving an emulated vGPU), observed
// from the host's VFIO side. Tests pace vblanks themselves (`step`) and wait on content or counts.
import assert from 'node:assert/strict';
import { PlaneType } from '../../src/kms/PlaneType.ts';
import { PROMPT } from '../../src/guest/os/Shell.ts';
import { GuestVm, type GuestVmKind, type GuestVmOptions } from '../../src/lab/GuestVm.ts';
import type { EmulatedHost } from '../../src/vfio/EmulatedHost.ts';
import type { PlaneInfo } from '../../src/vfio/PlaneInfo.ts';

export const PROMPT_TEXT = PROMPT.trimEnd();
export const KINDS: readonly GuestVmKind[] = ['gvt', 'bochs'];

/** A VM with a small monitor (fast to draw), disposed by the test's `after`. */
export function newVm(host: EmulatedHost, kind: GuestVmKind, opts: Partial<GuestVmOptions> = {}): GuestVm {
  return GuestVm.create({ host, kind, monitor: { width: 800, height: 600 }, ...opts });
}

/** Step vblanks until `pred` holds (checked before each step); fails after `max` steps. */
export function stepUntil(g: GuestVm, pred: () => boolean, what: string, max = 1000): Promise<number> {
  return g.stepUntil(pred, what, max);
}

export function screenHas(g: GuestVm, text: string): boolean {
  return g.screenText().some((l) => l.includes(text));
}

/** Boot and step until the prompt is on the exported primary plane. */
export async function bootToPrompt(g: GuestVm): Promise<string[]> {
  await g.boot();
  await stepUntil(g, () => lastLine(g) === PROMPT_TEXT, 'prompt on screen', 200);
  return g.screenText();
}

export function lastLine(g: GuestVm): string {
  return g.screenText().filter((l) => l !== '').at(-1) ?? '';
}

/** QUERY the primary plane on the VMM's fd; asserts success and an enabled plane. */
export function primary(g: GuestVm, type: number = PlaneType.PRIMARY): PlaneInfo {
  const { rc, info } = g.query(type);
  assert.equal(rc, 0, `${g.name}: QUERY plane ${type}`);
  assert.ok(info.dmabufId !== 0 && info.drmFormat !== 0, `${g.name}: plane ${type} enabled`);
  return info;
}

/**
 * The plane as QUERY answers it right now, or undefined while there is none. For wait
 * predicates: a mode set blanks the plane for a moment (bochs disables DISPI while it writes the
 * geometry) and the host applies the guest's writes as they arrive, so a predicate must not
 * assert on that transient state; `primary()` asserts once the awaited state is reached.
 */
export function shown(g: GuestVm, type: number = PlaneType.PRIMARY): PlaneInfo | undefined {
  const { rc, info } = g.query(type);
  return rc === 0 && info.dmabufId !== 0 && info.drmFormat !== 0 ? info : undefined;
}

/** The shown plane's dmabuf_id, or 0 while there is none (see `shown`). */
export function shownId(g: GuestVm, type: number = PlaneType.PRIMARY): number {
  return shown(g, type)?.dmabufId ?? 0;
}

/** Type a line on the active tty and step until the guest has handled it. */
export async function type(g: GuestVm, text: string): Promise<void> {
  g.vm.typeText(text);
  await g.step(1);
}
