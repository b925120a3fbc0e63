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
      const all = [...BUILTINS, ...this._host.commands];
      const w = Math.max(...all.map((c) => c.usage.length));
      for (const c of all) this.tty.write(`  ${c.usage.padEnd(w)}  ${c.help}\n`);
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
