import { F_DUPFD_CLOEXEC, libc } from '../../linux/Libc.ts';
import { DbusConnection } from '../../qemu/dbus/DbusConnection.ts';
import { UnixSocket, socketPair } from '../../qemu/dbus/UnixSocket.ts';
import { DMABUF2_IFACE, LISTENER_IFACE, LISTENER_PATH, type QemuListener } from '../../qemu/QemuListener.ts';

/**
 * A test double of QEMU's side of a display listener (ui/dbus-listener.c): the SASL server on a
 * real socketpair whose other end carries our listener's D-Bus connection (as RegisterListener
 * hands QEMU one end), calling the listener the way QEMU does. An fd goes out as QEMU's
 * GUnixFDList sends it: dup()ed per call (the listener receives a new fd number of the same file
 * each time, while it still holds the one before).
 * Each call resolves when the listener has replied (the state is then settled).
 */
export class QemuDisplayDouble {
  private constructor(private readonly _qemu: DbusConnection, public readonly listenerSide: DbusConnection) {}

  public static async connect(listener: QemuListener): Promise<QemuDisplayDouble> {
    const [ours, theirs] = socketPair();
    const [l, q] = await Promise.all([
      DbusConnection.open(new UnixSocket(ours), 'client', { setup: (c) => listener.serveOn(c) }),
      DbusConnection.open(new UnixSocket(theirs), 'server'),
    ]);
    return new QemuDisplayDouble(q, l);
  }

  private async _call(iface: string, member: string, signature: string, body: unknown[]): Promise<void> {
    await this._qemu.call({ path: LISTENER_PATH, interface: iface, member, signature, body });
  }

  private async _withDup(fd: number, send: (dup: number) => Promise<void>): Promise<void> {
    const dup = libc().fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) throw new Error(`dup of fd ${fd} failed (errno ${libc().errno()})`);
    try {
      await send(dup);
    } finally {
      libc().close(dup);
    }
  }

  /** ScanoutDMABUF(h dmabuf, u width, u height, u stride, u fourcc, t modifier, b y0_top). */
  public scanoutDmabuf(fd: number, width: number, height: number, stride: number, fourcc: number, y0Top = true, modifier = 0n): Promise<void> {
    return this._withDup(fd, (d) => this._call(LISTENER_IFACE, 'ScanoutDMABUF', 'huuuutb', [d, width, height, stride, fourcc, modifier, y0Top]));
  }

  /** ScanoutDMABUF2 with one plane at `offset` (newer QEMU). */
  public scanoutDmabuf2(fd: number, offset: number, width: number, height: number, stride: number, fourcc: number): Promise<void> {
    return this._withDup(fd, (d) => this._call(DMABUF2_IFACE, 'ScanoutDMABUF2', 'ahuuuuauauuuuutb', [[d], 0, 0, width, height, [offset], [stride], 1, fourcc, width, height, 0n, true]));
  }

  /** UpdateDMABUF(i x, i y, i width, i height): the guest drew there. */
  public updateDmabuf(x: number, y: number, width: number, height: number): Promise<void> {
    return this._call(LISTENER_IFACE, 'UpdateDMABUF', 'iiii', [x, y, width, height]);
  }

  /** Scanout(u width, u height, u stride, u pixman_format, ay data): a plain surface, by value. */
  public scanout(width: number, height: number, stride: number, pixman: number, data: Uint8Array): Promise<void> {
    return this._call(LISTENER_IFACE, 'Scanout', 'uuuuay', [width, height, stride, pixman, data]);
  }

  public disable(): Promise<void> {
    return this._call(LISTENER_IFACE, 'Disable', '', []);
  }

  /** QEMU goes away: its end of the socketpair closes (the listener's side sees EOF). */
  public close(): void {
    this._qemu.close('QEMU exited');
  }

  /** Close both ends (end of a test). */
  public dispose(): void {
    this._qemu.close();
    this.listenerSide.close();
  }
}
