// A new monitor plugged through the VFIO EDID region: the guest notices (gvt: the lab's EDID
// window and hotplug counter; bochs: polling the EDID in MMIO), re-reads the EDID and sets its
// new preferred mode; the host sees the new plane and reads the console at the new size.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EmulatedHost } from '../../src/vfio/EmulatedHost.ts';
import { bootToPrompt, KINDS, lastLine, newVm, primary, PROMPT_TEXT, screenHas, shown, stepUntil, type } from './Scenario.ts';

for (const kind of KINDS) {
  test(`${kind}: hotplug of a new monitor re-mode-sets to its preferred mode`, async (t) => {
    const host = new EmulatedHost();
    const g = newVm(host, kind, { monitor: { width: 640, height: 480 } });
    t.after(() => g.dispose());
    await bootToPrompt(g);
    assert.equal(primary(g).width, 640);

    assert.equal(g.plug({ width: 1024, height: 768 }), 0);
    await stepUntil(g, () => shown(g)?.width === 1024, 'the new mode on the host', 200);
    assert.equal(primary(g).height, 768);
    await stepUntil(g, () => lastLine(g) === PROMPT_TEXT, 'prompt at the new size', 20);
    assert.ok(g.vm.logLines.some((l) => l.includes('hotplug: preferred 1024x768')), g.vm.logLines.join('\n'));
    await type(g, 'mode\n');
    await stepUntil(g, () => screenHas(g, 'EDID modes: 1024x768'), 'EDID modes listed', 20);

    // Unplugged: no EDID, the mode stays. A blob the region refuses is an error for the VMM.
    assert.equal(g.unplug(), 0);
    await g.step(40);
    assert.equal(primary(g).width, 1024);
    assert.ok(g.plug(new Uint8Array(128)) < 0, 'an invalid EDID is refused');
    assert.equal(host.kernel.oopses, 0);
  });
}
