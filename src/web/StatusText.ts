import { StatusCode } from '../protocol/RemoteProtocol.ts';

/**
 * One sentence per STATUS code: the viewer always says why nothing (or something stale) shows,
 * never a silent black canvas. `detail` is the server's text, appended when it adds something.
 */
export function statusSentence(code: number, detail: string): string {
  const d = detail.trim();
  const withDetail = (s: string): string => (d.length > 0 && !s.includes(d) ? `${s} (${d})` : s);
  switch (code) {
    case StatusCode.OK: return d;
    case StatusCode.CONNECTING: return withDetail('Connecting to the VM…');
    case StatusCode.NO_PLANE_YET:
      return withDetail('No picture yet: the guest has not set up a primary plane.');
    case StatusCode.PLANE_DISABLED:
      return withDetail('The guest disabled its primary plane (display off or blanked).');
    case StatusCode.UNSUPPORTED_FORMAT:
      return withDetail('The guest scans out a pixel format this viewer cannot show.');
    case StatusCode.UNSUPPORTED_MODIFIER:
      return withDetail('The guest uses a tiling modifier this viewer cannot address.');
    case StatusCode.DEVICE_ERROR: return withDetail('The vGPU reported an error.');
    case StatusCode.VM_STOPPED: return withDetail('The VM is stopped.');
    case StatusCode.DISCONNECTED: return withDetail('The server lost the VM\'s display.');
    default: return withDetail(`Unknown status ${code}.`);
  }
}

/** Sentence for a plane the viewer itself cannot show (PlaneCheck problem kinds). */
export function planeProblemSentence(kind: 'format' | 'modifier' | 'geometry', message: string): string {
  switch (kind) {
    case 'format': return `Unsupported pixel format: ${message}.`;
    case 'modifier': return `Unsupported tiling modifier: ${message}.`;
    case 'geometry': return `Cannot show this buffer: ${message}.`;
  }
}

/** Words for a server EVENT; `repeats`: one of many alike (counted, not listed). Never raw JSON. */
export function describeServerEvent(e: unknown): { text: string; repeats: boolean } {
  if (typeof e === 'string') return { text: e.slice(0, 200), repeats: false };
  if (typeof e !== 'object' || e === null) return { text: 'an event the viewer does not know', repeats: false };
  const x = e as Record<string, unknown>;
  const num = (k: string): string => (typeof x[k] === 'number' ? String(x[k]) : '?');
  switch (x.kind) {
    case 'scanout': return { text: 'flips on the host', repeats: true };
    case 'cursor': return { text: 'cursor shape changes on the host', repeats: true };
    case 'resize': return { text: `the guest display is now ${num('width')}×${num('height')}`, repeats: false };
    case 'release': return { text: `the host released dma-buf ${num('id')}`, repeats: false };
    case 'status': {
      const msg = typeof x.message === 'string' && x.message !== '' ? x.message
        : typeof x.reason === 'string' ? x.reason : 'changed';
      return { text: `display status: ${msg}`, repeats: false };
    }
    default:
      return { text: `host event: ${typeof x.kind === 'string' ? x.kind.slice(0, 40) : 'unnamed'}`, repeats: false };
  }
}
