/**
 * KeyboardEvent.code (the physical key, layout independent) → Linux evdev key code
 * (include/uapi/linux/input-event-codes.h). The guest applies its own keymap, so a German or
 * French keyboard works as long as the guest is configured for it; characters are never sent.
 */
export const KEY = {
  ESC: 1, BACKSPACE: 14, TAB: 15, ENTER: 28, LEFTCTRL: 29, LEFTSHIFT: 42, RIGHTSHIFT: 54,
  LEFTALT: 56, SPACE: 57, CAPSLOCK: 58, F1: 59, F10: 68, F11: 87, F12: 88, SCROLLLOCK: 70,
  RIGHTCTRL: 97, RIGHTALT: 100, DELETE: 111, LEFTMETA: 125, RIGHTMETA: 126,
} as const;

/** Evdev codes of F1…F12 (F11 and F12 are not contiguous with F1…F10). */
export const F_KEYS: readonly number[] = [59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 87, 88];

const TABLE: ReadonlyArray<readonly [string, number]> = [
  ['Escape', 1],
  ['Digit1', 2], ['Digit2', 3], ['Digit3', 4], ['Digit4', 5], ['Digit5', 6], ['Digit6', 7],
  ['Digit7', 8], ['Digit8', 9], ['Digit9', 10], ['Digit0', 11],
  ['Minus', 12], ['Equal', 13], ['Backspace', 14], ['Tab', 15],
  ['KeyQ', 16], ['KeyW', 17], ['KeyE', 18], ['KeyR', 19], ['KeyT', 20], ['KeyY', 21],
  ['KeyU', 22], ['KeyI', 23], ['KeyO', 24], ['KeyP', 25],
  ['BracketLeft', 26], ['BracketRight', 27], ['Enter', 28], ['ControlLeft', 29],
  ['KeyA', 30], ['KeyS', 31], ['KeyD', 32], ['KeyF', 33], ['KeyG', 34], ['KeyH', 35],
  ['KeyJ', 36], ['KeyK', 37], ['KeyL', 38],
  ['Semicolon', 39], ['Quote', 40], ['Backquote', 41], ['ShiftLeft', 42], ['Backslash', 43],
  ['KeyZ', 44], ['KeyX', 45], ['KeyC', 46], ['KeyV', 47], ['KeyB', 48], ['KeyN', 49], ['KeyM', 50],
  ['Comma', 51], ['Period', 52], ['Slash', 53], ['ShiftRight', 54], ['NumpadMultiply', 55],
  ['AltLeft', 56], ['Space', 57], ['CapsLock', 58],
  ['F1', 59], ['F2', 60], ['F3', 61], ['F4', 62], ['F5', 63], ['F6', 64], ['F7', 65], ['F8', 66],
  ['F9', 67], ['F10', 68], ['NumLock', 69], ['ScrollLock', 70],
  ['Numpad7', 71], ['Numpad8', 72], ['Numpad9', 73], ['NumpadSubtract', 74],
  ['Numpad4', 75], ['Numpad5', 76], ['Numpad6', 77], ['NumpadAdd', 78],
  ['Numpad1', 79], ['Numpad2', 80], ['Numpad3', 81], ['Numpad0', 82], ['NumpadDecimal', 83],
  ['Lang5', 85], ['IntlBackslash', 86], ['F11', 87], ['F12', 88], ['IntlRo', 89],
  ['Lang3', 90], ['Lang4', 91], ['Convert', 92], ['KanaMode', 93], ['NonConvert', 94],
  ['NumpadEnter', 96], ['ControlRight', 97], ['NumpadDivide', 98], ['PrintScreen', 99],
  ['AltRight', 100], ['Home', 102], ['ArrowUp', 103], ['PageUp', 104], ['ArrowLeft', 105],
  ['ArrowRight', 106], ['End', 107], ['ArrowDown', 108], ['PageDown', 109], ['Insert', 110],
  ['Delete', 111], ['AudioVolumeMute', 113], ['VolumeMute', 113], ['AudioVolumeDown', 114],
  ['VolumeDown', 114], ['AudioVolumeUp', 115], ['VolumeUp', 115], ['Power', 116],
  ['NumpadEqual', 117], ['Pause', 119], ['NumpadComma', 121], ['Lang1', 122], ['Lang2', 123],
  ['IntlYen', 124], ['MetaLeft', 125], ['OSLeft', 125], ['MetaRight', 126], ['OSRight', 126],
  ['ContextMenu', 127], ['BrowserStop', 128], ['Again', 129], ['Props', 130], ['Undo', 131],
  ['Copy', 133], ['Open', 134], ['Paste', 135], ['Find', 136], ['Cut', 137], ['Help', 138],
  ['LaunchApp2', 140], ['Sleep', 142], ['WakeUp', 143], ['LaunchMail', 155],
  ['BrowserFavorites', 156], ['BrowserBack', 158], ['BrowserForward', 159],
  ['MediaTrackNext', 163], ['MediaPlayPause', 164], ['MediaTrackPrevious', 165], ['MediaStop', 166],
  ['BrowserHome', 172], ['BrowserRefresh', 173], ['NumpadParenLeft', 179],
  ['NumpadParenRight', 180],
  ['F13', 183], ['F14', 184], ['F15', 185], ['F16', 186], ['F17', 187], ['F18', 188],
  ['F19', 189], ['F20', 190], ['F21', 191], ['F22', 192], ['F23', 193], ['F24', 194],
  ['BrowserSearch', 217],
];

const BY_CODE = new Map<string, number>(TABLE);

/** The evdev code of a physical key, or undefined for keys with no Linux equivalent. */
export function evdevCode(code: string): number | undefined {
  return BY_CODE.get(code);
}

/** A named key combination the Send-key menu offers, pressed in order and released in reverse. */
export interface KeyCombo {
  readonly label: string;
  readonly codes: readonly number[];
}

/** The Send-key menu: Ctrl+Alt+Del, Ctrl+Alt+Backspace, then Ctrl+Alt+F1…F12 (Cockpit's list). */
export const SEND_KEY_COMBOS: readonly KeyCombo[] = [
  { label: 'Ctrl+Alt+Del', codes: [KEY.LEFTCTRL, KEY.LEFTALT, KEY.DELETE] },
  { label: 'Ctrl+Alt+Backspace', codes: [KEY.LEFTCTRL, KEY.LEFTALT, KEY.BACKSPACE] },
  ...F_KEYS.map((f, i) => ({ label: `Ctrl+Alt+F${i + 1}`, codes: [KEY.LEFTCTRL, KEY.LEFTALT, f] })),
];
