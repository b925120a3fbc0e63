/** Anything that owns a handle, a timer, a texture or a subscription. */
export interface IDisposable {
  dispose(): void;
}

/** Base class that disposes registered children with itself (xterm.js style). */
export class Disposable implements IDisposable {
  private readonly _children: IDisposable[] = [];
  private _disposed = false;

  public get isDisposed(): boolean {
    return this._disposed;
  }

  public dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    // Children go in reverse order of registration: the newest depends on the older ones.
    for (let i = this._children.length - 1; i >= 0; i--) this._children[i]!.dispose();
    this._children.length = 0;
  }

  protected _register<T extends IDisposable>(child: T): T {
    if (this._disposed) child.dispose();
    else this._children.push(child);
    return child;
  }
}

export function toDisposable(fn: () => void): IDisposable {
  let done = false;
  return { dispose: () => { if (!done) { done = true; fn(); } } };
}
