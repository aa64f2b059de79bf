/**
 * Protocol Buffers wire-format encoding, just what ONNX's ModelProto needs: varints,
 * length-delimited fields (strings, bytes, nested messages) and packed repeated scalars.
 * Large payloads (tensor bytes) are kept by reference and copied once, in `finish`.
 */

/** Wire types of the encoding. */
const VARINT = 0;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

const utf8 = new TextEncoder();

/** A message under construction: a list of byte chunks and their total length. */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  length = 0;

  /** Moves pending single bytes into a chunk so the chunk order stays the write order. */
  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    this.chunks.push(Uint8Array.from(this.scratch));
    this.scratch = [];
  }

  private pushBytes(b: Uint8Array): void {
    this.flushScratch();
    this.chunks.push(b);
    this.length += b.length;
  }

  private rawVarint(value: number | bigint): void {
    for (const b of varintBytes(value)) this.scratch.push(b);
    this.length += varintLength(value);
  }

  private tag(field: number, wireType: number): void {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) throw new RangeError(`invalid protobuf field number ${field}`);
    this.rawVarint(field * 8 + wireType);
  }

  /** An int32/int64/uint64/enum/bool field as a varint; negative values take ten bytes, as protobuf's int64 does. */
  varint(field: number, value: number | bigint): this {
    this.tag(field, VARINT);
    this.rawVarint(value);
    return this;
  }

  /** A `float` field: four little-endian bytes. */
  float32(field: number, value: number): this {
    this.tag(field, FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.pushBytes(b);
    return this;
  }

  /** A `bytes` field. */
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, LENGTH_DELIMITED);
    this.rawVarint(data.length);
    this.pushBytes(data);
    return this;
  }

  /** A `string` field, UTF-8. */
  string(field: number, text: string): this {
    return this.bytes(field, utf8.encode(text));
  }

  /** A nested message field. */
  message(field: number, child: ProtoWriter): this {
    child.flushScratch();
    this.tag(field, LENGTH_DELIMITED);
    this.rawVarint(child.length);
    this.flushScratch();
    for (const c of child.chunks) this.chunks.push(c);
    this.length += child.length;
    return this;
  }

  /** A packed `repeated float` field: little-endian IEEE 754 singles. */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const out = new Uint8Array(values.length * 4);
    const view = new DataView(out.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
    return this.bytes(field, out);
  }

  /** A packed `repeated int64`/`int32` field: one varint per value. */
  packedVarints(field: number, values: ReadonlyArray<number | bigint>): this {
    const out: number[] = [];
    for (const v of values) for (const b of varintBytes(v)) out.push(b);
    return this.bytes(field, Uint8Array.from(out));
  }

  /** The encoded message. */
  finish(): Uint8Array {
    this.flushScratch();
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

const TWO_64 = 1n << 64n;

/** Base-128 varint bytes; negative numbers as their 64-bit two's complement. */
export function varintBytes(value: number | bigint): number[] {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`varint needs a safe integer, got ${value}`);
  if (typeof value === 'number' && value >= 0) {
    const out: number[] = [];
    let v = value;
    // Division rather than bit operators: those truncate to 32 bits.
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    return out;
  }
  let v = BigInt(value);
  if (v < -(1n << 63n) || v >= TWO_64) throw new RangeError(`varint out of 64-bit range: ${v}`);
  if (v < 0n) v += TWO_64;
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function varintLength(value: number | bigint): number {
  if (typeof value === 'number' && value >= 0 && value < 0x80) return 1;
  return varintBytes(value).length;
}
