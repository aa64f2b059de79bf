/**
 * The `data.pkl` of a TorchScript archive: the root module object, pickled (protocol 2) as
 * torch.jit.save writes it — `__torch__.<module>.<Class>` built with no arguments, then its
 * attributes set from a dict. Tensors are persistent references to `data/<key>` records,
 * rebuilt by `torch._utils._rebuild_tensor_v2` exactly as in a `.pth` file.
 */

/** An attribute value of the pickled module. */
export type ScriptAttribute =
  | { kind: 'tensor'; storageKey: string; shape: readonly number[]; requiresGrad: boolean }
  | { kind: 'bool'; value: boolean };

const utf8 = new TextEncoder();

class Bytes {
  private readonly out: number[] = [];

  op(...codes: number[]): this {
    this.out.push(...codes);
    return this;
  }

  private u32(v: number): void {
    this.out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }

  global(module: string, name: string): this {
    this.out.push(0x63); // GLOBAL
    this.out.push(...utf8.encode(`${module}\n${name}\n`));
    return this;
  }

  str(s: string): this {
    const b = utf8.encode(s);
    this.out.push(0x58); // BINUNICODE
    this.u32(b.length);
    this.out.push(...b);
    return this;
  }

  int(v: number): this {
    if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new RangeError(`pickle: ${v} does not fit a 32-bit int`);
    this.out.push(0x4a); // BININT
    this.u32(v >>> 0);
    return this;
  }

  ints(values: readonly number[]): this {
    this.op(0x28); // MARK
    for (const v of values) this.int(v);
    return this.op(0x74); // TUPLE
  }

  result(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = acc;
    acc *= shape[i]!;
  }
  return out;
}

/** Pickles `module.className()` with the given attributes, float32 tensors only. */
export function pickleScriptModule(module: string, className: string, attributes: ReadonlyArray<readonly [string, ScriptAttribute]>): Uint8Array {
  const p = new Bytes().op(0x80, 2); // PROTO 2
  p.global(module, className).op(0x29, 0x81); // EMPTY_TUPLE, NEWOBJ
  p.op(0x7d, 0x28); // EMPTY_DICT, MARK
  for (const [name, value] of attributes) {
    p.str(name);
    if (value.kind === 'bool') {
      p.op(value.value ? 0x88 : 0x89); // NEWTRUE / NEWFALSE
      continue;
    }
    const numel = value.shape.reduce((a, b) => a * b, 1);
    p.global('torch._utils', '_rebuild_tensor_v2').op(0x28); // MARK: (storage, offset, size, stride, requires_grad, hooks)
    p.op(0x28).str('storage').global('torch', 'FloatStorage').str(value.storageKey).str('cpu').int(numel).op(0x74, 0x51); // TUPLE, BINPERSID
    p.int(0).ints(value.shape).ints(strides(value.shape));
    p.op(value.requiresGrad ? 0x88 : 0x89);
    p.global('collections', 'OrderedDict').op(0x29, 0x52); // OrderedDict()
    p.op(0x74, 0x52); // TUPLE, REDUCE
  }
  return p.op(0x75, 0x62, 0x2e).result(); // SETITEMS, BUILD, STOP
}

/** `constants.pkl` of a module that uses no tensor constants: an empty tuple. */
export const EMPTY_CONSTANTS = Uint8Array.of(0x80, 2, 0x29, 0x2e);
