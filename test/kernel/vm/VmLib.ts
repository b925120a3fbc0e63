/**
 * Helpers for the programs that run inside the kernel-test VM: checks, quirk records, and the
 * few VFIO calls they share (region info, DISPI registers, QUERY with mbochs' ENOMEM retry).
 * Results go to stdout (the VM console) and to $RESULTS (the writable 9p share).
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { errnoName } from '../../../src/base/Errno.ts';
import { VFIO_APIS, type VfioApi } from '../../../src/linux/RealDevice.ts';
import { VFIO_DEVICE_GET_REGION_INFO, VFIO_GFX_PLANE_TYPE_DMABUF } from '../../../src/vfio/Abi.ts';
import { PlaneType } from '../../../src/kms/PlaneType.ts';
import { encodeRegionInfoRequest, readRegionInfo, type RegionInfo } from '../../../src/vfio/RegionInfo.ts';
import type { PlaneInfo } from '../../../src/vfio/PlaneInfo.ts';
import type { Sys } from '../../../src/vfio/Sys.ts';
import { query } from '../../../src/testkit/Ioctl.ts';
import { dispiOffset } from '../../../src/vgpu/bochs/BochsRegisters.ts';

export const RESULTS = process.env.RESULTS ?? '/mnt/results';
/** The VFIO user API this pass of tests.sh uses (VFIO_API=cdev|group|auto). */
export const VFIO_API: VfioApi = parseApi(process.env.VFIO_API ?? 'auto');

function parseApi(s: string): VfioApi {
  if ((VFIO_APIS as readonly string[]).includes(s)) return s as VfioApi;
  throw new Error(`VFIO_API=${s}: expected one of ${VFIO_APIS.join(', ')}`);
}
export const ENOMEM = 12;

export class Checker {
  public failures = 0;
  public checks = 0;
  private readonly _t0 = performance.now();

  public constructor(public readonly name: string) {}

  public ok(cond: boolean, what: string): boolean {
    this.checks++;
    if (!cond) this.failures++;
    console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
    return cond;
  }

  public info(what: string): void {
    console.log(`     ${what}`);
  }

  /** A known kernel bug seen: not a failure, listed in $RESULTS/quirks.txt. */
  public quirk(device: string, id: string, detail: string): void {
    console.log(`QUIRK ${device}: ${id}: ${detail}`);
    try {
      appendFileSync(join(RESULTS, 'quirks.txt'), `${device} (${VFIO_API}): ${id}: ${detail}\n`);
    } catch {
      // running outside the VM
    }
  }

  /** Print the verdict; the exit code is the number of failures (capped). */
  public done(): never {
    const ms = (performance.now() - this._t0).toFixed(0);
    console.log(`RESULT ${this.name}: ${this.failures ? 'FAIL' : 'PASS'} (${this.checks - this.failures}/${this.checks} checks, ${ms} ms)`);
    process.exit(Math.min(this.failures, 100));
  }
}

export function rc(n: number): string {
  return n < 0 ? `-${errnoName(n)}` : String(n);
}

/** GET_REGION_INFO starting at argsz 32 (mbochs rejects a larger first argsz), grown on demand. */
export function regionInfo(sys: Sys, fd: number, index: number): { rc: number; info: RegionInfo; bytes: Uint8Array } {
  let bytes = encodeRegionInfoRequest(index, 32);
  let r = sys.ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, bytes);
  if (r === 0 && readRegionInfo(bytes).argsz > 32) {
    bytes = encodeRegionInfoRequest(index, readRegionInfo(bytes).argsz);
    r = sys.ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, bytes);
  }
  return { rc: r, info: readRegionInfo(bytes), bytes };
}

/** Bochs DISPI register access through BAR2 (16-bit pread/pwrite, as a guest driver does). */
export class Dispi {
  public constructor(private readonly _sys: Sys, private readonly _fd: number, private readonly _mmio: number) {}

  public write(index: number, value: number): number {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, value, true);
    return this._sys.pwrite(this._fd, b, this._mmio + dispiOffset(index));
  }

  public read(index: number): number {
    const b = new Uint8Array(2);
    const r = this._sys.pread(this._fd, b, this._mmio + dispiOffset(index));
    return r < 0 ? r : new DataView(b.buffer).getUint16(0, true);
  }
}

export interface PrimaryQuery {
  rc: number;
  info: PlaneInfo;
  /** Calls that returned -ENOMEM before the answer (mbochs B12). */
  enomem: number;
}

/** QUERY_GFX_PLANE(DMABUF, PRIMARY), retried while it returns -ENOMEM (at most twice). */
export function queryPrimary(sys: Sys, fd: number): PrimaryQuery {
  let enomem = 0;
  for (;;) {
    const q = query(sys, fd, VFIO_GFX_PLANE_TYPE_DMABUF, PlaneType.PRIMARY);
    if (q.rc === -ENOMEM && enomem < 2) {
      enomem++;
      continue;
    }
    return { rc: q.rc, info: q.info, enomem };
  }
}

/** A pixel of the test pattern (XRGB8888, alpha byte set as a guest would). */
export function pattern(x: number, y: number, seed: number): number {
  return (0xff000000 | ((x * 7 + seed) & 0xff) << 16 | ((y * 3 + seed) & 0xff) << 8 | ((x ^ y ^ seed) & 0xff)) >>> 0;
}

export function fourcc(f: number): string {
  if (f === 0) return '----';
  return String.fromCharCode(f & 0xff, (f >> 8) & 0xff, (f >> 16) & 0xff, (f >>> 24) & 0xff);
}
