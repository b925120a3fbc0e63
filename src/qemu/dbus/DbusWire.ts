/**
 * D-Bus wire format (spec "Message Protocol"): signatures, values, message headers, and a framer
 * that cuts a byte stream (plus the SCM_RIGHTS fds that came with it) into messages. Strict: any
 * violation of the spec's validity rules is a `DbusWireError`, never a crash, and nothing a peer
 * declares (array length, body length, fd count) allocates before the bytes are there.
 *
 * JS values: y n q i u d → number; x t → bigint (number accepted on write); b → boolean;
 * s o g → string; h → the fd number (written as an index into the message's fds); ay →
 * Uint8Array (a view of the received message, no copy); other arrays → arrays; dict entries →
 * [key, value] pairs; structs → arrays; v → { sig, value }.
 */

export class DbusWireError extends Error {}

export const enum MessageType { METHOD_CALL = 1, METHOD_RETURN = 2, ERROR = 3, SIGNAL = 4 }
export const FLAG_NO_REPLY_EXPECTED = 0x1;
export const FLAG_NO_AUTO_START = 0x2;

/** The spec's limits. */
export const MAX_MESSAGE = 1 << 27;
export const MAX_ARRAY = 1 << 26;
const MAX_SIG = 255;
const MAX_DEPTH = 32;
/** Decoded values per message: bounds the JS memory a 128 MiB message of tiny items could cost. */
const MAX_VALUES = 1 << 20;
const MAX_FDS = 16;

export interface Variant { readonly sig: string; readonly value: unknown }

export type TypeNode =
  | { readonly code: string; readonly sig: string }
  | { readonly code: 'a'; readonly sig: string; readonly elem: TypeNode }
  | { readonly code: '('; readonly sig: string; readonly fields: readonly TypeNode[] }
  | { readonly code: '{'; readonly sig: string; readonly key: TypeNode; readonly value: TypeNode };

const BASIC = 'ybnqiuxtdsogh';
const ALIGN: Record<string, number> = { y: 1, b: 4, n: 2, q: 2, i: 4, u: 4, x: 8, t: 8, d: 8, s: 4, o: 4, g: 1, h: 4, a: 4, '(': 8, '{': 8, v: 1 };

const sigCache = new Map<string, readonly TypeNode[]>();

/** Parse a signature into complete types; throws DbusWireError when it is not valid. */
export function parseSignature(sig: string): readonly TypeNode[] {
  const hit = sigCache.get(sig);
  if (hit) return hit;
  if (sig.length > MAX_SIG) throw new DbusWireError(`signature longer than ${MAX_SIG}`);
  const out: TypeNode[] = [];
  let i = 0;
  const one = (arrays: number, structs: number): TypeNode => {
    const start = i;
    const c = sig[i++];
    if (c === undefined) throw new DbusWireError(`signature '${sig}' ends early`);
    if (BASIC.includes(c) || c === 'v') return { code: c, sig: c };
    if (c === 'a') {
      if (arrays + 1 > MAX_DEPTH) throw new DbusWireError('signature nests arrays too deep');
      if (sig[i] === '{') {
        i++;
        if (structs + 1 > MAX_DEPTH) throw new DbusWireError('signature nests structs too deep');
        const key = one(arrays + 1, structs + 1);
        if (!BASIC.includes(key.code)) throw new DbusWireError(`dict key must be basic in '${sig}'`);
        const value = one(arrays + 1, structs + 1);
        if (sig[i++] !== '}') throw new DbusWireError(`dict entry must have two types in '${sig}'`);
        const entry: TypeNode = { code: '{', sig: sig.slice(start + 1, i), key, value };
        return { code: 'a', sig: sig.slice(start, i), elem: entry };
      }
      const elem = one(arrays + 1, structs);
      return { code: 'a', sig: sig.slice(start, i), elem };
    }
    if (c === '(') {
      if (structs + 1 > MAX_DEPTH) throw new DbusWireError('signature nests structs too deep');
      const fields: TypeNode[] = [];
      while (sig[i] !== ')') {
        if (i >= sig.length) throw new DbusWireError(`unclosed struct in '${sig}'`);
        fields.push(one(arrays, structs + 1));
      }
      i++;
      if (fields.length === 0) throw new DbusWireError('empty struct');
      return { code: '(', sig: sig.slice(start, i), fields };
    }
    throw new DbusWireError(`invalid type code '${c}' in signature '${sig}'`);
  };
  while (i < sig.length) out.push(one(0, 0));
  if (sigCache.size > 512) sigCache.clear();
  sigCache.set(sig, out);
  return out;
}

