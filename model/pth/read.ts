import { unzipSync } from 'fflate';
import { sizeOf, type StateDict, type TensorData, type TensorDType } from '../tensor-data';
import { PickleCallable, PickleError, unpickle } from './pickle';

/**
 * Raised when bytes are not a `.pth` file this reader understands. The message says what was
 * wrong and, where the user can do something about it, what to do.
 */
export class PthFormatError extends Error {
  override name = 'PthFormatError';
}

/** A `torch.*Storage` class named in a persistent id; `dtype` null for the ones we cannot decode. */
class StorageType {
  constructor(
    readonly className: string,
    readonly dtype: TensorDType | null,
    readonly elementSize: number,
  ) {}
}

/** A storage a tensor points into: `<archive>/data/<key>` holds its bytes. */
interface StorageRef {
  type: StorageType;
  key: string;
  numel: number;
}

/** A tensor as the pickle describes it; its bytes are only read if the tensor is returned. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

// Every storage class torch.save names in a persistent id (torch/storage.py). The ones without a
// TensorDType parse fine, so a checkpoint that holds them elsewhere still loads, and only fail if
// a returned tensor uses them.
const STORAGE_TYPES: readonly StorageType[] = [
  new StorageType('FloatStorage', 'float32', 4),
  new StorageType('DoubleStorage', 'float64', 8),
  new StorageType('HalfStorage', 'float16', 2),
  new StorageType('LongStorage', 'int64', 8),
  new StorageType('IntStorage', 'int32', 4),
  new StorageType('ShortStorage', 'int16', 2),
  new StorageType('CharStorage', 'int8', 1),
  new StorageType('ByteStorage', 'uint8', 1),
  new StorageType('BoolStorage', 'bool', 1),
  new StorageType('BFloat16Storage', null, 2),
  new StorageType('ComplexFloatStorage', null, 8),
  new StorageType('ComplexDoubleStorage', null, 16),
];

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function countsOf(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every(isCount)) throw new Error(`${what} is not a tuple of non-negative ints`);
  return [...value] as number[];
}

function makeTensorRef(storage: unknown, offset: unknown, size: unknown, stride: unknown): TensorRef {
  if (!isStorageRef(storage)) throw new Error('first argument is not a storage');
  if (!isCount(offset)) throw new Error('storage offset is not a non-negative int');
  const shape = countsOf(size, 'size');
  const strides = countsOf(stride, 'stride');
  if (shape.length !== strides.length) throw new Error(`size has ${shape.length} dims but stride has ${strides.length}`);
  return new TensorRef(storage, offset, shape, strides);
}

function isStorageRef(value: unknown): value is StorageRef {
  return typeof value === 'object' && value !== null && 'type' in value && value.type instanceof StorageType;
}

/** The allow-list: exactly what torch.save writes for tensors, parameters and (Ordered)dicts. */
const TORCH_GLOBALS: ReadonlyMap<string, unknown> = new Map<string, unknown>([
  [
    'collections.OrderedDict',
    new PickleCallable('collections.OrderedDict', (args) => {
      const dict = new Map<unknown, unknown>();
      const items = args[0];
      if (Array.isArray(items)) {
        for (const pair of items) {
          if (!Array.isArray(pair) || pair.length !== 2) throw new Error('items are not (key, value) pairs');
          dict.set(pair[0], pair[1]);
        }
      }
      return dict;
    }),
  ],
  [
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    'torch._utils._rebuild_tensor_v2',
    new PickleCallable('torch._utils._rebuild_tensor_v2', (args) => makeTensorRef(args[0], args[1], args[2], args[3])),
  ],
  [
    // An nn.Parameter saved directly: (data, requires_grad, backward_hooks); the wrapper is dropped.
    'torch._utils._rebuild_parameter',
    new PickleCallable('torch._utils._rebuild_parameter', (args) => parameterData(args[0])),
  ],
  [
    // Newer torch, for a Parameter with extra Python attributes: (data, requires_grad, hooks, state).
    'torch._utils._rebuild_parameter_with_state',
    new PickleCallable('torch._utils._rebuild_parameter_with_state', (args) => parameterData(args[0])),
  ],
  [
    // Appears in checkpoints that saved a device next to the weights; its string form is enough.
    'torch.device',
    new PickleCallable('torch.device', (args) => args.map(String).join(':')),
  ],
  ...STORAGE_TYPES.map((t): [string, unknown] => [`torch.${t.className}`, t]),
]);

