import { DRM_FORMAT, formatInfo, formatName } from '../kms/Fourcc.ts';
import { DRM_FORMAT_MOD, modifierName } from '../kms/Modifier.ts';
import { layoutForModifier, strideFits } from '../kms/Tiling.ts';

/**
 * The seed's other host path: "use the dma-buf as a plane in the host drm driver and scan it out
 * directly". A model of a host KMS device (planes with format/modifier/size limits) and of a
 * DRM_MODE_ATOMIC_TEST_ONLY commit: each guest plane goes onto a compatible host plane when one
 * fits, else to the software renderer, whose composed frame then takes the host primary plane.
 */
export type HostPlaneType = 'primary' | 'overlay' | 'cursor';

export interface HostPlaneCaps {
  readonly id: number;
  readonly type: HostPlaneType;
  readonly formats: readonly number[];
  readonly modifiers: readonly bigint[];
  readonly maxWidth: number;
  readonly maxHeight: number;
  /** Smallest accepted buffer (cursor planes: i915 takes 64..256 per side). Default 1. */
  readonly minWidth?: number;
  readonly minHeight?: number;
  /** Linear buffers need a stride that is a multiple of this (bytes). Default 1. */
  readonly strideAlign?: number;
  /** The stride must equal width × bytes per pixel (i915 cursors have no stride register). */
  readonly packedStride?: boolean;
}

export interface HostDevice {
  readonly name: string;
  readonly planes: readonly HostPlaneCaps[];
}

/** A guest buffer offered for scanout (what QUERY_GFX_PLANE reports). */
export interface ScanoutBuffer {
  readonly drmFormat: number;
  readonly modifier: bigint;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
}

export interface ScanoutRequest {
  readonly primary?: ScanoutBuffer | null;
  readonly cursor?: ScanoutBuffer | null;
}

export type GuestPlaneRole = 'primary' | 'cursor';

export interface PlaneAssignment {
  /** What the host plane shows: a guest plane's dma-buf, or the software renderer's frame. */
  readonly source: GuestPlaneRole | 'composition';
  readonly planeId: number;
  readonly planeType: HostPlaneType;
  readonly drmFormat: number;
  readonly modifier: bigint;
}

export type FallbackCode =
  'no-plane' | 'format' | 'modifier' | 'size' | 'stride' | 'cursor-size' | 'with-cursor' | 'geometry';

export interface CompositedPlane {
  readonly role: GuestPlaneRole;
  readonly code: FallbackCode;
  /** Human-readable reason, naming the closest plane that refused it. */
  readonly reason: string;
}

export interface ScanoutPlan {
  readonly planes: readonly PlaneAssignment[];
  readonly composited: readonly CompositedPlane[];
  /** True when every guest plane is scanned out directly (no pixel is touched by the CPU). */
  readonly zeroCopy: boolean;
}

/** One guest primary's answer, as the lab's inspector says it. */
export interface ScanoutVerdict {
  readonly direct: boolean;
  /** The host device's name. */
  readonly host: string;
  /** The host plane that would show the buffer (direct only). */
  readonly plane?: number;
  /** Why not (not direct only). */
  readonly code?: FallbackCode;
  /** One plain sentence: "direct scanout: yes, …" or "direct scanout: no, <reason>; …". */
  readonly sentence: string;
}

export type ScanoutPreset = 'i915-like' | 'simple';

const RGB_FORMATS = [
  DRM_FORMAT.XRGB8888, DRM_FORMAT.ARGB8888, DRM_FORMAT.XBGR8888, DRM_FORMAT.ABGR8888,
  DRM_FORMAT.RGB565, DRM_FORMAT.XRGB2101010, DRM_FORMAT.XBGR2101010,
];
const INTEL_MODS = [DRM_FORMAT_MOD.LINEAR, DRM_FORMAT_MOD.I915_X_TILED, DRM_FORMAT_MOD.I915_Y_TILED];