const PATH_RE = /^\/$|^(\/[A-Za-z0-9_]+)+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const enc = new TextEncoder();

export function isObjectPath(s: string): boolean {
  return PATH_RE.test(s);
}

// ---- writing ------------------------------------------------------------------------------------

/** A little-endian marshaller; `fds` collects the fds written as 'h'. */
export class WireWriter {
  private _buf = new Uint8Array(256);
  private _dv = new DataView(this._buf.buffer);
  public pos = 0;
  public readonly fds: number[] = [];

  private _need(n: number): void {
    if (this.pos + n <= this._buf.length) return;
    let size = this._buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this._buf.subarray(0, this.pos));
    this._buf = b;
    this._dv = new DataView(b.buffer);
  }

  public align(n: number): void {
    const pad = (n - (this.pos % n)) % n;
    this._need(pad);
    this._buf.fill(0, this.pos, this.pos + pad);
    this.pos += pad;
  }

  public bytes(): Uint8Array {
    return this._buf.subarray(0, this.pos);
  }

  public setU32(at: number, v: number): void {
    this._dv.setUint32(at, v, true);
  }

  public raw(b: Uint8Array): void {
    this._need(b.length);
    this._buf.set(b, this.pos);
    this.pos += b.length;
  }

  public writeAll(sig: string, values: readonly unknown[]): void {
    const types = parseSignature(sig);
    if (types.length !== values.length) throw new DbusWireError(`signature '${sig}' takes ${types.length} values, got ${values.length}`);
    types.forEach((t, i) => this.write(t, values[i]));
  }

  public write(t: TypeNode, v: unknown): void {
    this.align(ALIGN[t.code]!);
    const dv = (): DataView => this._dv;
    switch (t.code) {
      case 'y': this._need(1); this._buf[this.pos++] = num(v, 0, 0xff); return;
      case 'b': this._need(4); dv().setUint32(this.pos, v ? 1 : 0, true); this.pos += 4; return;
      case 'n': this._need(2); dv().setInt16(this.pos, num(v, -0x8000, 0x7fff), true); this.pos += 2; return;
      case 'q': this._need(2); dv().setUint16(this.pos, num(v, 0, 0xffff), true); this.pos += 2; return;
      case 'i': this._need(4); dv().setInt32(this.pos, num(v, -0x80000000, 0x7fffffff), true); this.pos += 4; return;
      case 'u': this._need(4); dv().setUint32(this.pos, num(v, 0, 0xffffffff), true); this.pos += 4; return;
      case 'h': {
        const fd = num(v, 0, 0x7fffffff);
        let idx = this.fds.indexOf(fd);
        if (idx < 0) idx = this.fds.push(fd) - 1;
        this._need(4); dv().setUint32(this.pos, idx, true); this.pos += 4; return;
      }
      case 'x': this._need(8); dv().setBigInt64(this.pos, BigInt(v as bigint), true); this.pos += 8; return;
      case 't': this._need(8); dv().setBigUint64(this.pos, BigInt(v as bigint), true); this.pos += 8; return;
      case 'd': this._need(8); dv().setFloat64(this.pos, Number(v), true); this.pos += 8; return;
      case 's': case 'o': {
        const s = String(v);
        if (t.code === 'o' && !isObjectPath(s)) throw new DbusWireError(`'${s}' is not an object path`);
        const b = enc.encode(s);
        this._need(5 + b.length);
        dv().setUint32(this.pos, b.length, true);
        this._buf.set(b, this.pos + 4);
        this._buf[this.pos + 4 + b.length] = 0;
        this.pos += 5 + b.length;
        return;
      }
      case 'g': {
        const s = String(v);
        parseSignature(s);
        this._need(2 + s.length);
        this._buf[this.pos] = s.length;
        this._buf.set(enc.encode(s), this.pos + 1);
        this._buf[this.pos + 1 + s.length] = 0;
        this.pos += 2 + s.length;
        return;
      }
      case 'v': {
        const va = v as Variant;
        const types = parseSignature(va.sig);
        if (types.length !== 1) throw new DbusWireError('a variant holds exactly one complete type');
        this.write({ code: 'g', sig: 'g' }, va.sig);
        this.write(types[0]!, va.value);
        return;
      }
      case 'a': {
        const at = (t as { elem: TypeNode }).elem;
        this._need(4);
        const lenAt = this.pos;
        this.pos += 4;
        this.align(ALIGN[at.code]!);
        const start = this.pos;
        if (at.code === 'y' && v instanceof Uint8Array) this.raw(v);
        else for (const e of v as Iterable<unknown>) this.write(at, e);
        if (this.pos - start > MAX_ARRAY) throw new DbusWireError('array longer than 64 MiB');
        this._dv.setUint32(lenAt, this.pos - start, true);
        return;
      }
      case '(': {
        const fields = (t as { fields: readonly TypeNode[] }).fields;
        const vs = v as readonly unknown[];
        if (!Array.isArray(vs) || vs.length !== fields.length) throw new DbusWireError(`struct ${t.sig} needs ${fields.length} values`);
        fields.forEach((f, i) => this.write(f, vs[i]));
        return;
      }
      case '{': {
        const e = t as { key: TypeNode; value: TypeNode };
        const [k, val] = v as [unknown, unknown];
        this.write(e.key, k);
        this.write(e.value, val);
        return;
      }
    }
    throw new DbusWireError(`cannot write type '${t.sig}'`);
  }
}

