/** Reconnect delays: 0.5 s, 1 s, 2 s, 4 s, then 8 s for every later attempt. */
export const enum BackoffLimits {
  FIRST_MS = 500,
  CAP_MS = 8000,
}

/** Delay before reconnect attempt `attempt` (1-based). */
export function reconnectDelay(attempt: number): number {
  const n = Math.max(1, Math.floor(attempt));
  return Math.min(BackoffLimits.CAP_MS, BackoffLimits.FIRST_MS * 2 ** Math.min(n - 1, 16));
}
