/**
 * Linux evdev key codes (what the viewer sends) → QEMU "key numbers" (qnum), what QEMU 7.2's
 * org.qemu.Display1.Keyboard.Press/Release take: the PC XT set-1 scancode, with 0x80 OR-ed in
 * for E0-prefixed keys (Pause, E1-prefixed, is 0xc6). Derived from keycodemapdb's keymaps.csv
 * (Linux keycode → AT set1 column), the table QEMU's own maps are generated from.
 */

/** KEY_ESC (1) .. KEY_KPDOT (83) and KEY_SYSRQ-area 84 are their set-1 scancode. */
const IDENTITY_MAX = 84;

const OTHERS: readonly (readonly [number, number])[] = [
  [85, 0x76], [86, 0x56], [87, 0x57], [88, 0x58], [89, 0x73], [90, 0x78], [91, 0x77], [92, 0x79],
  [93, 0x70], [94, 0x7b], [95, 0x5c], [96, 0x9c], [97, 0x9d], [98, 0xb5], [99, 0x54], [100, 0xb8],
  [101, 0x5b], [102, 0xc7], [103, 0xc8], [104, 0xc9], [105, 0xcb], [106, 0xcd], [107, 0xcf], [108,
  0xd0], [109, 0xd1], [110, 0xd2], [111, 0xd3], [112, 0xef], [113, 0xa0], [114, 0xae], [115, 0xb0],
  [116, 0xde], [117, 0x59], [118, 0xce], [119, 0xc6], [120, 0x8b], [121, 0x7e], [124, 0x7d], [125,
  0xdb], [126, 0xdc], [127, 0xdd], [128, 0xe8], [129, 0x85], [130, 0x86], [131, 0x87], [132, 0x8c],
  [133, 0xf8], [134, 0x64], [135, 0x65], [136, 0xc1], [137, 0xbc], [138, 0xf5], [139, 0x9e], [140,
  0xa1], [141, 0x66], [142, 0xdf], [143, 0xe3], [144, 0x67], [145, 0x68], [146, 0x69], [147, 0x93],
  [148, 0x9f], [149, 0x97], [150, 0x82], [151, 0x6a], [152, 0x92], [153, 0x6b], [154, 0xa6], [155,
  0xec], [156, 0xe6], [157, 0xeb], [158, 0xea], [159, 0xe9], [160, 0xa3], [161, 0x6c], [162, 0xfd],
  [163, 0x99], [164, 0xa2], [165, 0x90], [166, 0xa4], [167, 0xb1], [168, 0x98], [169, 0x63], [171,
  0x81], [172, 0xb2], [173, 0xe7], [176, 0x88], [177, 0x75], [178, 0x8f], [179, 0xf6], [180, 0xfb],
  [181, 0x89], [182, 0x8a], [183, 0x5d], [184, 0x5e], [185, 0x5f], [186, 0x55], [187, 0x83], [188,
  0xf7], [189, 0x84], [190, 0x5a], [191, 0x74], [192, 0xf9], [193, 0x6d], [194, 0x6f], [195, 0x95],
  [196, 0x96], [197, 0x9a], [198, 0x9b], [199, 0xa7], [200, 0xa8], [201, 0xa9], [202, 0xab], [203,
  0xac], [204, 0xad], [205, 0xa5], [206, 0xaf], [207, 0xb3], [208, 0xb4], [209, 0xb6], [210, 0xb9],
  [211, 0xba], [212, 0xbb], [213, 0xbd], [214, 0xbe], [215, 0xbf], [216, 0xc0], [217, 0xe5], [218,
  0xc2], [219, 0xc3], [220, 0xc4], [221, 0xc5], [222, 0x94], [223, 0xca], [224, 0xcc], [225, 0xd4],
  [226, 0xed], [227, 0xd6], [228, 0xd7], [229, 0xd8], [230, 0xd9], [231, 0xda], [232, 0xe4], [233,
  0x8e], [234, 0xd5], [235, 0xf0], [236, 0xf1], [237, 0xf2], [238, 0xf3], [239, 0xf4]
];

const TABLE = new Map<number, number>(OTHERS);

/** The qnum for an evdev code, or undefined when QEMU's keyboard has no such key. */
export function evdevToQnum(code: number): number | undefined {
  if (!Number.isInteger(code)) return undefined;
  if (code >= 1 && code <= IDENTITY_MAX) return code;
  return TABLE.get(code);
}

/** qnum → evdev: the inverse of the table above (a named key wins over the identity range). */
const INVERSE = new Map<number, number>(OTHERS.map(([evdev, qnum]) => [qnum, evdev]));

/**
 * The evdev code for a qnum (QEMU's extended key events in RFB carry it), or 0 when it names no
 * key we pass on.
 */
export function qnumToEvdev(qnum: number): number {
  if (!Number.isInteger(qnum) || qnum <= 0) return 0;
  return INVERSE.get(qnum) ?? (qnum <= IDENTITY_MAX ? qnum : 0);
}