function num(v: unknown, min: number, max: number): number {
  const n = typeof v === 'bigint' ? Number(v) : (v as number);
  if (!Number.isInteger(n) || n < min || n > max) throw new DbusWireError(`${String(v)} is out of range ${min}..${max}`);
  return n;
}

// ---- reading ------------------------------------------------------------------------------------

/** Unmarshals one message's bytes (either byte order). */
export class WireReader {
  public pos: number;
  private readonly _dv: DataView;
  private _values = 0;
  private _variantDepth = 0;

  public constructor(private readonly _buf: Uint8Array, private readonly _le: boolean, start: number, private readonly _end: number, private readonly _fdCount: number) {
    this._dv = new DataView(_buf.buffer, _buf.byteOffset, _buf.byteLength);
    this.pos = start;
  }

  private _avail(n: number): void {
    if (this.pos + n > this._end) throw new DbusWireError('value runs past the end of the message');
  }

  public align(n: number): void {
    const next = this.pos + ((n - (this.pos % n)) % n);
    if (next > this._end) throw new DbusWireError('padding runs past the end of the message');
    for (let p = this.pos; p < next; p++) if (this._buf[p] !== 0) throw new DbusWireError('non-zero padding');
    this.pos = next;
  }

  public readAll(sig: string): unknown[] {
    return parseSignature(sig).map((t) => this.read(t, 0, 0));
  }

  public get atEnd(): boolean {
    return this.pos === this._end;
  }

  private _u32(): number {
    this._avail(4);
    const v = this._dv.getUint32(this.pos, this._le);
    this.pos += 4;
    return v;
  }

  private _string(lenBytes: 1 | 4): string {
    const len = lenBytes === 4 ? this._u32() : (this._avail(1), this._buf[this.pos++]!);
    this._avail(len + 1);
    const b = this._buf.subarray(this.pos, this.pos + len);
    if (this._buf[this.pos + len] !== 0) throw new DbusWireError('string not nul-terminated');
    if (b.includes(0)) throw new DbusWireError('string contains a nul byte');
    let s: string;
    try {
      s = utf8.decode(b);
    } catch {
      throw new DbusWireError('string is not valid UTF-8');
    }
    this.pos += len + 1;
    return s;
  }