function parameterData(data: unknown): TensorRef {
  if (!(data instanceof TensorRef)) throw new Error('parameter data is not a tensor');
  return data;
}

function persistentLoad(pid: unknown): StorageRef {
  // torch.save: ('storage', storage_type, key, location, numel)
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length !== 5) {
    const got = Array.isArray(pid) ? `${pid.length}-tuple` : typeof pid;
    throw new Error(`expected ('storage', type, key, location, numel), got a ${got}`);
  }
  const [, type, key, location, numel] = pid as unknown[];
  if (!(type instanceof StorageType)) throw new Error('storage type is not a torch.*Storage class');
  if (typeof key !== 'string' || key === '' || key.includes('/')) throw new Error(`storage key ${String(key)} is not a plain name`);
  // The location ('cpu', 'cuda:0', ...) does not matter: the bytes are the same.
  if (typeof location !== 'string') throw new Error('storage location is not a string');
  if (!isCount(numel)) throw new Error('storage size is not a non-negative int');
  return { type, key, numel };
}

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  return prefix.every((b, i) => bytes[at + i] === b);
}

const ZIP_LOCAL = [0x50, 0x4b, 0x03, 0x04];
const ZIP_EMPTY = [0x50, 0x4b, 0x05, 0x06];
const USTAR = [0x75, 0x73, 0x74, 0x61, 0x72]; // "ustar" at offset 257 of a tar header

function checkContainer(bytes: Uint8Array): void {
  // The legacy format (torch.save before 1.6, or _use_new_zipfile_serialization=False) is a
  // bare sequence of pickles, the first of which starts with the PROTO opcode; before 0.4 it
  // could also be a tar file. Both would need a second, unsafe-by-design code path.
  const legacy = bytes[0] === 0x80 || startsWith(bytes, USTAR, 257);
  if (legacy) {
    throw new PthFormatError(
      'this .pth file uses the legacy (pre-1.6, non-zip) torch.save format, which is not supported: ' +
        're-save it with torch>=1.6 and the default _use_new_zipfile_serialization=True, ' +
        'e.g. torch.save(torch.load(path), new_path)',
    );
  }
  if (!startsWith(bytes, ZIP_LOCAL) && !startsWith(bytes, ZIP_EMPTY)) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new PthFormatError(`not a PyTorch .pth file: not a zip archive (starts with ${head || 'nothing'}, expected 50 4b 03 04)`);
  }
}

function findDataPkl(files: Record<string, Uint8Array>): string {
  // torch.save names the top folder after the file (`archive/`, `model/`, ...) and loaders accept
  // any name, so find data.pkl by suffix; the shallowest one is torch's own.
  let best: string | undefined;
  for (const name of Object.keys(files)) {
    if (name !== 'data.pkl' && !name.endsWith('/data.pkl')) continue;
    if (best === undefined || name.split('/').length < best.split('/').length) best = name;
  }
  if (best === undefined) {
    throw new PthFormatError('the zip archive has no data.pkl, so it is not a file written by torch.save');
  }
  return best;
}

function describe(value: unknown): string {
  if (value === null) return 'None';
  if (value instanceof TensorRef) return 'tensor';
  if (value instanceof Map) return 'dict';
  if (Array.isArray(value)) return Object.isFrozen(value) ? 'tuple' : 'list';
  if (value instanceof PickleCallable) return value.qualifiedName;
  return typeof value;
}

