import { formatName } from '../kms/Fourcc.ts';
import { modifierName } from '../kms/Modifier.ts';
import type { PlaneSnapshot } from '../display/PlaneQuery.ts';

/** A plane as the CLI's --json outputs describe it (probe, snapshot): one shape everywhere. */
export interface PlaneJson {
  /** dmabuf_id (dma-buf mode) or region_index (region mode). */
  readonly id: number;
  readonly drmFormat: number;
  readonly format: string;
  /** The modifier as 16 hex digits (it exceeds 2^53), and its name. */
  readonly modifier: string;
  readonly modifierName: string;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly size: number;
  /** Signed: a cursor may hang off the top/left edge. */
  readonly x: number;
  readonly y: number;
  /** null = unknown (0xFFFFFFFF). */
  readonly hotX: number | null;
  readonly hotY: number | null;
}

/** The fields of a plane the JSON needs: a QUERY answer as the display client records it. */
export type PlaneFields = Omit<PlaneSnapshot, 'planeType' | 'result'>;

const unknown = (v: number): number | null => (v >>> 0 === 0xffffffff ? null : v >>> 0);

export function planeJson(p: PlaneFields): PlaneJson {
  return {
    id: p.id, drmFormat: p.drmFormat, format: formatName(p.drmFormat),
    modifier: `0x${p.modifier.toString(16).padStart(16, '0')}`, modifierName: modifierName(p.modifier),
    width: p.width, height: p.height, stride: p.stride, size: p.size,
    x: p.xPos | 0, y: p.yPos | 0, hotX: unknown(p.xHot), hotY: unknown(p.yHot),
  };
}
