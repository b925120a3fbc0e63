// `vgpu-display/emulated`: an emulated host (GVT-g, mbochs and mdpy vGPUs behind the same device
// file ABI as Linux), so the display client and the conformance suite run without hardware.
export { EmulatedHost, DEFAULT_TYPE, GVT_TYPES } from './EmulatedHost.ts';
export type { Vgpu, VgpuKind, CreateVgpuOptions } from './EmulatedHost.ts';
export type { Sys, Mapping } from './Sys.ts';
export { PROT_READ, PROT_WRITE } from './Sys.ts';