/** Returns the tensors if `value` is a dict of str -> tensor, else why not. */
function tensorDict(value: unknown): Map<string, TensorRef> | string {
  if (!(value instanceof Map)) return `the pickled object is a ${describe(value)}, not a dict`;
  for (const [key, v] of value) {
    if (typeof key !== 'string') return `a key is a ${describe(key)}, not a string`;
    if (!(v instanceof TensorRef)) return `'${key}' holds a ${describe(v)}, not a tensor`;
  }
  return value as Map<string, TensorRef>;
}

// Keys under which training scripts commonly nest the model weights in a checkpoint dict.
const WRAPPER_KEYS = ['state_dict', 'model_state_dict'] as const;

function pickStateDict(root: unknown): Map<string, TensorRef> {
  const direct = tensorDict(root);
  if (typeof direct !== 'string') return direct;
  if (root instanceof Map) {
    for (const key of WRAPPER_KEYS) {
      if (!root.has(key)) continue;
      const inner = tensorDict(root.get(key));
      if (typeof inner !== 'string') return inner;
      throw new PthFormatError(`the checkpoint's '${key}' is not a dict of tensors: ${inner}`);
    }
  }
  throw new PthFormatError(
    `expected a state_dict (a dict of name -> tensor) or a checkpoint dict with a 'state_dict' or ` +
      `'model_state_dict' entry, but ${direct}`,
  );
}

/** float16 bits to a number; exact (every half is a float32). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

/** The largest tensor we materialize: typed arrays in browsers top out around 2^31 elements. */
const MAX_ELEMENTS = 2 ** 31 - 1;

type ElementReader = (index: number) => number;

function elementReader(dtype: TensorDType, bytes: Uint8Array, tensorName: string): ElementReader {
  // DataView with explicit little-endian: torch writes little-endian storages, and typed-array
  // views would also need 4/8-byte alignment that zip entries do not promise.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'float32':
      return (i) => view.getFloat32(i * 4, true);
    case 'float64':
      return (i) => view.getFloat64(i * 8, true);
    case 'float16':
      return (i) => halfToFloat(view.getUint16(i * 2, true));
    case 'int64':
      return (i) => {
        const lo = view.getUint32(i * 8, true);
        const hi = view.getInt32(i * 8 + 4, true);
        // TensorData keeps int64 as int32 (state_dicts only hold counters and labels there);
        // refuse rather than wrap a value that does not fit.
        if (hi === 0 && lo <= 0x7fffffff) return lo;
        if (hi === -1 && lo >= 0x80000000) return lo | 0;
        throw new PthFormatError(
          `int64 tensor '${tensorName}' holds ${view.getBigInt64(i * 8, true)}, outside the int32 range this reader keeps`,
        );
      };
    case 'int32':
      return (i) => view.getInt32(i * 4, true);
    case 'int16':
      return (i) => view.getInt16(i * 2, true);
    case 'int8':
      return (i) => view.getInt8(i);
    case 'uint8':
      return (i) => view.getUint8(i);
    case 'bool':
      return (i) => (view.getUint8(i) !== 0 ? 1 : 0);
  }
}

