/**
 * Reconnect delays: 0.5 s, 1 s, 2 s, then 3 s for every later attempt. The cap stays well under
 * the ~10 s users wait before giving up on a console, so a restarted server is back within 3 s.
 */
export const enum BackoffLimits {
  FIRST_MS = 500,
  CAP_MS = 3000,
}

/** Delay before reconnect attempt `attempt` (1-based). */
export function reconnectDelay(attempt: number): number {
  const n = Math.max(1, Math.floor(attempt));
  return Math.min(BackoffLimits.CAP_MS, BackoffLimits.FIRST_MS * 2 ** Math.min(n - 1, 16));
}

/** "0.4 s" below a second (a 0.5 s wait never reads "1 s"), whole seconds rounded up above. */
export function countdownText(ms: number): string {
  const m = Math.max(0, ms);
  return m < 1000 ? `${(Math.ceil(m / 100) / 10).toFixed(1)} s` : `${Math.ceil(m / 1000)} s`;
}

/** Why a WebSocket closed, in words: the server's own reason when it gave one, else its code's. */
export function closeText(code: number, reason: string): string {
  if (reason.trim() !== '') return reason.trim();
  switch (code) {
    case 1000: return 'the server closed the connection';
    case 1001: return 'the server went away (stopped or restarting)';
    case 1006: return 'the connection to the server was lost';
    case 1008: return 'the server refused this viewer (token or origin)';
    case 1009: return 'a message was too large';
    case 1011: return 'the server hit an internal error';
    case 1012: return 'the server is restarting';
    case 1013: return 'the server is busy; trying again';
    case 1015: return 'the secure connection failed';
    default: return 'the connection closed';
  }
}