const PRESETS: Record<ScanoutPreset, HostDevice> = {
  'i915-like': {
    name: 'i915-like',
    planes: [
      { id: 31, type: 'primary', formats: RGB_FORMATS, modifiers: INTEL_MODS, maxWidth: 8192,
        maxHeight: 8192, strideAlign: 64 },
      { id: 40, type: 'overlay', formats: [...RGB_FORMATS, DRM_FORMAT.YUYV, DRM_FORMAT.UYVY,
        DRM_FORMAT.YVYU, DRM_FORMAT.VYUY], modifiers: INTEL_MODS, maxWidth: 4096, maxHeight: 4096,
      strideAlign: 64 },
      { id: 49, type: 'cursor', formats: [DRM_FORMAT.ARGB8888], modifiers: [DRM_FORMAT_MOD.LINEAR],
        minWidth: 64, minHeight: 64, maxWidth: 256, maxHeight: 256, packedStride: true },
    ],
  },
  simple: {
    name: 'simple',
    planes: [
      { id: 31, type: 'primary', formats: [DRM_FORMAT.XRGB8888], modifiers: [DRM_FORMAT_MOD.LINEAR],
        maxWidth: 4096, maxHeight: 4096 },
    ],
  },
};

/** The composed frame's format on the host primary, best first (RGBA8 bytes = ABGR8888). */
const COMPOSITION_FORMATS = [
  DRM_FORMAT.ABGR8888, DRM_FORMAT.XBGR8888, DRM_FORMAT.ARGB8888, DRM_FORMAT.XRGB8888,
];

interface Refusal { readonly code: FallbackCode; readonly reason: string }

export class ScanoutModel {
  public readonly device: HostDevice;

  public constructor(device: HostDevice) {
    const ids = new Set(device.planes.map((p) => p.id));
    if (ids.size !== device.planes.length) throw new RangeError(`${device.name}: duplicate plane ids`);
    this.device = device;
  }

  public static preset(name: ScanoutPreset): ScanoutModel {
    return new ScanoutModel(PRESETS[name]);
  }

  /**
   * A TEST_ONLY atomic check: nothing is committed. The guest primary tries the host primary,
   * then overlays; the guest cursor tries cursor planes only. A cursor that must be composed
   * drags the primary into composition too (it is blended into the primary's pixels, and a
   * directly scanned guest buffer is read-only). Never throws.
   */
  public atomicTest(req: ScanoutRequest): ScanoutPlan {
    const planes: PlaneAssignment[] = [];
    const composited: CompositedPlane[] = [];
    const used = new Set<number>();
    const pick = (role: GuestPlaneRole, buf: ScanoutBuffer, types: readonly HostPlaneType[]):
      PlaneAssignment | Refusal => {
      const candidates = types.flatMap((t) =>
        this.device.planes.filter((p) => p.type === t && !used.has(p.id)));
      if (candidates.length === 0) {
        return { code: 'no-plane', reason: `no free ${types.join('/')} plane on ${this.device.name}` };
      }
      let first: Refusal | undefined;
      for (const hp of candidates) {
        const why = refuse(hp, buf);
        if (why === undefined) {
          used.add(hp.id);
          return { source: role, planeId: hp.id, planeType: hp.type, drmFormat: buf.drmFormat,
            modifier: buf.modifier };
        }
        first ??= why;
      }
      return first!;
    };

    let cursorAssigned: PlaneAssignment | undefined;
    let cursorRefused: Refusal | undefined;
    if (req.cursor) {
      const r = pick('cursor', req.cursor, ['cursor']);
      if (isRefusal(r)) cursorRefused = r;
      else cursorAssigned = r;
    }
    if (req.primary) {
      if (cursorRefused !== undefined) {
        composited.push({ role: 'primary', code: 'with-cursor',
          reason: 'the cursor is composed into the primary, so the primary is composed too' });
      } else {
        const r = pick('primary', req.primary, ['primary', 'overlay']);
        if (isRefusal(r)) composited.push({ role: 'primary', ...r });
        else planes.push(r);
      }
    }
    if (cursorRefused !== undefined) composited.push({ role: 'cursor', ...cursorRefused });
    else if (cursorAssigned !== undefined) planes.push(cursorAssigned);

    if (composited.length > 0) {
      // The software renderer's frame (linear, the primary's size) goes on the host primary
      // plane; when none can take it there is no 'composition' entry (it is shown in a window).
      const hp = this.device.planes.find((p) => p.type === 'primary' && !used.has(p.id));
      const fmt = hp && COMPOSITION_FORMATS.find((f) => hp.formats.includes(f));
      const fits = hp !== undefined && (!req.primary ||
        (req.primary.width <= hp.maxWidth && req.primary.height <= hp.maxHeight));
      if (hp !== undefined && fmt !== undefined && fits && hp.modifiers.includes(DRM_FORMAT_MOD.LINEAR)) {
        used.add(hp.id);
        planes.unshift({ source: 'composition', planeId: hp.id, planeType: hp.type, drmFormat: fmt,
          modifier: DRM_FORMAT_MOD.LINEAR });
      }
    }
    return { planes, composited, zeroCopy: composited.length === 0 };
  }

