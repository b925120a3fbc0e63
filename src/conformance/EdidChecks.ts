import {
  VFIO_DEVICE_GFX_LINK_STATE_DOWN, VFIO_DEVICE_GFX_LINK_STATE_UP, VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_SUBTYPE_GFX_EDID, VFIO_REGION_TYPE_GFX,
} from '../vfio/Abi.ts';
import { EDID_REGS_LAYOUT, EDID_REGS_SIZE } from '../vfio/EdidRegs.ts';
import { findRegionType, REGION_INFO_SIZE } from '../vfio/RegionInfo.ts';
import { buildEdid } from '../vgpu/Edid.ts';
import { fail, pass, type Check } from './Check.ts';
import { rcName, type CheckContext } from './CheckContext.ts';
import type { RegionDesc } from './DeviceClient.ts';
import { all, deviceOpen, familyIs } from './Requires.ts';

const REG = {
  edidOffset: EDID_REGS_LAYOUT.fields.edidOffset.offset,
  edidMaxSize: EDID_REGS_LAYOUT.fields.edidMaxSize.offset,
  edidSize: EDID_REGS_LAYOUT.fields.edidSize.offset,
  maxXres: EDID_REGS_LAYOUT.fields.maxXres.offset,
  maxYres: EDID_REGS_LAYOUT.fields.maxYres.offset,
  linkState: EDID_REGS_LAYOUT.fields.linkState.offset,
} as const;

/** The EDID region: the one whose CAP_TYPE says GFX / GFX_EDID. */
function findEdid(ctx: CheckContext): RegionDesc | string {
  const n = ctx.info?.numRegions ?? 0;
  for (let i = 0; i < n; i++) {
    const r = ctx.client.region(i);
    if (typeof r !== 'number' && r.capType?.type === VFIO_REGION_TYPE_GFX &&
        r.capType.subtype === VFIO_REGION_SUBTYPE_GFX_EDID) return r;
  }
  return `no region below num_regions ${n} has a GFX/EDID CAP_TYPE`;
}

type Regs = Record<keyof typeof REG, number>;

function readRegs(ctx: CheckContext, r: RegionDesc): Regs | string {
  const out: Record<string, number> = {};
  for (const [name, off] of Object.entries(REG)) {
    const v = ctx.client.read32(r.index, off);
    if (v < 0) return `read ${name} → ${rcName(v)}`;
    out[name] = v;
  }
  return out as Regs;
}

/** The hotplug protocol: link down, size, blob, link up. '' on success. */
function updateEdid(ctx: CheckContext, r: RegionDesc, regs: Regs, blob: Uint8Array, up: boolean): string {
  const steps: [string, () => number][] = [
    ['link down', () => ctx.client.write32(r.index, REG.linkState, VFIO_DEVICE_GFX_LINK_STATE_DOWN)],
    ['edid_size', () => ctx.client.write32(r.index, REG.edidSize, blob.byteLength)],
  ];
  if (blob.byteLength > 0) steps.push(['blob', () => ctx.client.write(r.index, regs.edidOffset, blob)]);
  if (up) steps.push(['link up', () => ctx.client.write32(r.index, REG.linkState, VFIO_DEVICE_GFX_LINK_STATE_UP)]);
  for (const [what, step] of steps) {
    const rc = step();
    if (rc < 0) return `${what} → ${rcName(rc)}`;
  }
  return '';
}

const edidDevice = all(deviceOpen, familyIs('gvt', 'bochs'));
const withEdid = (ctx: CheckContext): true | string => {
  const base = edidDevice(ctx);
  if (base !== true) return base;
  return typeof findEdid(ctx) === 'string' ? 'no EDID region (edid.discover fails)' : true;
};