  public read(t: TypeNode, arrays: number, structs: number): unknown {
    if (++this._values > MAX_VALUES) throw new DbusWireError('message holds too many values');
    this.align(ALIGN[t.code]!);
    const dv = this._dv;
    const le = this._le;
    switch (t.code) {
      case 'y': this._avail(1); return this._buf[this.pos++]!;
      case 'b': {
        const v = this._u32();
        if (v > 1) throw new DbusWireError(`boolean value ${v}`);
        return v === 1;
      }
      case 'n': this._avail(2); this.pos += 2; return dv.getInt16(this.pos - 2, le);
      case 'q': this._avail(2); this.pos += 2; return dv.getUint16(this.pos - 2, le);
      case 'i': this._avail(4); this.pos += 4; return dv.getInt32(this.pos - 4, le);
      case 'u': return this._u32();
      case 'h': {
        const idx = this._u32();
        if (idx >= this._fdCount) throw new DbusWireError(`fd index ${idx} but the message carries ${this._fdCount} fds`);
        return idx;
      }
      case 'x': this._avail(8); this.pos += 8; return dv.getBigInt64(this.pos - 8, le);
      case 't': this._avail(8); this.pos += 8; return dv.getBigUint64(this.pos - 8, le);
      case 'd': this._avail(8); this.pos += 8; return dv.getFloat64(this.pos - 8, le);
      case 's': return this._string(4);
      case 'o': {
        const s = this._string(4);
        if (!isObjectPath(s)) throw new DbusWireError(`'${s}' is not a valid object path`);
        return s;
      }
      case 'g': {
        const s = this._string(1);
        parseSignature(s);
        return s;
      }
      case 'v': {
        const sig = this._string(1);
        const types = parseSignature(sig);
        if (types.length !== 1) throw new DbusWireError('variant signature is not one complete type');
        if (++this._variantDepth > MAX_DEPTH * 2) throw new DbusWireError('variants nest too deep');
        const value = this.read(types[0]!, arrays, structs);
        this._variantDepth--;
        return { sig, value } satisfies Variant;
      }
      case 'a': {
        if (arrays + 1 > MAX_DEPTH) throw new DbusWireError('arrays nest too deep');
        const len = this._u32();
        if (len > MAX_ARRAY) throw new DbusWireError(`array length ${len} exceeds 64 MiB`);
        const elem = (t as { elem: TypeNode }).elem;
        this.align(ALIGN[elem.code]!);
        this._avail(len);
        const end = this.pos + len;
        if (elem.code === 'y') {
          this.pos = end;
          return this._buf.subarray(end - len, end);
        }
        const out: unknown[] = [];
        while (this.pos < end) out.push(this.read(elem, arrays + 1, structs));
        if (this.pos !== end) throw new DbusWireError('array element runs past the array length');
        return out;
      }
      case '(': {
        if (structs + 1 > MAX_DEPTH) throw new DbusWireError('structs nest too deep');
        return (t as { fields: readonly TypeNode[] }).fields.map((f) => this.read(f, arrays, structs + 1));
      }
      case '{': {
        const e = t as { key: TypeNode; value: TypeNode };
        return [this.read(e.key, arrays, structs + 1), this.read(e.value, arrays, structs + 1)];
      }
    }
    throw new DbusWireError(`cannot read type '${t.sig}'`);
  }
}

// ---- messages -----------------------------------------------------------------------------------

export interface DbusMessage {
  readonly type: MessageType;
  readonly flags: number;
  readonly serial: number;
  readonly path?: string;
  readonly interface?: string;
  readonly member?: string;
  readonly errorName?: string;
  readonly replySerial?: number;
  readonly destination?: string;
  readonly sender?: string;
  readonly signature: string;
  /** Decoded body; undefined when the body did not match its signature (see `bodyError`). */
  readonly body: unknown[];
  /** Set when the header was fine but the body was not valid for its signature. */
  readonly bodyError?: string;
  /** Received fds, owned by whoever handles the message (the connection closes untaken ones). */
  readonly fds: number[];
}

export type OutgoingMessage = Omit<DbusMessage, 'serial' | 'fds' | 'body' | 'bodyError' | 'signature' | 'flags'> & {
  readonly flags?: number;
  readonly signature?: string;
  readonly body?: readonly unknown[];
};

const FIELD = { PATH: 1, INTERFACE: 2, MEMBER: 3, ERROR_NAME: 4, REPLY_SERIAL: 5, DESTINATION: 6, SENDER: 7, SIGNATURE: 8, UNIX_FDS: 9 } as const;
const FIELD_SIG: Record<number, string> = { 1: 'o', 2: 's', 3: 's', 4: 's', 5: 'u', 6: 's', 7: 's', 8: 'g', 9: 'u' };
const HEADER_FIELDS: TypeNode = parseSignature('a(yv)')[0]!;