  /**
   * Could the host show `primary` (with `cursor` on top) directly on one of its planes, and if
   * not, why not: the primary's part of a TEST_ONLY commit, in one sentence.
   */
  public verdict(primary: ScanoutBuffer, cursor?: ScanoutBuffer): ScanoutVerdict {
    const host = this.device.name;
    const plan = this.atomicTest({ primary, cursor });
    const on = plan.planes.find((p) => p.source === 'primary');
    const what = `${primary.width}x${primary.height} ${formatName(primary.drmFormat)} ${modifierName(primary.modifier)}`;
    if (on !== undefined) {
      return {
        direct: true, host, plane: on.planeId,
        sentence: `direct scanout: yes, host plane ${on.planeId} (${on.planeType}) of ${host} can show this ${what} ` +
          'buffer as it is',
      };
    }
    const why = plan.composited.find((c) => c.role === 'primary')!;
    const cursorWhy = plan.composited.find((c) => c.role === 'cursor');
    // "The cursor is composed, so the primary is too" names the cursor's own reason as well.
    const reason = why.code === 'with-cursor' && cursorWhy !== undefined ? `${why.reason} (${cursorWhy.reason})` : why.reason;
    return { direct: false, host, code: why.code, sentence: `direct scanout: no, ${reason}; the ${what} buffer must be composed` };
  }
}

function isRefusal(v: PlaneAssignment | Refusal): v is Refusal {
  return (v as Refusal).code !== undefined;
}

/** Why host plane `hp` cannot scan out `buf`, or undefined when it can. */
function refuse(hp: HostPlaneCaps, buf: ScanoutBuffer): Refusal | undefined {
  const where = `plane ${hp.id} (${hp.type})`;
  const info = formatInfo(buf.drmFormat);
  const { width, height, stride } = buf;
  if (info === undefined || !Number.isInteger(width) || !Number.isInteger(height) || width < 1 ||
    height < 1 || !Number.isInteger(stride) || stride < width * info.cpp) {
    return { code: 'geometry',
      reason: `bad buffer ${formatName(buf.drmFormat)} ${width}x${height} stride ${stride}` };
  }
  if (!hp.formats.includes(buf.drmFormat)) {
    return { code: 'format', reason: `format ${formatName(buf.drmFormat)} not supported by ${where}` };
  }
  if (!hp.modifiers.includes(buf.modifier)) {
    return { code: 'modifier', reason: `modifier ${modifierName(buf.modifier)} not supported by ${where}` };
  }
  if (hp.type === 'cursor') {
    const minW = hp.minWidth ?? 1;
    const minH = hp.minHeight ?? 1;
    if (width < minW || height < minH || width > hp.maxWidth || height > hp.maxHeight) {
      return { code: 'cursor-size', reason: `cursor ${width}x${height} outside ${minW}x${minH}..` +
        `${hp.maxWidth}x${hp.maxHeight} of ${where}` };
    }
  } else if (width > hp.maxWidth || height > hp.maxHeight) {
    return { code: 'size', reason: `${width}x${height} exceeds ${hp.maxWidth}x${hp.maxHeight} of ${where}` };
  }
  if (hp.packedStride === true && stride !== width * info.cpp) {
    return { code: 'stride', reason: `stride ${stride} is not packed (${width * info.cpp}) for ${where}` };
  }
  const layout = layoutForModifier(buf.modifier);
  if (layout !== undefined && layout.name !== 'linear' && !strideFits(layout, stride)) {
    return { code: 'stride', reason: `stride ${stride} is not whole ${layout.name} tiles for ${where}` };
  }
  const align = hp.strideAlign ?? 1;
  if (layout?.name === 'linear' && stride % align !== 0) {
    return { code: 'stride', reason: `stride ${stride} is not a multiple of ${align} for ${where}` };
  }
  return undefined;
}
