/**
 * Where the dirty policy learns which guest pages were written since it last looked. For emulated
 * devices the host passes the VM's DirtyLog (gpu/DirtyLog.ts matches this shape); a real VMM
 * would wrap KVM_GET_DIRTY_LOG.
 */
export interface DirtySource {
  /** Call `onDirty(page)` for each dirty page of [firstPage, firstPage + count) and clear them. */
  fetchAndClear(firstPage: number, count: number, onDirty: (page: number) => void): number;
}

/**
 * Which guest pages back an exported dma-buf, in buffer order (page i of the buffer is
 * `pages[i]`), or undefined when unknown. The VFIO ABI does not say; the emulated host can
 * (EmulatedPages.ts). Without it the dirty policy cannot turn pages into damage.
 */
export type PageResolver = (dmabufFd: number) => Uint32Array | undefined;