/** Encode a message (little-endian); returns the bytes and the fds to send with them. */
export function encodeMessage(m: OutgoingMessage, serial: number): { bytes: Uint8Array; fds: number[] } {
  const bodyW = new WireWriter();
  const sig = m.signature ?? '';
  bodyW.writeAll(sig, m.body ?? []);
  const body = bodyW.bytes();
  const fields: [number, Variant][] = [];
  if (m.path !== undefined) fields.push([FIELD.PATH, { sig: 'o', value: m.path }]);
  if (m.interface !== undefined) fields.push([FIELD.INTERFACE, { sig: 's', value: m.interface }]);
  if (m.member !== undefined) fields.push([FIELD.MEMBER, { sig: 's', value: m.member }]);
  if (m.errorName !== undefined) fields.push([FIELD.ERROR_NAME, { sig: 's', value: m.errorName }]);
  if (m.replySerial !== undefined) fields.push([FIELD.REPLY_SERIAL, { sig: 'u', value: m.replySerial }]);
  if (m.destination !== undefined) fields.push([FIELD.DESTINATION, { sig: 's', value: m.destination }]);
  if (m.sender !== undefined) fields.push([FIELD.SENDER, { sig: 's', value: m.sender }]);
  if (sig !== '') fields.push([FIELD.SIGNATURE, { sig: 'g', value: sig }]);
  if (bodyW.fds.length > 0) fields.push([FIELD.UNIX_FDS, { sig: 'u', value: bodyW.fds.length }]);
  const w = new WireWriter();
  w.raw(new Uint8Array([0x6c, m.type, m.flags ?? 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]));
  w.setU32(4, body.length);
  w.setU32(8, serial);
  w.write(HEADER_FIELDS, fields);
  w.align(8);
  w.raw(body);
  if (w.pos > MAX_MESSAGE) throw new DbusWireError('message larger than 128 MiB');
  return { bytes: w.bytes(), fds: bodyW.fds };
}

/** Total length of the message whose first 16 bytes are `h`; throws on a bad fixed header. */
export function messageLength(h: Uint8Array, maxMessage: number): number {
  if (h[0] !== 0x6c && h[0] !== 0x42) throw new DbusWireError(`bad endianness byte 0x${h[0]!.toString(16)}`);
  if (h[1]! < 1 || h[1]! > 4) throw new DbusWireError(`unknown message type ${h[1]}`);
  if (h[3] !== 1) throw new DbusWireError(`protocol version ${h[3]}`);
  const dv = new DataView(h.buffer, h.byteOffset, 16);
  const le = h[0] === 0x6c;
  const bodyLen = dv.getUint32(4, le);
  const fieldsLen = dv.getUint32(12, le);
  if (fieldsLen > MAX_ARRAY) throw new DbusWireError('header fields longer than 64 MiB');
  const total = 16 + fieldsLen + ((8 - (fieldsLen % 8)) % 8) + bodyLen;
  if (total > maxMessage) throw new DbusWireError(`message of ${total} bytes exceeds the limit of ${maxMessage}`);
  return total;
}

/** Decode one complete message; `fds` are the fds that came with it. */
export function decodeMessage(buf: Uint8Array, fds: number[]): DbusMessage {
  const le = buf[0] === 0x6c;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const type = buf[1] as MessageType;
  const flags = buf[2]!;
  const bodyLen = dv.getUint32(4, le);
  const serial = dv.getUint32(8, le);
  if (serial === 0) throw new DbusWireError('serial 0');
  const hr = new WireReader(buf, le, 12, buf.length - bodyLen, 0);
  const f = new Map<number, unknown>();
  for (const [code, v] of hr.read(HEADER_FIELDS, 0, 0) as [number, Variant][]) {
    const want = FIELD_SIG[code];
    if (want === undefined) continue;
    if (v.sig !== want) throw new DbusWireError(`header field ${code} has type '${v.sig}', not '${want}'`);
    if (f.has(code)) throw new DbusWireError(`header field ${code} repeated`);
    f.set(code, v.value);
  }
  hr.align(8);
  if (!hr.atEnd) throw new DbusWireError('header length does not match');
  const need = (code: number, what: string): void => {
    if (!f.has(code)) throw new DbusWireError(`${what} without ${Object.keys(FIELD)[code - 1]}`);
  };
  if (type === MessageType.METHOD_CALL) { need(FIELD.PATH, 'method call'); need(FIELD.MEMBER, 'method call'); }
  if (type === MessageType.SIGNAL) { need(FIELD.PATH, 'signal'); need(FIELD.INTERFACE, 'signal'); need(FIELD.MEMBER, 'signal'); }
  if (type === MessageType.ERROR) { need(FIELD.ERROR_NAME, 'error'); need(FIELD.REPLY_SERIAL, 'error'); }
  if (type === MessageType.METHOD_RETURN) need(FIELD.REPLY_SERIAL, 'method return');
  const nfds = (f.get(FIELD.UNIX_FDS) as number | undefined) ?? 0;
  if (nfds > MAX_FDS) throw new DbusWireError(`message declares ${nfds} fds (limit ${MAX_FDS})`);
  if (nfds !== fds.length) throw new DbusWireError(`message declares ${nfds} fds but ${fds.length} came with it`);
  const signature = (f.get(FIELD.SIGNATURE) as string | undefined) ?? '';
  if (signature === '' && bodyLen > 0) throw new DbusWireError('body without a signature');
  const base = {
    type, flags, serial, signature, fds,
    path: f.get(FIELD.PATH) as string | undefined,
    interface: f.get(FIELD.INTERFACE) as string | undefined,
    member: f.get(FIELD.MEMBER) as string | undefined,
    errorName: f.get(FIELD.ERROR_NAME) as string | undefined,
    replySerial: f.get(FIELD.REPLY_SERIAL) as number | undefined,
    destination: f.get(FIELD.DESTINATION) as string | undefined,
    sender: f.get(FIELD.SENDER) as string | undefined,
  };
  try {
    // Body offsets are relative to the body start (it is 8-aligned in the message).
    const body = buf.subarray(buf.length - bodyLen);
    const br = new WireReader(body, le, 0, bodyLen, nfds);
    const values = br.readAll(signature);
    if (!br.atEnd) throw new DbusWireError('body longer than its signature');
    return { ...base, body: values };
  } catch (e) {
    if (!(e instanceof DbusWireError)) throw e;
    return { ...base, body: [], bodyError: e.message };
  }
}

