/**
 * A lab server option that cannot work (a non-loopback address without a token, an empty token,
 * a port out of range). Thrown before anything is bound; the CLI exits 2 with the message.
 * A RangeError, like every other configuration error in this code base.
 */
export class ServerConfigError extends RangeError {
  public override readonly name = 'ServerConfigError';
}