export const EDID_CHECKS: readonly Check[] = [
  {
    name: 'edid.discover',
    description: 'the EDID region is found through the CAP_TYPE chain: argsz 32 gets FLAG_CAPS and ' +
      'the needed argsz; a regrown buffer holds the GFX/EDID capability',
    applies: edidDevice,
    run(ctx) {
      const r = findEdid(ctx);
      if (typeof r === 'string') return fail(r);
      const first = ctx.client.regionInfoRaw(r.index, REGION_INFO_SIZE);
      if (first.rc !== 0) return fail(`argsz 32 → ${rcName(first.rc)}`);
      const i = first.info;
      if ((i.flags & VFIO_REGION_INFO_FLAG_CAPS) === 0) {
        return fail(`argsz 32: flags 0x${i.flags.toString(16)} lack CAPS`);
      }
      if (i.argsz <= REGION_INFO_SIZE) {
        return fail(`argsz 32: kernel reported argsz ${i.argsz}, want the size with caps`);
      }
      // vfio-pci leaves cap_offset 0 when the caps do not fit; mbochs reports where they would be
      // (32, past the caller's buffer). Both tell the caller to regrow; an offset inside the
      // 32 bytes the caller passed would be a bug.
      if (i.capOffset !== 0 && i.capOffset < REGION_INFO_SIZE) {
        return fail(`argsz 32: cap_offset ${i.capOffset} points inside struct vfio_region_info`);
      }
      ctx.behaviour['edid-region-info-small-argsz'] = i.capOffset === 0
        ? 'cap_offset 0 until argsz fits the caps (vfio-pci)'
        : `cap_offset ${i.capOffset} past the caller's argsz (mbochs)`;
      const second = ctx.client.regionInfoRaw(r.index, i.argsz);
      if (second.rc !== 0) return fail(`argsz ${i.argsz} → ${rcName(second.rc)}`);
      if (second.info.capOffset < REGION_INFO_SIZE) {
        return fail(`argsz ${i.argsz}: cap_offset ${second.info.capOffset}`);
      }
      const t = findRegionType(second.bytes);
      if (t?.type !== VFIO_REGION_TYPE_GFX || t.subtype !== VFIO_REGION_SUBTYPE_GFX_EDID) {
        return fail(`argsz ${i.argsz}: no GFX/EDID CAP_TYPE in the chain`);
      }
      return pass(`region ${r.index} at 0x${r.offset.toString(16)}, size ${r.size}; ` +
        `argsz 32 → ${i.argsz}, cap_offset ${second.info.capOffset}`);
    },
  },
  {
    name: 'edid.registers',
    description: 'struct vfio_region_gfx_edid reads back sane values',
    applies: withEdid,
    run(ctx) {
      const r = findEdid(ctx) as RegionDesc;
      const g = readRegs(ctx, r);
      if (typeof g === 'string') return fail(g);
      const bad: string[] = [];
      if (g.edidOffset < EDID_REGS_SIZE) bad.push(`edid_offset ${g.edidOffset} inside the registers`);
      if (g.edidOffset + g.edidMaxSize > r.size) {
        bad.push(`blob ${g.edidOffset}+${g.edidMaxSize} past region size ${r.size}`);
      }
      if (g.edidMaxSize < 128) bad.push(`edid_max_size ${g.edidMaxSize} < 128`);
      if (g.edidSize > g.edidMaxSize) bad.push(`edid_size ${g.edidSize} > max ${g.edidMaxSize}`);
      // mbochs starts with link_state 0 (never written); after that only UP or DOWN are valid.
      if (g.linkState !== 0 && g.linkState !== VFIO_DEVICE_GFX_LINK_STATE_UP && g.linkState !== VFIO_DEVICE_GFX_LINK_STATE_DOWN) {
        bad.push(`link_state ${g.linkState}`);
      }
      if (g.linkState === 0) ctx.behaviour['edid-initial-link-state'] = '0 (never set; mbochs)';
      if (bad.length) return fail(bad.join('; '));
      return pass(`offset 0x${g.edidOffset.toString(16)} max ${g.edidMaxSize} size ${g.edidSize} ` +
        `max ${g.maxXres}x${g.maxYres} link ${g.linkState === VFIO_DEVICE_GFX_LINK_STATE_UP ? 'up' : g.linkState === 0 ? 'unset' : 'down'}`);
    },
  },
  {
    name: 'edid.readonly-registers',
    description: 'writes to edid_offset, edid_max_size, max_xres do not change them',
    applies: withEdid,
    run(ctx) {
      const r = findEdid(ctx) as RegionDesc;
      const rcs: string[] = [];
      const ro = [
        ['edid_offset', REG.edidOffset], ['edid_max_size', REG.edidMaxSize], ['max_xres', REG.maxXres],
      ] as const;
      for (const [name, off] of ro) {
        const before = ctx.client.read32(r.index, off);
        if (before < 0) return fail(`read ${name} → ${rcName(before)}`);
        const rc = ctx.client.write32(r.index, off, before + 8);
        const after = ctx.client.read32(r.index, off);
        if (after !== before) return fail(`${name} changed ${before} → ${after} (write rc ${rcName(rc)})`);
        rcs.push(`${name} ${rcName(rc)}`);
      }
      return pass(`unchanged; write answers: ${rcs.join(', ')}`);
    },
  },
  {
    name: 'edid.update',
    description: 'EDID update protocol (link down, size, blob, link up) works and reads back',
    applies: withEdid,
    run(ctx) {
      const r = findEdid(ctx) as RegionDesc;
      const g = readRegs(ctx, r);
      if (typeof g === 'string') return fail(g);
      const orig = g.edidSize > 0 ? ctx.client.read(r.index, g.edidOffset, g.edidSize) : new Uint8Array(0);
      if (typeof orig === 'number') return fail(`read current blob → ${rcName(orig)}`);
      const blob = buildEdid({ width: 1280, height: 800, name: 'conformance' });
      const err = updateEdid(ctx, r, g, blob, true);
      let result = err ? fail(`update: ${err}`) : undefined;
      if (!result) {
        const size = ctx.client.read32(r.index, REG.edidSize);
        const link = ctx.client.read32(r.index, REG.linkState);
        const back = ctx.client.read(r.index, g.edidOffset, blob.byteLength);
        if (size !== blob.byteLength) result = fail(`edid_size reads ${rcName(size)}, wrote ${blob.byteLength}`);
        else if (link !== VFIO_DEVICE_GFX_LINK_STATE_UP) result = fail(`link_state reads ${rcName(link)}, want up`);
        else if (typeof back === 'number') result = fail(`blob read → ${rcName(back)}`);
        else if (back.some((b, i) => b !== blob[i])) result = fail('blob reads back different bytes');
        else result = pass(`${blob.byteLength}-byte EDID written and read back, link up`);
      }
      const restore = updateEdid(ctx, r, g, orig, g.linkState === VFIO_DEVICE_GFX_LINK_STATE_UP);
      if (restore && result.ok) return fail(`restoring the original EDID: ${restore}`);
      return result;
    },
  },
];
