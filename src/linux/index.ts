// `vgpu-display/linux`: a real mediated device opened through /dev/vfio (koffi), with the Sys the
// display client and the conformance suite take.
export { openRealDevice, resolveRealSpec } from './RealDevice.ts';
export type { RealOpenedDevice, OpenRealDeviceOptions } from './RealDevice.ts';
export { LinuxSys } from './LinuxSys.ts';
export type { LinuxSysOptions, LinuxSysStats, LinuxMapping } from './LinuxSys.ts';
