/**
 * The vnc bench section's sizes and result shapes, apart from the measurement itself
 * (VncBench.ts), which boots the repository's QEMU test guest and uses the test kit's clients:
 * the package ships this file and the section, not the measurement.
 */
export interface VncBenchOptions {
  /** Measured keystrokes per pass. */
  readonly keys: number;
  /** Lines the scrolling activity prints. */
  readonly scrollLines: number;
  /** Quiet time that ends an activity (no update for this long). */
  readonly quietMs: number;
  readonly log: (line: string) => void;
}

export const VNC_SIZES = {
  full: { keys: 40, scrollLines: 400, quietMs: 400 },
  quick: { keys: 12, scrollLines: 150, quietMs: 300 },
  tiny: { keys: 3, scrollLines: 40, quietMs: 250 },
} as const;

export type VncServerName = 'qemu' | 'ours';
export type VncActivity = 'type' | 'scroll' | 'clear';

export interface ActivityFigures {
  readonly server: VncServerName;
  readonly encoding: 'ZRLE' | 'Raw';
  readonly activity: VncActivity;
  /** Keystrokes (type) or 1 (scroll, clear). */
  readonly events: number;
  readonly updates: number;
  readonly bytes: number;
  /** Guest change (key sent) → client's decoded frame shows it, ms. */
  readonly latencyMs: { p50: number; p99: number; samples: number };
  /** Key sent → first D-Bus Update from QEMU (its refresh tick), ms — the same for both servers. */
  readonly keyToDbusUpdateMs: { p50: number; p99: number };
  /** Our process (listener + lab + the test client), ms of CPU over the activity. */
  readonly ourProcessCpuMs: number;
  /** The QEMU process (guest emulation included), ms of CPU over the activity. */
  readonly qemuCpuMs: number;
}

/** How a browser-style client watched the guest: the gateway's WebSocket, or RFB (ZRLE) from QEMU's -vnc or ours. */
export type WatchPath = 'gateway' | 'qemu-vnc' | 'our-vnc';

export interface GatewayFigures {
  readonly path: WatchPath;
  readonly activity: 'print' | 'scroll';
  readonly seconds: number;
  readonly dbusUpdates: number;
  readonly dbusBytes: number;
  /** WebSocket messages (gateway) or FramebufferUpdates (VNC) the client got. */
  readonly frames: number;
  /** Bytes the client read on that path. */
  readonly bytes: number;
  readonly updatesPerSec: number;
  readonly dbusBytesPerSec: number;
  readonly framesPerSec: number;
  readonly bytesPerSec: number;
  /** The last D-Bus Update decoded before each frame → that frame at the client, ms. */
  readonly updateToFrameMs: { p50: number; p99: number; samples: number };
}

export interface VncBenchResult {
  readonly width: number;
  readonly height: number;
  readonly keys: number;
  readonly scrollLines: number;
  readonly figures: readonly ActivityFigures[];
  readonly gateway: readonly GatewayFigures[];
  /** Our RFB server's copies into its per-VM shadow over the whole run (zero copy is counted). */
  readonly shadowBytesCopied: number;
  readonly shadowBytes: number;
}