/**
 * Cuts a stream into messages. Bytes are kept as received chunks until a message is complete (a
 * peer's declared length allocates nothing); fds are matched to the message whose bytes they came
 * with. Errors are DbusWireError: the caller must drop the connection.
 */
export class MessageFramer {
  private _chunks: Uint8Array[] = [];
  private _have = 0;
  private _need = 0;
  /** Stream offset of the first buffered byte. */
  private _offset = 0;
  private _fds: { at: number; fd: number }[] = [];

  /** `closeFds` disposes of the fds of a message that failed to decode. */
  public constructor(private readonly _maxMessage = MAX_MESSAGE, private readonly _closeFds?: (fds: number[]) => void) {}

  public get buffered(): number {
    return this._have;
  }

  public push(data: Uint8Array, fds: readonly number[]): DbusMessage[] {
    for (const fd of fds) this._fds.push({ at: this._offset + this._have, fd });
    if (this._fds.length > 4 * MAX_FDS) throw new DbusWireError('too many fds pending');
    this._chunks.push(data);
    this._have += data.length;
    const out: DbusMessage[] = [];
    for (;;) {
      if (this._need === 0) {
        if (this._have < 16) break;
        this._need = messageLength(this._peek(16), this._maxMessage);
      }
      if (this._have < this._need) break;
      const buf = this._take(this._need);
      const end = this._offset;
      const mine = this._fds.filter((x) => x.at < end).map((x) => x.fd);
      this._fds = this._fds.filter((x) => x.at >= end);
      this._need = 0;
      try {
        out.push(decodeMessage(buf, mine));
      } catch (e) {
        this._closeFds?.(mine);
        throw e;
      }
    }
    return out;
  }

  /** Fds received but not handed out (close them when dropping the connection). */
  public drainFds(): number[] {
    const fds = this._fds.map((x) => x.fd);
    this._fds = [];
    return fds;
  }

  private _peek(n: number): Uint8Array {
    if (this._chunks[0]!.length >= n) return this._chunks[0]!.subarray(0, n);
    const b = new Uint8Array(n);
    let o = 0;
    for (const c of this._chunks) {
      const k = Math.min(c.length, n - o);
      b.set(c.subarray(0, k), o);
      o += k;
      if (o === n) break;
    }
    return b;
  }

  private _take(n: number): Uint8Array {
    let out: Uint8Array;
    if (this._chunks[0]!.length >= n) {
      out = this._chunks[0]!.subarray(0, n);
    } else {
      out = new Uint8Array(n);
      let o = 0;
      while (o < n) {
        const c = this._chunks[0]!;
        const k = Math.min(c.length, n - o);
        out.set(c.subarray(0, k), o);
        o += k;
        if (k === c.length) this._chunks.shift();
        else this._chunks[0] = c.subarray(k);
      }
      this._have -= n;
      this._offset += n;
      return out;
    }
    const c = this._chunks[0]!;
    if (c.length === n) this._chunks.shift();
    else this._chunks[0] = c.subarray(n);
    this._have -= n;
    this._offset += n;
    return out;
  }
}
