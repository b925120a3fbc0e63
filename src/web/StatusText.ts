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
