// The package's main export (`vgpu-display`, `vgpu-display/display`): the VMM display client and
// the console whose events renderers subscribe to.
export { VfioDisplay, defaultSupports } from './VfioDisplay.ts';
export type { VfioDisplayOptions, RefreshPolicy, DisplayMode, DisplayStats, CacheEntryInfo } from './VfioDisplay.ts';
export { DisplayConsole } from './DisplayConsole.ts';
export type { DisplayStatus, StatusReason, CursorShape, CursorPosition, DisplaySize } from './DisplayConsole.ts';
export type { DisplayBuffer, BufferKind, Rect } from './DisplayBuffer.ts';
export { RealClock, VirtualClock } from '../base/Clock.ts';
export type { Clock } from '../base/Clock.ts';
export type { IDisposable } from '../base/Disposable.ts';
export type { Sys, Mapping } from '../vfio/Sys.ts';
