import { sizeOf, type StateDict, type TensorData, type TensorDType } from '../tensor-data';

/** How each dtype is stored: torch's storage class and bytes per element. */
const STORAGE: Record<TensorDType, { className: string; elementSize: number }> = {
  float32: { className: 'FloatStorage', elementSize: 4 },
  float64: { className: 'DoubleStorage', elementSize: 8 },
  float16: { className: 'HalfStorage', elementSize: 2 },
  int64: { className: 'LongStorage', elementSize: 8 },
  int32: { className: 'IntStorage', elementSize: 4 },
  int16: { className: 'ShortStorage', elementSize: 2 },
  int8: { className: 'CharStorage', elementSize: 1 },
  uint8: { className: 'ByteStorage', elementSize: 1 },
  bool: { className: 'BoolStorage', elementSize: 1 },
};

/** Integer ranges, so an out-of-range value fails here instead of wrapping silently in torch. */
const INT_RANGE: Partial<Record<TensorDType, readonly [number, number]>> = {
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int16: [-(2 ** 15), 2 ** 15 - 1],
  int8: [-128, 127],
  uint8: [0, 255],
};

/** Growable byte buffer for the pickle stream. */
class ByteWriter {
  private buf = new Uint8Array(1024);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(...values: number[]): void {
    this.reserve(values.length);
    for (const v of values) this.buf[this.length++] = v;
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  u32(v: number): void {
    this.byte(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const encoder = new TextEncoder();

/**
 * Emits pickle protocol 2 with the same opcodes torch.save (via Python's pickle) uses, so the
 * file is indistinguishable in structure from one PyTorch wrote.
 */
class Pickler {
  readonly out = new ByteWriter();
  private readonly memo = new Map<string, number>();

  proto(): void {
    this.out.byte(0x80, 2); // PROTO 2
  }

  /** GLOBAL, memoized so each class/function name is written once, as Python does. */
  global(module: string, name: string): void {
    const qualified = `${module}\n${name}\n`;
    const index = this.memo.get(qualified);
    if (index !== undefined) {
      this.get(index);
      return;
    }
    this.out.byte(0x63); // GLOBAL
    this.out.bytes(encoder.encode(qualified));
    this.put(qualified);
  }

  private put(key: string): void {
    const index = this.memo.size;
    this.memo.set(key, index);
    if (index < 256) this.out.byte(0x71, index); // BINPUT
    else {
      this.out.byte(0x72); // LONG_BINPUT
      this.out.u32(index);
    }
  }

  private get(index: number): void {
    if (index < 256) this.out.byte(0x68, index); // BINGET
    else {
      this.out.byte(0x6a); // LONG_BINGET
      this.out.u32(index);
    }
  }

  str(s: string): void {
    const utf8 = encoder.encode(s);
    this.out.byte(0x58); // BINUNICODE
    this.out.u32(utf8.length);
    this.out.bytes(utf8);
  }

  /** A memoized string, for the 'storage' and 'cpu' that repeat in every persistent id. */
  memoStr(s: string): void {
    const key = `str:${s}`;
    const index = this.memo.get(key);
    if (index !== undefined) this.get(index);
    else {
      this.str(s);
      this.put(key);
    }
  }

  int(v: number): void {
    if (v >= 0 && v < 0x100) this.out.byte(0x4b, v); // BININT1
    else if (v >= 0 && v < 0x10000) this.out.byte(0x4d, v & 0xff, v >>> 8); // BININT2
    else if (v >= -(2 ** 31) && v < 2 ** 31) {
      this.out.byte(0x4a); // BININT
      this.out.u32(v);
    } else {
      // LONG1: minimal little-endian two's complement, as Python writes it.
      const bytes: number[] = [];
      let x = BigInt(v);
      for (;;) {
        const b = Number(x & 0xffn);
        bytes.push(b);
        x >>= 8n;
        if ((x === 0n && (b & 0x80) === 0) || (x === -1n && (b & 0x80) !== 0)) break;
      }
      this.out.byte(0x8a, bytes.length, ...bytes);
    }
  }

  /** A tuple of already-pushed items: the short opcodes for 0 to 3 items, else MARK ... TUPLE. */
  tuple(items: readonly (() => void)[]): void {
    if (items.length === 0) {
      this.out.byte(0x29); // EMPTY_TUPLE
      return;
    }
    if (items.length > 3) this.out.byte(0x28); // MARK
    for (const item of items) item();
    this.out.byte(items.length > 3 ? 0x74 : 0x84 + items.length); // TUPLE or TUPLE1..3
  }

  ints(values: readonly number[]): void {
    this.tuple(values.map((v) => () => this.int(v)));
  }
}

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d] as number;
  }
  return strides;
}

function floatToHalf(value: number): number {
  // Round-to-nearest-even via float32 bits, the way torch's .half() converts.
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to inf
  if (e <= 0) {
    if (e < -10) return sign; // underflows to zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && (half & 1) !== 0) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to inf).
  return sign | (half + (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0) ? 1 : 0));
}

function encodeStorage(name: string, t: TensorData): Uint8Array {
  const { elementSize } = STORAGE[t.dtype];
  const n = t.data.length;
  const bytes = new Uint8Array(n * elementSize);
  const view = new DataView(bytes.buffer);
  const range = INT_RANGE[t.dtype];
  for (let i = 0; i < n; i++) {
    const v = t.data[i] as number;
    if (range && !(Number.isInteger(v) && v >= range[0] && v <= range[1])) {
      throw new RangeError(`writePth: tensor '${name}' (${t.dtype}) holds ${v} at index ${i}, not an ${t.dtype} value`);
    }
    // Explicit little-endian: torch reads storages as little-endian on every platform we target.
    switch (t.dtype) {
      case 'float32':
        view.setFloat32(i * 4, v, true);
        break;
      case 'float64':
        view.setFloat64(i * 8, v, true);
        break;
      case 'float16':
        view.setUint16(i * 2, floatToHalf(v), true);
        break;
      case 'int64':
        view.setBigInt64(i * 8, BigInt(v), true);
        break;
      case 'int32':
        view.setInt32(i * 4, v, true);
        break;
      case 'int16':
        view.setInt16(i * 2, v, true);
        break;
      case 'int8':
        view.setInt8(i, v);
        break;
      case 'uint8':
        view.setUint8(i, v);
        break;
      case 'bool':
        view.setUint8(i, v !== 0 ? 1 : 0);
        break;
    }
  }
  return bytes;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = (CRC_TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Where torch aligns record data, so a loader can mmap storages (torch.load(mmap=True)). */
const ALIGNMENT = 64;
const LOCAL_HEADER = 30;
const CENTRAL_HEADER = 46;
const END_RECORD = 22;
const UTF8_NAMES = 0x0800;

/**
 * A stored (uncompressed) zip laid out the way torch's PyTorchStreamWriter does: each record's
 * data starts on a 64-byte boundary, reached by padding the local header's extra field with an
 * 'FB' block. fflate's zipSync has no such alignment, hence this small writer.
 */
function storedZip(records: readonly { name: string; data: Uint8Array }[]): Uint8Array {
  const entries = records.map((r) => ({ ...r, nameBytes: encoder.encode(r.name), crc: crc32(r.data), offset: 0, pad: 0 }));
  let offset = 0;
  for (const e of entries) {
    e.offset = offset;
    const dataStart = offset + LOCAL_HEADER + e.nameBytes.length;
    let pad = (ALIGNMENT - (dataStart % ALIGNMENT)) % ALIGNMENT;
    if (pad > 0 && pad < 4) pad += ALIGNMENT; // an extra block needs 4 bytes for its id and size
    e.pad = pad;
    offset = dataStart + pad + e.data.length;
  }
  const centralStart = offset;
  for (const e of entries) offset += CENTRAL_HEADER + e.nameBytes.length;
  const total = offset + END_RECORD;
  if (total > 0xffffffff || entries.length > 0xffff) {
    throw new RangeError('writePth: state_dict too large for a non-zip64 archive (4 GiB / 65535 tensors)');
  }

  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let p = 0;
  const u16 = (v: number): void => {
    view.setUint16(p, v, true);
    p += 2;
  };
  const u32 = (v: number): void => {
    view.setUint32(p, v, true);
    p += 4;
  };
  const bytes = (b: Uint8Array): void => {
    out.set(b, p);
    p += b.length;
  };

  for (const e of entries) {
    u32(0x04034b50);
    u16(20); // version needed: 2.0
    u16(UTF8_NAMES);
    u16(0); // stored
    u16(0); // time
    u16(0x21); // date: 1980-01-01, the zip epoch
    u32(e.crc);
    u32(e.data.length);
    u32(e.data.length);
    u16(e.nameBytes.length);
    u16(e.pad);
    bytes(e.nameBytes);
    if (e.pad > 0) {
      u16(0x4246); // 'FB', torch's padding block id
      u16(e.pad - 4);
      out.fill(0x5a, p, p + e.pad - 4); // 'Z', as torch pads
      p += e.pad - 4;
    }
    bytes(e.data);
  }
  for (const e of entries) {
    u32(0x02014b50);
    u16(20); // version made by
    u16(20); // version needed
    u16(UTF8_NAMES);
    u16(0);
    u16(0);
    u16(0x21);
    u32(e.crc);
    u32(e.data.length);
    u32(e.data.length);
    u16(e.nameBytes.length);
    u16(0); // extra
    u16(0); // comment
    u16(0); // disk
    u16(0); // internal attributes
    u32(0); // external attributes
    u32(e.offset);
    bytes(e.nameBytes);
  }
  u32(0x06054b50);
  u16(0);
  u16(0);
  u16(entries.length);
  u16(entries.length);
  u32(total - END_RECORD - centralStart);
  u32(centralStart);
  u16(0);
  return out;
}

/**
 * Serializes a state_dict as a `.pth` file in torch.save's zip format, which `torch.load`
 * (>= 1.6, also with `weights_only=True`) reads back as an `OrderedDict` of contiguous CPU
 * tensors with the same names, shapes, dtypes and values.
 *
 * `archiveName` is the zip's top folder; torch.save uses the file name without extension, but
 * loaders accept any. Throws RangeError for a tensor whose data does not match its shape or dtype.
 */
export function writePth(sd: StateDict, archiveName = 'archive'): Uint8Array {
  if (archiveName === '' || archiveName.includes('/') || archiveName.includes('\\')) {
    throw new RangeError(`writePth: archive name '${archiveName}' must be a non-empty plain folder name`);
  }
  const p = new Pickler();
  const storages: { name: string; data: Uint8Array }[] = [];

  // OrderedDict() then SETITEMS, like pickling a state_dict (its _metadata attribute is left out:
  // load_state_dict treats missing metadata as the current module versions).
  p.proto();
  p.global('collections', 'OrderedDict');
  p.out.byte(0x29, 0x52); // EMPTY_TUPLE, REDUCE
  if (sd.size > 0) p.out.byte(0x28); // MARK
  for (const [name, t] of sd) {
    const numel = sizeOf(t.shape);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || t.data.length !== numel) {
      throw new RangeError(`writePth: tensor '${name}' has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
    }
    const key = String(storages.length);
    storages.push({ name: `${archiveName}/data/${key}`, data: encodeStorage(name, t) });

    p.str(name);
    // _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.out.byte(0x28); // MARK
    p.tuple([
      () => p.memoStr('storage'),
      () => p.global('torch', STORAGE[t.dtype].className),
      () => p.str(key),
      () => p.memoStr('cpu'),
      () => p.int(numel),
    ]);
    p.out.byte(0x51); // BINPERSID
    p.int(0);
    p.ints(t.shape);
    p.ints(contiguousStrides(t.shape));
    p.out.byte(0x89); // NEWFALSE: requires_grad
    p.global('collections', 'OrderedDict');
    p.out.byte(0x29, 0x52); // backward_hooks = OrderedDict()
    p.out.byte(0x74, 0x52); // TUPLE, REDUCE
  }
  if (sd.size > 0) p.out.byte(0x75); // SETITEMS
  p.out.byte(0x2e); // STOP

  return storedZip([
    { name: `${archiveName}/data.pkl`, data: p.out.result() },
    ...storages,
    // torch's serialization format version; torch.load refuses an archive without it.
    { name: `${archiveName}/version`, data: encoder.encode('3\n') },
  ]);
}
