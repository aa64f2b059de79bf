import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import type { StateDict, TensorData } from '../tensor-data';
import { PickleError, PthFormatError, readPth, unpickle, writePth } from './index';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const GOLDEN = join(ROOT, 'test/fixtures/golden');
const SHARED_WEIGHTS = '/work/shared/weights/squeezenet1_1-features-imagenet.pth';
// Debian's python3-torch; the python3 first on PATH may be another interpreter without torch.
const PYTHON = '/usr/bin/python3';

const tmp = mkdtempSync(join(tmpdir(), 'scenelab-pth-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function load(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

/**
 * Runs a Python snippet with torch and parses the JSON it prints. Fails (never skips) when torch
 * is missing: these checks are the only proof that our files are what PyTorch reads and writes.
 */
function torchJson(script: string, args: string[] = []): unknown {
  const preamble = [
    'import json, math, sys, torch',
    // JSON has no inf/nan; send them as strings and map them back in fromJson.
    'def vals(t):',
    '    t = t.detach().flatten()',
    '    if t.dtype.is_floating_point: return [x if math.isfinite(x) else str(x) for x in t.float().double().tolist()]',
    '    return [int(x) for x in t.tolist()]',
    'def summary(t):',
    '    n = t.numel()',
    '    idx = torch.linspace(0, n - 1, min(n, 64)).long() if n else torch.zeros(0, dtype=torch.long)',
    '    f = t.detach().flatten()',
    '    s = f.float().double().sum().item() if t.dtype.is_floating_point else int(f.long().sum().item()) if n else 0',
    '    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "sum": s if math.isfinite(s) else str(s),',
    '            "idx": idx.tolist(), "at": vals(f[idx]) if n else []}',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', `${preamble}\n${script}`, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.error || r.status === 127) {
    throw new Error(
      `cannot run ${PYTHON} (${r.error?.message ?? r.stderr}): the .pth tests need PyTorch there; ` +
        'install it with `apt-get install python3-torch python3-torchvision`',
    );
  }
  if (r.status !== 0) throw new Error(`${PYTHON} failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}

function fromJson(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  if (v === 'nan') return NaN;
  throw new Error(`unexpected JSON value ${String(v)}`);
}

interface TorchSummary {
  dtype: string;
  shape: number[];
  sum: number | string;
  idx: number[];
  at: (number | string)[];
}

/** Checks a tensor we read against torch.load's view of the same one: dtype, shape, samples, sum. */
function expectMatchesTorch(name: string, t: TensorData | undefined, want: TorchSummary): void {
  expect(t, name).toBeDefined();
  if (!t) return;
  expect(t.dtype, name).toBe(want.dtype);
  expect(t.shape, name).toEqual(want.shape);
  want.idx.forEach((i, k) => expect(t.data[i], `${name}[${i}]`).toBe(fromJson(want.at[k])));
  let sum = 0;
  for (let i = 0; i < t.data.length; i++) sum += t.data[i] as number;
  const wantSum = fromJson(want.sum);
  if (Number.isFinite(wantSum)) expect(Math.abs(sum - wantSum), `${name} sum`).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(wantSum)));
  else expect(sum, `${name} sum`).toBe(wantSum);
}

const SUMMARIZE_FILES = `
out = {}
for p in sys.argv[1:]:
    obj = torch.load(p)
    out[p] = [[k, summary(v)] for k, v in obj.items()]
print(json.dumps(out))
`;

function tensor(dtype: TensorData['dtype'], shape: number[], values: number[]): TensorData {
  const data =
    dtype === 'uint8' || dtype === 'bool'
      ? new Uint8Array(values)
      : dtype.startsWith('float')
        ? new Float32Array(values)
        : new Int32Array(values);
  return { dtype, shape, data };
}

/** A state_dict with every dtype and the shapes that trip writers up: 0-dim, empty, 4-D. */
function everyDtype(): StateDict {
  return new Map<string, TensorData>([
    ['conv.weight', tensor('float32', [2, 3, 1, 2], Array.from({ length: 12 }, (_, i) => (i - 5) * 0.37))],
    ['bn.num_batches_tracked', tensor('int64', [], [123456])],
    ['labels', tensor('int64', [4], [-3, 0, 2 ** 31 - 1, -(2 ** 31)])],
    ['f64', tensor('float64', [2], [0.1, -1e30])],
    ['f16', tensor('float16', [5], [1.5, -2.25, 65504, 2 ** -24, 0.1])],
    ['i32', tensor('int32', [2], [-7, 2 ** 31 - 1])],
    ['i16', tensor('int16', [2], [-32768, 32767])],
    ['i8', tensor('int8', [2], [-128, 127])],
    ['u8', tensor('uint8', [3], [0, 128, 255])],
    ['mask', tensor('bool', [2, 2], [1, 0, 0, 1])],
    ['scalar', tensor('float32', [], [-0.5])],
    ['empty', tensor('float32', [0, 4], [])],
    ['ünïcode.key', tensor('float32', [1], [42])],
  ]);
}

/** Builds a zip the way torch lays it out, holding the given data.pkl and records. */
function pthWith(pickle: Uint8Array, records: Record<string, Uint8Array> = {}): Uint8Array {
  return zipSync({ 'archive/data.pkl': pickle, 'archive/version': strToU8('3\n'), ...records }, { level: 0 });
}

function pickleBytes(...parts: (string | number[])[]): Uint8Array {
  // Strings are taken as latin-1 so opcode bytes above 0x7f can be written as \x.. escapes.
  const bytes: number[] = [];
  for (const p of parts) {
    if (typeof p === 'string') for (const ch of p) bytes.push(ch.charCodeAt(0));
    else bytes.push(...p);
  }
  return new Uint8Array(bytes);
}

function expectPthError(bytes: Uint8Array, message: RegExp): void {
  let caught: unknown;
  try {
    readPth(bytes);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(PthFormatError);
  expect((caught as Error).message).toMatch(message);
}

describe('readPth on files torch wrote', () => {
  it('reads the shared SqueezeNet 1.1 feature weights', () => {
    const sd = readPth(load(SHARED_WEIGHTS));
    expect(sd.size).toBe(50);
    let params = 0;
    for (const t of sd.values()) {
      expect(t.dtype).toBe('float32');
      expect(t.data).toBeInstanceOf(Float32Array);
      params += t.data.length;
    }
    expect(params).toBe(722_496);
    expect(sd.get('features.0.weight')?.shape).toEqual([64, 3, 3, 3]);
    expect([...sd.keys()][0]).toBe('features.0.weight');
    expect([...sd.keys()].at(-1)).toBe('features.12.expand3x3.bias');
  });

  it('matches torch.load for every golden fixture and the shared weights', () => {
    const files = [
      SHARED_WEIGHTS,
      ...['squeezenet1_1-6', 'squeezenet1_1-6-io', 'mobilenet_v3_small-6', 'mobilenet_v3_small-6-io', 'misc-dtypes'].map((f) =>
        join(GOLDEN, `${f}.pth`),
      ),
    ];
    const want = torchJson(SUMMARIZE_FILES, files) as Record<string, [string, TorchSummary][]>;
    for (const file of files) {
      const sd = readPth(load(file));
      const expected = want[file] ?? [];
      // Same keys, in the same order as torch's dict.
      expect([...sd.keys()], file).toEqual(expected.map(([k]) => k));
      for (const [key, summary] of expected) expectMatchesTorch(`${file}: ${key}`, sd.get(key), summary);
    }
  });

  it('reads views, shared storages and every dtype in misc-dtypes.pth', () => {
    const sd = readPth(load(join(GOLDEN, 'misc-dtypes.pth')));
    const get = (k: string): TensorData => {
      const t = sd.get(k);
      if (!t) throw new Error(`missing ${k}`);
      return t;
    };
    const values = (k: string): number[] => Array.from(get(k).data);

    // arange(24).reshape(4,6).t(): strides (1,6), so row r of the result is column r of the original.
    expect(get('transposed').shape).toEqual([6, 4]);
    expect(values('transposed')).toEqual(Array.from({ length: 24 }, (_, i) => (i % 4) * 6 + Math.floor(i / 4)));
    // big[3:7] shares big's storage at offset 3.
    expect(values('big')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(values('slice')).toEqual([3, 4, 5, 6]);
    // arange(30).reshape(5,6)[1:4, ::2]: offset 6, strides (6,2).
    expect(get('strided').shape).toEqual([3, 3]);
    expect(values('strided')).toEqual([6, 8, 10, 12, 14, 16, 18, 20, 22]);
    // expand(3,2): stride 0 repeats the row.
    expect(values('expanded')).toEqual([1, 2, 1, 2, 1, 2]);
    expect(get('scalar').shape).toEqual([]);
    expect(values('scalar')).toEqual([3.5]);
    expect(get('empty').shape).toEqual([0, 3]);
    expect(values('empty')).toEqual([]);

    expect(get('float64').dtype).toBe('float64');
    expect(get('float64').data).toBeInstanceOf(Float32Array);
    expect(values('float64')).toEqual([0.1, -2.5, 1e30, 3, -0, 1e-30].map(Math.fround));
    expect(Object.is(values('float64')[4], -0)).toBe(true);
    expect(get('int64').dtype).toBe('int64');
    expect(get('int64').data).toBeInstanceOf(Int32Array);
    expect(values('int64')).toEqual([-3, 0, 7, 2 ** 31 - 1, -(2 ** 31)]);
    expect(get('float16').dtype).toBe('float16');
    expect(values('float16')).toEqual([1.5, -2.25, 65504, 2 ** -24, 0, Infinity]);
    expect(get('bool').dtype).toBe('bool');
    expect(get('bool').data).toBeInstanceOf(Uint8Array);
    expect(values('bool')).toEqual([1, 0, 1, 1]);
    expect(values('int32')).toEqual([-5, 6]);
    expect(values('uint8')).toEqual([0, 1, 255]);
  });

  it('reads the golden model and io fixtures with the expected layout', () => {
    const squeeze = readPth(load(join(GOLDEN, 'squeezenet1_1-6.pth')));
    expect(squeeze.size).toBe(52);
    expect(squeeze.get('classifier.1.weight')?.shape).toEqual([6, 512, 1, 1]);

    const mobile = readPth(load(join(GOLDEN, 'mobilenet_v3_small-6.pth')));
    const tracked = mobile.get('features.0.1.num_batches_tracked');
    expect(tracked?.dtype).toBe('int64');
    expect(tracked?.shape).toEqual([]);
    expect(mobile.get('classifier.3.weight')?.shape).toEqual([6, 1024]);

    const io = readPth(load(join(GOLDEN, 'squeezenet1_1-6-io.pth')));
    expect(io.get('input_150')?.shape).toEqual([2, 3, 150, 150]);
    expect(io.get('input_224')?.shape).toEqual([2, 3, 224, 224]);
    expect(io.get('logits_150')?.shape).toEqual([2, 6]);
    expect(Array.from(io.get('labels_150')?.data ?? [])).toEqual([1, 4]);
    expect(io.get('loss_150')?.shape).toEqual([]);
    expect(io.get('grad_features_0_weight_150')?.shape).toEqual([64, 3, 3, 3]);
  });

  it('reads checkpoints, parameters and protocol-4 pickles as torch writes them', () => {
    const script = `
import collections
d = sys.argv[1]
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
opt = torch.optim.Adam(net.parameters(), lr=0.1)
net(torch.randn(2, 3, 5, 5)).sum().backward()
opt.step()
sd = net.state_dict()
torch.save({"epoch": 3, "model_state_dict": sd, "optimizer_state_dict": opt.state_dict(),
            "device": torch.device("cpu"), "note": "x", "flag": None}, d + "/checkpoint.pth")
torch.save({"state_dict": sd, "arch": "tiny"}, d + "/wrapped.pth")
torch.save(dict(net.named_parameters()), d + "/parameters.pth")
torch.save(sd, d + "/proto4.pth", pickle_protocol=4)
print(json.dumps([[k, summary(v)] for k, v in sd.items()]))
`;
    const want = torchJson(script, [tmp]) as [string, TorchSummary][];
    const check = (file: string, keys: string[]): void => {
      const sd = readPth(load(join(tmp, file)));
      expect([...sd.keys()], file).toEqual(keys);
      for (const [key, summary] of want) if (keys.includes(key)) expectMatchesTorch(`${file}: ${key}`, sd.get(key), summary);
    };
    const all = want.map(([k]) => k);
    check('checkpoint.pth', all);
    check('wrapped.pth', all);
    check('proto4.pth', all);
    check('parameters.pth', ['0.weight', '0.bias', '1.weight', '1.bias']);
  });
});

describe('writePth', () => {
  it('round-trips through readPth', () => {
    const sd = everyDtype();
    const back = readPth(writePth(sd));
    expect([...back.keys()]).toEqual([...sd.keys()]);
    for (const [k, t] of sd) {
      const got = back.get(k);
      expect(got?.dtype, k).toBe(t.dtype);
      expect(got?.shape, k).toEqual(t.shape);
      // float16 rounds (0.1 is not a half), everything else is exact.
      const want = t.dtype === 'float16' ? [1.5, -2.25, 65504, 2 ** -24, 0.0999755859375] : Array.from(t.data);
      expect(Array.from(got?.data ?? []), k).toEqual(want);
    }
    const shared = readPth(load(SHARED_WEIGHTS));
    const again = readPth(writePth(shared));
    for (const [k, t] of shared) expect(again.get(k), k).toEqual(t);
  });

  it('lays the zip out like torch.save', () => {
    const files = unzipSync(writePth(everyDtype(), 'my_model'));
    const names = Object.keys(files);
    expect(names[0]).toBe('my_model/data.pkl');
    expect(names.at(-1)).toBe('my_model/version');
    expect(names).toContain('my_model/data/12');
    expect(new TextDecoder().decode(files['my_model/version'])).toBe('3\n');
  });

  it('writes files torch.load reads back with the same names, dtypes, shapes and values', () => {
    const path = join(tmp, 'every-dtype.pth');
    writeFileSync(path, writePth(everyDtype()));
    const script = `
import struct, zipfile
p = sys.argv[1]
raw = open(p, "rb").read()
aligned = []
for info in zipfile.ZipFile(p).infolist():
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    aligned.append((info.header_offset + 30 + name_len + extra_len) % 64 == 0)
sd = torch.load(p)
safe = torch.load(p, weights_only=True)
print(json.dumps({"type": type(sd).__module__ + "." + type(sd).__name__, "aligned": aligned,
                  "safe_equal": list(safe) == list(sd) and all(torch.equal(safe[k], v) for k, v in sd.items()),
                  "contiguous": all(v.is_contiguous() for v in sd.values()),
                  "tensors": [[k, str(v.dtype).replace("torch.", ""), list(v.shape), vals(v)] for k, v in sd.items()]}))
`;
    const got = torchJson(script, [path]) as {
      type: string;
      aligned: boolean[];
      safe_equal: boolean;
      contiguous: boolean;
      tensors: [string, string, number[], (number | string)[]][];
    };
    expect(got.type).toBe('collections.OrderedDict');
    expect(got.aligned.every(Boolean)).toBe(true);
    expect(got.safe_equal).toBe(true);
    expect(got.contiguous).toBe(true);
    const sd = everyDtype();
    expect(got.tensors.map(([k]) => k)).toEqual([...sd.keys()]);
    for (const [k, dtype, shape, values] of got.tensors) {
      const t = sd.get(k) as TensorData;
      expect(dtype, k).toBe(t.dtype);
      expect(shape, k).toEqual(t.shape);
      const want = t.dtype === 'float16' ? [1.5, -2.25, 65504, 2 ** -24, 0.0999755859375] : Array.from(t.data);
      expect(values.map(fromJson), k).toEqual(want);
    }
  });

  it('writes a SqueezeNet state_dict that torchvision loads strictly, bit for bit', () => {
    const path = join(tmp, 'squeezenet-rewritten.pth');
    writeFileSync(path, writePth(readPth(load(join(GOLDEN, 'squeezenet1_1-6.pth'))), 'squeezenet'));
    const script = `
import torchvision
ours, theirs = torch.load(sys.argv[1]), torch.load(sys.argv[2])
model = torchvision.models.squeezenet1_1(num_classes=6)
model.load_state_dict(ours, strict=True)
print(json.dumps({"keys": list(ours) == list(theirs),
                  "equal": all(torch.equal(ours[k], theirs[k]) and ours[k].dtype == theirs[k].dtype for k in theirs)}))
`;
    expect(torchJson(script, [path, join(GOLDEN, 'squeezenet1_1-6.pth')])).toEqual({ keys: true, equal: true });
  });

  it('refuses data that does not fit the shape or dtype', () => {
    expect(() => writePth(new Map([['w', tensor('float32', [2, 2], [1, 2, 3])]]))).toThrow(/'w' has shape \[2, 2\] but 3 values/);
    expect(() => writePth(new Map([['n', tensor('uint8', [1], [0])]]).set('m', tensor('int8', [1], [200])))).toThrow(
      /'m' \(int8\) holds 200/,
    );
    expect(() => writePth(new Map([['n', { dtype: 'int64', shape: [1], data: new Float32Array([0.5]) }]]))).toThrow(
      /'n' \(int64\) holds 0.5/,
    );
    expect(() => writePth(new Map(), 'a/b')).toThrow(/archive name/);
  });
});

describe('readPth errors', () => {
  const valid = (): Record<string, Uint8Array> =>
    unzipSync(writePth(new Map([['w', tensor('float32', [2, 3], [1, 2, 3, 4, 5, 6])]])));

  it('rejects bytes that are not a zip', () => {
    expectPthError(strToU8('hello, this is not a checkpoint'), /not a zip archive \(starts with 68 65 6c 6c/);
    expectPthError(new Uint8Array(0), /not a zip archive \(starts with nothing/);
  });

  it('rejects a corrupt zip', () => {
    expectPthError(pickleBytes('PK\x03\x04', [1, 2, 3, 4, 5, 6, 7, 8]), /zip archive is corrupt/);
  });

  it('explains the legacy torch.save format', () => {
    expectPthError(
      load(join(GOLDEN, 'legacy-format.pth')),
      /legacy \(pre-1\.6, non-zip\).*re-save it with torch>=1\.6 .*_use_new_zipfile_serialization=True/,
    );
  });

  it('rejects an archive without data.pkl', () => {
    expectPthError(zipSync({ 'archive/version': strToU8('3\n') }), /no data\.pkl/);
  });

  it('rejects a missing storage', () => {
    const files = valid();
    delete files['archive/data/0'];
    expectPthError(zipSync(files), /tensor 'w' points to storage 'archive\/data\/0', which the archive does not contain/);
  });

  it('rejects a truncated storage', () => {
    const files = valid();
    files['archive/data/0'] = (files['archive/data/0'] as Uint8Array).subarray(0, 10);
    expectPthError(zipSync(files), /storage 'archive\/data\/0' of tensor 'w' is truncated: 10 bytes, expected 24 \(6 x float32\)/);
  });

  it('rejects a view that reaches past its storage', () => {
    const files = valid();
    // Rewrite the storage's numel, the last item of the persistent id, from 6 to 5:
    // BININT1 6 TUPLE -> BININT1 5 TUPLE.
    const pkl = (files['archive/data.pkl'] as Uint8Array).slice();
    const at = pkl.findIndex((b, i) => b === 0x4b && pkl[i + 1] === 6 && pkl[i + 2] === 0x74);
    expect(at).toBeGreaterThan(0);
    pkl[at + 1] = 5;
    files['archive/data.pkl'] = pkl;
    expectPthError(zipSync(files), /tensor 'w' .* reaches element 5 of storage 'archive\/data\/0', which has 5/);
  });

  it('rejects a view too large to hold', () => {
    const files = valid();
    // A stride-0 view of the 6-element storage claiming 65535 x 65535 elements: rewrite
    // size (2, 3) and stride (3, 1) as (65535, 65535) and (0, 0).
    const pkl = files['archive/data.pkl'] as Uint8Array;
    const size = [0x4b, 2, 0x4b, 3, 0x86];
    const at = pkl.findIndex((_, i) => size.every((b, k) => pkl[i + k] === b));
    expect(at).toBeGreaterThan(0);
    const patched = [...pkl.subarray(0, at), 0x4d, 0xff, 0xff, 0x4d, 0xff, 0xff, 0x86, 0x4b, 0, 0x4b, 0, 0x86];
    // Skip the original size and stride tuples (5 bytes each).
    files['archive/data.pkl'] = new Uint8Array([...patched, ...pkl.subarray(at + 10)]);
    expectPthError(zipSync(files), /tensor 'w' has shape \[65535, 65535\]: more elements than this reader can hold/);
  });

  it('rejects pickles that are not a dict of tensors', () => {
    expectPthError(pthWith(pickleBytes('\x80\x02]q\x00.')), /expected a state_dict .* but the pickled object is a list, not a dict/);
    expectPthError(pthWith(pickleBytes('\x80\x02}q\x00X\x05\x00\x00\x00epochq\x01K\x03s.')), /'epoch' holds a number, not a tensor/);
    expectPthError(
      pthWith(pickleBytes('\x80\x02}q\x00X\x0a\x00\x00\x00state_dictq\x01X\x01\x00\x00\x00xs.')),
      /the checkpoint's 'state_dict' is not a dict of tensors: the pickled object is a string/,
    );
  });

  it('refuses globals outside the allow-list without running anything', () => {
    // pickle of os.system('ls'): the classic malicious .pth payload.
    expectPthError(
      pthWith(pickleBytes('\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.')),
      /data\.pkl: refusing to load global 'os\.system': only collections\.OrderedDict, .* are allowed \(at offset 2\)/,
    );
    expectPthError(
      pthWith(pickleBytes('\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93.')),
      /refusing to load global 'builtins\.eval'/,
    );
  });

  it('refuses unknown opcodes, naming the byte and offset', () => {
    // 'I' (INT, protocol 0) is not in the subset torch.save uses.
    expectPthError(pthWith(pickleBytes('\x80\x02I42\n.')), /unsupported pickle opcode 0x49 \('I'\) \(at offset 2\)/);
    expectPthError(pthWith(pickleBytes('\x80\x02}\xff.')), /unsupported pickle opcode 0xff \(at offset 3\)/);
  });

  it('rejects a truncated pickle', () => {
    expectPthError(pthWith(pickleBytes('\x80\x02}q\x00')), /pickle ends without STOP/);
    expectPthError(pthWith(pickleBytes('\x80\x02X\xff\x00\x00\x00ab')), /pickle ends inside an operand/);
  });
});

describe('unpickle', () => {
  it('decodes the scalar and container opcodes', () => {
    // {'a': [1, -2, 70000, 2**40, -1.5, None, True, (False,)], 'b': b'\x01'} at protocol 2,
    // with a memo round trip through BINPUT/BINGET.
    const bytes = pickleBytes(
      '\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01J\xfe\xff\xff\xffJp\x11\x01\x00\x8a\x06\x00\x00\x00\x00\x00\x01',
      'G\xbf\xf8\x00\x00\x00\x00\x00\x00N\x88\x89\x85eX\x01\x00\x00\x00bC\x01\x01X\x01\x00\x00\x00ch\x01u.',
    );
    const value = unpickle(bytes, { globals: new Map() }) as Map<string, unknown>;
    expect(value.get('a')).toEqual([1, -2, 70000, 2 ** 40, -1.5, null, true, [false]]);
    expect(value.get('b')).toEqual(new Uint8Array([1]));
    expect(value.get('c')).toBe('a');
    expect(() => unpickle(pickleBytes('\x80\x02Q.'), { globals: new Map() })).toThrow(PickleError);
  });
});
