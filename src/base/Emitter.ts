import type { IDisposable } from './Disposable.ts';

declare function queueMicrotask(fn: () => void): void;

/** A subscribable event: call it with a listener, dispose the result to unsubscribe. */
export type Event<T> = (listener: (value: T) => void) => IDisposable;

/**
 * A tiny typed event emitter. Listeners run synchronously in subscription order; a listener that
 * throws does not stop the others (the error is rethrown asynchronously so it is not lost).
 */
export class Emitter<T> implements IDisposable {
  private _listeners: Array<(value: T) => void> = [];

  public readonly event: Event<T> = (listener) => {
    this._listeners.push(listener);
    return {
      dispose: () => {
        const i = this._listeners.indexOf(listener);
        if (i >= 0) this._listeners.splice(i, 1);
      },
    };
  };

  public get hasListeners(): boolean {
    return this._listeners.length > 0;
  }

  public fire(value: T): void {
    // Iterate over a snapshot: a listener may unsubscribe itself.
    const list = this._listeners.length === 1 ? this._listeners : this._listeners.slice();
    for (const l of list) {
      try {
        l(value);
      } catch (err) {
        queueMicrotask(() => { throw err; });
      }
    }
  }

  public dispose(): void {
    this._listeners = [];
  }
}
