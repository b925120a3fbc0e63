/** Encoding numbers (RFC 6143 §7.7, rfbproto): data encodings and the pseudo-encodings used here. */
export const ENCODING = {
  RAW: 0,
  COPY_RECT: 1,
  ZRLE: 16,
  TIGHT: 7,
  DESKTOP_SIZE: -223,
  LAST_RECT: -224,
  CURSOR: -239,
  QEMU_POINTER_MOTION: -257,
  QEMU_EXT_KEY: -258,
  EXTENDED_DESKTOP_SIZE: -308,
  DESKTOP_NAME: -307,
  FENCE: -312,
  CONTINUOUS_UPDATES: -313,
} as const;

/** What a client's SetEncodings asks for, reduced to the choices this server makes. */
export interface ClientEncodings {
  /** The data encoding for pixel rectangles: the first of ZRLE/Raw the client listed (Raw if none). */
  readonly data: number;
  readonly copyRect: boolean;
  readonly cursor: boolean;
  readonly desktopSize: boolean;
  readonly extendedDesktopSize: boolean;
  readonly lastRect: boolean;
  readonly fence: boolean;
  readonly continuousUpdates: boolean;
  readonly qemuExtKey: boolean;
  readonly desktopName: boolean;
}

const SERVED_DATA = new Set<number>([ENCODING.ZRLE, ENCODING.RAW]);

export function readEncodings(list: ArrayLike<number>): ClientEncodings {
  let data: number = ENCODING.RAW;
  let found = false;
  const has = new Set<number>();
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    if (!found && SERVED_DATA.has(e)) {
      data = e;
      found = true;
    }
    has.add(e);
  }
  return {
    data,
    copyRect: has.has(ENCODING.COPY_RECT),
    cursor: has.has(ENCODING.CURSOR),
    desktopSize: has.has(ENCODING.DESKTOP_SIZE),
    extendedDesktopSize: has.has(ENCODING.EXTENDED_DESKTOP_SIZE),
    lastRect: has.has(ENCODING.LAST_RECT),
    fence: has.has(ENCODING.FENCE),
    continuousUpdates: has.has(ENCODING.CONTINUOUS_UPDATES),
    qemuExtKey: has.has(ENCODING.QEMU_EXT_KEY),
    desktopName: has.has(ENCODING.DESKTOP_NAME),
  };
}
