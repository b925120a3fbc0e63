/**
 * What a register write did, so the device knows whether to count it or signal the display:
 *  - 'ignored': no writable register there (unknown or read-only); counted by the device;
 *  - 'stored':  stored, with no visible effect yet (an armed flip, a value rewritten unchanged,
 *               a register the exported plane does not depend on);
 *  - 'changed': stored, and what decodePlane reports may have changed (signal the display).
 */
export type RegWrite = 'ignored' | 'stored' | 'changed';

/** Store-and-compare helper: 'changed' when the value differs. */
export function changed(old: number, value: number): RegWrite {
  return old === value ? 'stored' : 'changed';
}
