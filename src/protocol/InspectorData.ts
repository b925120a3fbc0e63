/**
 * The JSON payloads of STATS and EVENT: what the server tells the viewer's stats overlay and
 * inspector. The server builds them from these types; the viewer reads them field by field
 * (`readDirectScanout` and the like), because on its side they are untrusted input.
 */

/** A value as JSON carries it: bigints (modifiers) travel as `0x…` hex strings. */
export type Wire<T> = T extends bigint ? string
  : T extends readonly (infer U)[] ? Wire<U>[]
    : T extends object ? { readonly [K in keyof T]: Wire<T[K]> }
      : T;

/**
 * Could the host scan the shown guest buffer out directly on one of its KMS planes (the seed's
 * "use the dma-buf as a plane in the host drm driver"), and if not, why not.
 */
export interface DirectScanout {
  readonly direct: boolean;
  /** The modelled host device ('i915-like', ...). */
  readonly host: string;
  /** The host plane that would show the buffer (direct only). */
  readonly plane?: number;
  /** Why not: 'format' | 'modifier' | 'size' | 'stride' | 'cursor-size' | 'with-cursor' | ... */
  readonly code?: string;
  /** One plain sentence for the inspector. */
  readonly sentence: string;
}

/** The VM channel's costs (one channel per watched VM, shared by its clients). */
export interface ChannelStats {
  readonly clients: number;
  readonly buffers: number;
  /** Guest bytes hashed to find the blocks that changed. */
  readonly bytesHashed: number;
  readonly chunkCache: { readonly entries: number; readonly bytes: number; readonly hits: number; readonly misses: number };
}

/** One client's mirror: queue, what it sent, what it holds. */
export interface MirrorStats {
  readonly attached: string | null;
  readonly queuedBytes: number;
  readonly queuedPeak: number;
  readonly bytesSent: number;
  readonly messagesSent: number;
  readonly dataBytes: number;
  readonly chunks: number;
  readonly creates: number;
  readonly releases: number;
  readonly scanouts: number;
  readonly frames: number;
  readonly cursorDefines: number;
  readonly cursorMoves: number;
  readonly buffersHeld: number;
  readonly eventsDropped: number;
  readonly controlDropped: number;
  readonly lastAck: number;
  readonly frameSeq: number;
}

/** One WebSocket client: its session counters and its mirror's. */
export interface ClientStats extends MirrorStats {
  readonly id: number;
  readonly remote: string;
  readonly vm: string | null;
  readonly received: number;
  readonly inputs: number;
  readonly errors: number;
  readonly keysDown: number;
  readonly lastDrainAgeMs: number;
}

/** The display counters the viewer reads (the server sends all of the display's). */
export interface DisplayCounters {
  readonly mode: string;
  readonly policy: string;
  readonly requestedPolicy: string;
  readonly policyNote: string;
  readonly gets: number;
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly cacheEntries: number;
  readonly evictions: number;
  readonly bytesCopied: number;
  readonly scanouts: number;
  readonly queries: number;
  readonly refreshes: number;
}

/**
 * The VM part of STATS, built once per tick per watched VM. The display parts are whatever the
 * VM's display offers (absent for a display without introspection).
 */
export interface VmStats<Display extends DisplayCounters = DisplayCounters, Cache = unknown, Plane = unknown> {
  readonly vm: string;
  readonly display?: Display;
  readonly cache?: readonly Cache[];
  readonly planes?: { readonly primary: Plane; readonly cursor: Plane };
  readonly channel?: ChannelStats;
  /** For the primary buffer shown now (absent before the first scanout). */
  readonly directScanout?: DirectScanout;
}

/** A STATS message: the VM's, this client's, and the server's load. */
export type StatsPayload<V extends VmStats = VmStats> = V & {
  /** Server time (Date.now()) when the payload was built. */
  readonly t: number;
  readonly client: ClientStats & { readonly bytesPerSec: number };
  readonly server: { readonly clients: number; readonly queuedBytes: number };
};

/** An EVENT message (the inspector's timeline); `t` is server time, `vm` the channel's VM. */
export type InspectorEvent = { readonly t: number } & (
  | { readonly kind: 'vms'; readonly vms: readonly unknown[] }
  | ({ readonly vm: string } & ChannelEventBody)
);

export type ChannelEventBody =
  | {
    readonly kind: 'scanout'; readonly id: number; readonly remoteId: number; readonly bufferKind: string;
    readonly width: number; readonly height: number; readonly stride: number; readonly drmFormat: number;
    readonly modifier: string; readonly directScanout: DirectScanout;
  }
  | { readonly kind: 'resize'; readonly width: number; readonly height: number }
  | { readonly kind: 'release'; readonly id: number; readonly remoteId: number }
  | { readonly kind: 'status'; readonly reason: string; readonly message: string; readonly errno: number }
  | {
    readonly kind: 'cursor'; readonly id: number | null; readonly remoteId: number | null; readonly hotX: number;
    readonly hotY: number; readonly hotKnown: boolean;
  };

/** The direct-scanout verdict of a STATS payload from the wire, when it is well formed. */
export function readDirectScanout(stats: unknown): DirectScanout | undefined {
  if (typeof stats !== 'object' || stats === null) return undefined;
  const d = (stats as { directScanout?: unknown }).directScanout;
  if (typeof d !== 'object' || d === null) return undefined;
  const v = d as Record<string, unknown>;
  if (typeof v['direct'] !== 'boolean' || typeof v['host'] !== 'string' || typeof v['sentence'] !== 'string') {
    return undefined;
  }
  return {
    direct: v['direct'], host: v['host'], sentence: v['sentence'],
    plane: typeof v['plane'] === 'number' ? v['plane'] : undefined,
    code: typeof v['code'] === 'string' ? v['code'] : undefined,
  };
}
