// The ABI check: compile a C program against the machine's <linux/vfio.h> and <linux/dma-buf.h>,
// print sizeof/offsetof of every field in our struct tables and the value of every constant in
// Abi.ts, and compare. The C program is generated FROM the tables, so a wrong offset, size or
// constant in our code fails here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as Abi from './Abi.ts';
import { DEVICE_INFO_LAYOUT } from './DeviceInfo.ts';
import { EDID_REGS_LAYOUT } from './EdidRegs.ts';
import { INFO_CAP_HEADER_LAYOUT } from './InfoCap.ts';
import { IRQ_INFO_LAYOUT, IRQ_SET_LAYOUT } from './IrqInfo.ts';
import { PLANE_INFO_LAYOUT, PLANE_INFO_MINSZ, PLANE_INFO_SIZE } from './PlaneInfo.ts';
import { REGION_INFO_CAP_TYPE_LAYOUT, REGION_INFO_LAYOUT } from './RegionInfo.ts';
import type { Layout } from './StructLayout.ts';
import { compareConstants, compareLayout, UapiCompiler, type Present } from '../testkit/node/UapiHeaders.ts';

const LAYOUTS: readonly Layout[] = [
  PLANE_INFO_LAYOUT, REGION_INFO_LAYOUT, INFO_CAP_HEADER_LAYOUT, REGION_INFO_CAP_TYPE_LAYOUT,
  EDID_REGS_LAYOUT, DEVICE_INFO_LAYOUT, IRQ_INFO_LAYOUT, IRQ_SET_LAYOUT,
];

/** Every numeric export of Abi.ts that a kernel header must define. */
function headerConstants(): Array<[string, number]> {
  const ext = new Set(Abi.ABI_EXTENSIONS);
  return Object.entries(Abi)
    .filter((e): e is [string, number] => typeof e[1] === 'number' && !ext.has(e[0]));
}

let cc: UapiCompiler;
let present: Present = new Map();
let header: ReadonlyMap<string, number> = new Map();

before(() => {
  cc = new UapiCompiler({ headers: ['linux/vfio.h', 'linux/dma-buf.h'] });
  const facts = cc.facts(LAYOUTS, headerConstants().map(([n]) => n));
  present = facts.present;
  header = facts.values;
});

after(() => {
  cc?.dispose();
});

describe('struct layouts match <linux/vfio.h>', () => {
  for (const l of LAYOUTS) {
    test(l.c, () => {
      assert.ok(header.has(`sizeof|${l.c}`), 'the C program printed this struct');
      assert.deepEqual(compareLayout(l, header, present), []);
    });
  }

  test('vfio_device_gfx_plane_info: 64 bytes, dmabuf_id and region_index at 56, minsz 60', () => {
    const s = 'struct vfio_device_gfx_plane_info';
    assert.equal(header.get(`sizeof|${s}`), 64);
    assert.equal(PLANE_INFO_SIZE, 64);
    assert.equal(header.get(`offsetof|${s}|dmabuf_id`), 56);
    assert.equal(header.get(`offsetof|${s}|region_index`), 56);
    assert.equal(header.get(`offsetof|${s}|drm_format_mod`), 16);
    assert.equal(header.get(`sizeof|${s}|drm_format_mod`), 8);
    assert.equal(PLANE_INFO_MINSZ, header.get(`offsetof|${s}|dmabuf_id`)! + 4);
  });

  test('vfio_device_info: minsz 16, cap_offset at 16, sizeof 20 (6.1) or 24 (with pad)', () => {
    const s = 'struct vfio_device_info';
    assert.ok([20, 24].includes(header.get(`sizeof|${s}`)!));
    assert.equal(header.get(`offsetof|${s}|num_irqs`), 12);
  });
});

