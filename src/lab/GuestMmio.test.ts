import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GVT_EDID_WINDOW, GVT_HOTPLUG_COUNT } from '../guest/os/GvtEdidWindow.ts';
import { DISPI, dispiOffset } from '../vgpu/bochs/BochsRegisters.ts';
import type { BochsDevice } from '../vgpu/bochs/BochsDevice.ts';
import { buildEdid } from '../vgpu/Edid.ts';
import type { GvtDevice } from '../vgpu/gvt/GvtDevice.ts';
import { PIPESRC, PVINFO, PVINFO_BASE, VGT_MAGIC_LO, gttPte, GTT_BASE } from '../vgpu/gvt/GvtRegisters.ts';
import { EmulatedHost } from '../vfio/EmulatedHost.ts';
import { bochsMmio, gvtMmio } from './GuestMmio.ts';

test('gvt glue: registers and GTT forwarded; the EDID window serves the link, read-only', () => {
  const host = new EmulatedHost();
  const v = host.createVgpu('i915-GVTg_V5_8');
  const dev = v.device as GvtDevice;
  const counters = { dropped: 0 };
  const mmio = gvtMmio(dev, v.link, counters);
  assert.equal(mmio.read(PVINFO_BASE + PVINFO.MAGIC_LO, 4), VGT_MAGIC_LO);
  mmio.write(PIPESRC(0), 4, 0x12345);
  assert.equal(dev.mmioRead32(PIPESRC(0)), 0x12345);
  const gtt = GTT_BASE + (dev.aperture.base / 4096) * 8;
  mmio.write(gtt, 8, gttPte(42));
  assert.equal(mmio.read(gtt, 8), gttPte(42));
  assert.equal(host.ggtt.translate(v.vmId, dev.aperture.base), 42);

  // The type's EDID (1024x768 for _8) through the window, little-endian dwords.
  const edid = v.link.edid!;
  const dv = new DataView(edid.buffer, edid.byteOffset);
  for (let i = 0; i < 128; i += 4) assert.equal(mmio.read(GVT_EDID_WINDOW + i, 4), dv.getUint32(i, true));
  const gen = mmio.read(GVT_HOTPLUG_COUNT, 4) as number;
  v.link.setEdid(buildEdid({ width: 800, height: 600 }), true);
  assert.equal(mmio.read(GVT_HOTPLUG_COUNT, 4), gen + 1);
  assert.equal(mmio.read(GVT_EDID_WINDOW + 56, 4), new DataView(v.link.edid!.buffer).getUint32(56, true));
  v.link.setEdid(undefined, false);
  assert.equal(mmio.read(GVT_EDID_WINDOW, 4), 0, 'link down: zeros');

  // Writes to the window, and sizes kvmgt refuses, never reach the device.
  mmio.write(GVT_EDID_WINDOW, 4, 0xdead);
  mmio.write(GVT_HOTPLUG_COUNT, 4, 0);
  mmio.write(PIPESRC(0), 2, 0x1);
  mmio.write(PIPESRC(0), 1, 0x1);
  assert.equal(mmio.read(PIPESRC(0), 2), 0);
  assert.equal(dev.mmioRead32(PIPESRC(0)), 0x12345);
  assert.equal(mmio.read(GVT_HOTPLUG_COUNT, 4), gen + 2);
  assert.equal(counters.dropped, 5);
});

test('bochs glue: 1/2/4-byte accesses forwarded, 8-byte ones dropped', () => {
  const host = new EmulatedHost();
  const v = host.createVgpu('bochs');
  const dev = v.device as BochsDevice;
  const counters = { dropped: 0 };
  const mmio = bochsMmio(dev, counters);
  assert.equal(mmio.read(dispiOffset(DISPI.ID), 2), 0xb0c5);
  mmio.write(dispiOffset(DISPI.XRES), 2, 800);
  assert.equal(dev.dispi(DISPI.XRES), 800);
  assert.equal(mmio.read(0, 4), 0xffffff00, 'EDID header bytes 00 ff ff ff');
  assert.equal(mmio.read(0, 1), 0x00);
  assert.equal(mmio.read(1, 1), 0xff, 'EDID header byte (the link is up with the type EDID)');
  assert.equal(mmio.read(0x500, 8), 0n);
  mmio.write(0x500, 8, 5n);
  assert.equal(counters.dropped, 2);
});
