import type { KeyAction } from './Keyboard.ts';
import type { Tty } from './Tty.ts';

/** The prompt every shell prints; the host waits for it on screen. */
export const PROMPT = 'root@vgpu:~# ';

/** Longest command line accepted (like a tty's canonical-mode line limit). */
const MAX_LINE = 200;

export interface CommandInfo {
  readonly name: string;
  readonly usage: string;
  readonly help: string;
}

/** What the OS offers the shell beyond its built-ins. */
export interface ShellHost {
  readonly commands: readonly CommandInfo[];
  /** Run a command; returns lines to print, or undefined when the command is unknown. */
  exec(name: string, args: readonly string[], tty: Tty): string[] | undefined;
}

const BUILTINS: readonly CommandInfo[] = [
  { name: 'help', usage: 'help', help: 'list commands' },
  { name: 'clear', usage: 'clear', help: 'clear the screen' },
];

/**
 * A tiny line-oriented shell on one tty: echoes typed characters, edits with backspace, runs the
 * line on Enter. Ctrl+C drops the line, Ctrl+L clears the screen, Ctrl+U erases the line.
 */
export class Shell {
  private _line = '';
  private _lastCommand = '';

  public constructor(public readonly tty: Tty, private readonly _host: ShellHost) {}

  public get line(): string {
    return this._line;
  }

  public get lastCommand(): string {
    return this._lastCommand;
  }

  public prompt(): void {
    this.tty.write(PROMPT);
  }

  public input(action: KeyAction): void {
    switch (action.kind) {
      case 'char':
        if (this._line.length >= MAX_LINE) return;
        this._line += action.ch;
        this.tty.write(action.ch);
        return;
      case 'backspace':
        if (!this._line) return;
        this._line = this._line.slice(0, -1);
        this.tty.write('\b \b');
        return;
      case 'enter': {
        const line = this._line;
        this._line = '';
        this.tty.write('\n');
        this.run(line);
        this.prompt();
        return;
      }
      case 'ctrl':
        if (action.key === 'c') {
          this._line = '';
          this.tty.write('^C\n');
          this.prompt();
        } else if (action.key === 'l') {
          this.tty.clear();
          this.prompt();
          this.tty.write(this._line);
        } else if (action.key === 'u') {
          this.tty.write('\b \b'.repeat(this._line.length));
          this._line = '';
        }
        return;
      default:
        return;
    }
  }

  /** Run one command line and print its output (no prompt). */
  public run(line: string): void {
    const words = line.trim().split(/\s+/).filter((w) => w !== '');
    if (words.length === 0) return;
    const [name, ...args] = words as [string, ...string[]];
    this._lastCommand = name;
    if (name === 'help') {
      for (const line of helpLines([...BUILTINS, ...this._host.commands], this.tty.cols)) this.tty.write(`${line}\n`);
      return;
    }
    if (name === 'clear') {
      this.tty.clear();
      return;
    }
    const out = this._host.exec(name, args, this.tty);
    if (out === undefined) {
      this.tty.write(`sh: ${name}: command not found\n`);
      return;
    }
    for (const l of out) this.tty.write(`${l}\n`);
  }
}

/** Longest usage column before a usage gets a line of its own (as argparse's help position). */
const HELP_COLUMN_MAX = 26;

/**
 * `help` laid out for a tty `cols` wide: usage, then the text in a column, word-wrapped to the
 * tty (a narrow Terminal window would otherwise break words); a usage too long for the column
 * stands on its own line with its text below.
 */
export function helpLines(cmds: ReadonlyArray<{ readonly usage: string; readonly help: string }>, cols: number): string[] {
  let col = Math.min(HELP_COLUMN_MAX, Math.max(...cmds.map((c) => c.usage.length)) + 4);
  if (cols - col < 16) col = 6;
  const width = Math.max(8, cols - col);
  const out: string[] = [];
  for (const c of cmds) {
    const head = `  ${c.usage}`;
    const text = wrapWords(c.help, width);
    if (head.length + 2 <= col) {
      out.push(`${head.padEnd(col)}${text[0] ?? ''}`.trimEnd());
      text.shift();
    } else {
      out.push(head);
    }
    for (const t of text) out.push(`${' '.repeat(col)}${t}`);
  }
  return out;
}

/** Words into lines of at most `width` characters (a longer word is cut). */
function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (let word of text.split(/\s+/).filter((w) => w !== '')) {
    while (word.length > width) {
      if (cur !== '') lines.push(cur);
      lines.push(word.slice(0, width));
      word = word.slice(width);
      cur = '';
    }
    if (cur === '') cur = word;
    else if (cur.length + 1 + word.length <= width) cur += ` ${word}`;
    else {
      lines.push(cur);
      cur = word;
    }
  }
  if (cur !== '') lines.push(cur);
  return lines;
}