describe('constants match the headers', () => {
  test('every numeric export of Abi.ts except ABI_EXTENSIONS', () => {
    const consts = headerConstants();
    assert.ok(consts.length >= 70, `only ${consts.length} constants checked`);
    assert.deepEqual(compareConstants(consts, header), []);
  });

  test('the ioctl numbers the spec names', () => {
    assert.equal(header.get('const|VFIO_GET_API_VERSION'), 0x3b64);
    assert.equal(header.get('const|VFIO_DEVICE_GET_INFO'), 0x3b6b);
    assert.equal(header.get('const|VFIO_DEVICE_GET_REGION_INFO'), 0x3b6c);
    assert.equal(header.get('const|VFIO_DEVICE_QUERY_GFX_PLANE'), 0x3b72);
    assert.equal(header.get('const|VFIO_DEVICE_GET_GFX_DMABUF'), 0x3b73);
    assert.equal(header.get('const|DMA_BUF_IOCTL_SYNC'), 0x40086200);
  });

  test('every VFIO ioctl is _IO(VFIO_TYPE, VFIO_BASE + n)', () => {
    const ioctls = headerConstants().filter(([n, v]) => n.startsWith('VFIO_') && Abi.ioctlName(v) === n);
    assert.equal(ioctls.length, 14);
    for (const [name, v] of ioctls) {
      assert.equal(v >> 8, Abi.VFIO_TYPE, name);
      assert.ok((v & 0xff) >= Abi.VFIO_BASE, name);
    }
  });

  test('our extension: the display IRQ is the first index after the vfio-pci ones', () => {
    assert.equal(Abi.VFIO_PCI_DISPLAY_IRQ_INDEX, header.get('const|VFIO_PCI_NUM_IRQS'));
    assert.equal(Abi.VFIO_PCI_DISPLAY_IRQ_FLAGS, Abi.VFIO_IRQ_INFO_EVENTFD | Abi.VFIO_IRQ_INFO_NORESIZE);
    assert.equal(Abi.VFIO_PCI_DISPLAY_IRQ_COUNT, 1);
    for (const name of Abi.ABI_EXTENSIONS) assert.ok(!header.has(`const|${name}`), name);
    const src = `${cc.prelude}#ifdef VFIO_PCI_DISPLAY_IRQ_INDEX\n#error defined\n#endif\nint main(void){return 0;}\n`;
    assert.ok(cc.compile(src, true).ok, 'the kernel header does not define our extension');
  });

  test('ioctlName', () => {
    assert.equal(Abi.ioctlName(0x3b72), 'VFIO_DEVICE_QUERY_GFX_PLANE');
    assert.equal(Abi.ioctlName(0x40086200), 'DMA_BUF_IOCTL_SYNC');
    assert.equal(Abi.ioctlName(0x1234), 'ioctl#0x1234');
  });
});

describe('the comparison can fail', () => {
  test('a wrong offset, size, sizeof or overlap in a table is reported', () => {
    const f = PLANE_INFO_LAYOUT.fields;
    const movedId = { ...f.dmabufId, offset: 52 };
    const wrong: Layout = { ...PLANE_INFO_LAYOUT, fields: { ...f, dmabufId: movedId } };
    const p2: Present = new Map(present);
    p2.set(movedId, true);
    const bad = compareLayout(wrong, header, p2);
    assert.ok(bad.some((m) => m.includes('dmabuf_id offset 52')), bad.join('; '));
    assert.ok(bad.some((m) => m.includes('overlaps')), bad.join('; '));

    const narrowMod = { ...f.drmFormatMod, type: 'u32' as const };
    const p3: Present = new Map(present);
    p3.set(narrowMod, true);
    const bad3 = compareLayout({ ...PLANE_INFO_LAYOUT, fields: { ...f, drmFormatMod: narrowMod } }, header, p3);
    assert.ok(bad3.some((m) => m.includes('drm_format_mod size 4')), bad3.join('; '));

    assert.ok(compareLayout({ ...REGION_INFO_LAYOUT, size: 24 }, header, present).length > 0);
  });

  test('a wrong constant is reported', () => {
    const bad = compareConstants([['VFIO_DEVICE_QUERY_GFX_PLANE', 0x3b71]], header);
    assert.equal(bad.length, 1);
  });
});
