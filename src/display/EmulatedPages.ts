import { DmabufFile } from '../vfio/DmabufFile.ts';
import type { EmulatedKernel } from '../vfio/EmulatedKernel.ts';
import type { PageResolver } from './DirtySource.ts';

/**
 * The emulated kernel's answer to "which guest pages back this dma-buf fd": the exported buffer
 * object's page list. Only an emulated host can offer this (a real kernel keeps it private).
 */
export function emulatedPageResolver(kernel: EmulatedKernel): PageResolver {
  return (fd: number): Uint32Array | undefined => {
    const file = kernel.fds.get(fd);
    return file instanceof DmabufFile ? file.object.pages : undefined;
  };
}
