/** Test support for Connection and Session (Node has no WebSocket global before v22). */

/** Just enough of a WebSocket for Connection: the test drives open/message/close. */
export class FakeSocket {
  public static made: FakeSocket[] = [];
  public readyState = 0;
  public binaryType = 'blob';
  public sent: Uint8Array[] = [];
  public onopen: (() => void) | null = null;
  public onmessage: ((e: { data: unknown }) => void) | null = null;
  public onclose: ((e: { code: number; reason: string }) => void) | null = null;
  public onerror: (() => void) | null = null;
  public closed = false;

  public constructor(public readonly url: string) {
    FakeSocket.made.push(this);
  }

  public send(b: Uint8Array): void { this.sent.push(b); }
  public close(): void { this.closed = true; this.readyState = 3; }
  public open(): void { this.readyState = 1; this.onopen?.(); }
  public message(b: Uint8Array | string): void {
    this.onmessage?.({ data: typeof b === 'string' ? b : b.slice().buffer });
  }
  public drop(reason = ''): void { this.readyState = 3; this.onclose?.({ code: 1006, reason }); }
}

/** A SocketFactory that makes FakeSockets. */
export const fakeFactory = (u: string): WebSocket => new FakeSocket(u) as unknown as WebSocket;