function outputArray(dtype: TensorDType, n: number): TensorData['data'] {
  switch (dtype) {
    case 'float32':
    case 'float64':
    case 'float16':
      return new Float32Array(n);
    case 'int64':
    case 'int32':
    case 'int16':
    case 'int8':
      return new Int32Array(n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(n);
  }
}

function materialize(name: string, ref: TensorRef, files: Record<string, Uint8Array>, prefix: string): TensorData {
  const { storage, offset, shape, stride } = ref;
  const dtype = storage.type.dtype;
  if (dtype === null) {
    throw new PthFormatError(`tensor '${name}' is stored as torch.${storage.type.className}, which this reader does not support`);
  }
  const path = `${prefix}data/${storage.key}`;
  const bytes = files[path];
  if (bytes === undefined) {
    throw new PthFormatError(`tensor '${name}' points to storage '${path}', which the archive does not contain`);
  }
  const expected = storage.numel * storage.type.elementSize;
  if (bytes.length < expected) {
    throw new PthFormatError(
      `storage '${path}' of tensor '${name}' is truncated: ${bytes.length} bytes, expected ${expected} ` +
        `(${storage.numel} x ${dtype})`,
    );
  }

  const numel = sizeOf(shape);
  // Stride-0 views let a tiny storage claim any shape; cap it before allocating.
  if (numel > MAX_ELEMENTS) {
    throw new PthFormatError(`tensor '${name}' has shape [${shape.join(', ')}]: more elements than this reader can hold`);
  }
  const data = outputArray(dtype, numel);
  if (numel === 0) return { shape, dtype, data };

  // The furthest element the view touches must lie inside the storage; torch guarantees this,
  // a crafted file need not.
  let last = offset;
  for (let d = 0; d < shape.length; d++) last += ((shape[d] as number) - 1) * (stride[d] as number);
  if (last >= storage.numel) {
    throw new PthFormatError(
      `tensor '${name}' (shape [${shape.join(', ')}], stride [${stride.join(', ')}], offset ${offset}) ` +
        `reaches element ${last} of storage '${path}', which has ${storage.numel}`,
    );
  }

  const read = elementReader(dtype, bytes, name);
  if (isContiguous(shape, stride)) {
    for (let i = 0; i < numel; i++) data[i] = read(offset + i);
    return { shape, dtype, data };
  }

  // A view (transpose, slice, expand): walk the output in row-major order with an odometer over
  // the dims, moving the source index by each dim's stride.
  const rank = shape.length;
  const counter = new Array<number>(rank).fill(0);
  let src = offset;
  for (let i = 0; i < numel; i++) {
    data[i] = read(src);
    for (let d = rank - 1; d >= 0; d--) {
      const c = (counter[d] as number) + 1;
      if (c < (shape[d] as number)) {
        counter[d] = c;
        src += stride[d] as number;
        break;
      }
      counter[d] = 0;
      src -= ((shape[d] as number) - 1) * (stride[d] as number);
    }
  }
  return { shape, dtype, data };
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d] as number;
    // A dim of size 1 is never stepped over, so torch leaves its stride arbitrary.
    if (size !== 1 && stride[d] !== expected) return false;
    expected *= size;
  }
  return true;
}

/**
 * Reads a PyTorch `.pth` file written by `torch.save` (zip format, torch >= 1.6) and returns its
 * tensors in file order. Accepts a state_dict, a plain dict of tensors, or a checkpoint dict that
 * holds one under `state_dict` or `model_state_dict` (other checkpoint entries are ignored).
 *
 * Safe on untrusted input: the pickle is interpreted by an allow-list unpickler that runs no code.
 * Views come out contiguous, floating types as Float32Array, integer types as Int32Array.
 * Throws {@link PthFormatError} with a message that says what is wrong.
 */
export function readPth(bytes: Uint8Array): StateDict {
  checkContainer(bytes);
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PthFormatError(`not a PyTorch .pth file: the zip archive is corrupt (${reason})`, { cause: err });
  }

  const pklName = findDataPkl(files);
  const prefix = pklName.slice(0, -'data.pkl'.length);
  let root: unknown;
  try {
    root = unpickle(files[pklName] as Uint8Array, { globals: TORCH_GLOBALS, persistentLoad });
  } catch (err) {
    if (err instanceof PickleError) throw new PthFormatError(`${pklName}: ${err.message}`, { cause: err });
    throw err;
  }

  const out: StateDict = new Map();
  for (const [name, ref] of pickStateDict(root)) out.set(name, materialize(name, ref, files, prefix));
  return out;
}
