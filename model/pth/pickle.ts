/**
 * A minimal, safe unpickler for the subset of Python's pickle (protocols 2 to 5) that `torch.save`
 * writes for state_dicts and plain dicts of tensors.
 *
 * Python's own unpickler imports and calls whatever a file names, so a `.pth` file from the internet
 * can run code. This one never does: every global goes through the caller's allow-list, and an
 * allowed global is a plain TypeScript value or function, never something looked up by name.
 */

/** Raised for a malformed pickle, an opcode outside the supported subset or a refused global. */
export class PickleError extends Error {
  override name = 'PickleError';
}

/**
 * A Python callable the caller allows: `REDUCE` and `NEWOBJ` call `fn` with the argument tuple.
 * `qualifiedName` ("module.name") is kept for error messages.
 */
export class PickleCallable {
  constructor(
    readonly qualifiedName: string,
    readonly fn: (args: unknown[]) => unknown,
  ) {}
}

/**
 * What `BUILD` may do with an object: Python sets instance state (`__setstate__` or `__dict__`).
 * An object returned by an allowed callable implements this to accept that state.
 */
export interface PickleBuildable {
  setPickleState(state: unknown): void;
}

/** Options for {@link unpickle}. */
export interface UnpickleOptions {
  /**
   * The allow-list: `"module.name"` to the value the global stands for (usually a
   * {@link PickleCallable} or a marker object). Any global not in it is refused.
   */
  globals: ReadonlyMap<string, unknown>;
  /** Resolves a `BINPERSID` id (torch uses them for tensor storages). Absent: refused. */
  persistentLoad?: (pid: unknown) => unknown;
}

/**
 * Decoded Python values: `None` is null, `bool` boolean, `int` number (a bigint beyond 2^53),
 * `float` number, `str` string, `bytes` Uint8Array, `list` and `tuple` arrays (tuples frozen),
 * `dict` a Map (insertion order kept, as in Python).
 */
export type PickleDict = Map<unknown, unknown>;

const MARK = Symbol('mark');

// Opcode bytes, named as in CPython's pickletools.
const Op = {
  MARK: 0x28, // (
  STOP: 0x2e, // .
  POP: 0x30, // 0
  POP_MARK: 0x31, // 1
  DUP: 0x32, // 2
  BINBYTES: 0x42, // B
  SHORT_BINBYTES: 0x43, // C
  BINFLOAT: 0x47, // G
  BININT: 0x4a, // J
  BININT1: 0x4b, // K
  BININT2: 0x4d, // M
  NONE: 0x4e, // N
  BINPERSID: 0x51, // Q
  REDUCE: 0x52, // R
  BINUNICODE: 0x58, // X
  EMPTY_LIST: 0x5d, // ]
  APPEND: 0x61, // a
  BUILD: 0x62, // b
  GLOBAL: 0x63, // c
  APPENDS: 0x65, // e
  BINGET: 0x68, // h
  LONG_BINGET: 0x6a, // j
  BINPUT: 0x71, // q
  LONG_BINPUT: 0x72, // r
  SETITEM: 0x73, // s
  TUPLE: 0x74, // t
  SETITEMS: 0x75, // u
  EMPTY_DICT: 0x7d, // }
  EMPTY_TUPLE: 0x29, // )
  PROTO: 0x80,
  NEWOBJ: 0x81,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
} as const;

function describeOpcode(byte: number): string {
  const hex = `0x${byte.toString(16).padStart(2, '0')}`;
  // Printable opcodes are easier to look up in pickletools' table by their character.
  return byte >= 0x20 && byte < 0x7f ? `${hex} ('${String.fromCharCode(byte)}')` : hex;
}

function describeValue(value: unknown): string {
  if (value === null) return 'None';
  if (value instanceof PickleCallable) return value.qualifiedName;
  if (value instanceof Map) return 'dict';
  if (Array.isArray(value)) return Object.isFrozen(value) ? 'tuple' : 'list';
  if (value instanceof Uint8Array) return 'bytes';
  return typeof value;
}

/**
 * Unpickles `bytes` and returns the top-level value.
 * Throws {@link PickleError} on anything outside the supported subset, naming the opcode and offset.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // fatal: a pickle with invalid UTF-8 is corrupt, and silently replacing characters would
  // turn a tensor name into a different one.
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  let opStart = 0;

  const fail = (message: string): never => {
    throw new PickleError(`${message} (at offset ${opStart})`);
  };
  const need = (n: number): void => {
    if (n > bytes.length - pos) fail(`pickle ends inside an operand: needs ${n} more bytes, ${bytes.length - pos} left`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++] as number;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const lo = view.getUint32(pos, true);
    const hi = view.getUint32(pos + 4, true);
    pos += 8;
    // Lengths beyond 2^53 cannot be in a file we can hold; `need` then rejects them.
    return hi * 2 ** 32 + lo;
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const text = (n: number): string => {
    const raw = take(n);
    try {
      return utf8.decode(raw);
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('GLOBAL operand has no newline');
    const s = text(end - pos);
    pos += 1;
    return s;
  };
  const pop = (): unknown => {
    const floor = marks.length > 0 ? (marks[marks.length - 1] as number) : 0;
    if (stack.length <= floor) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    const floor = marks.length > 0 ? (marks[marks.length - 1] as number) : 0;
    if (stack.length <= floor) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const mark = marks.pop();
    if (mark === undefined) return fail('no MARK on the stack');
    return stack.splice(mark);
  };
  const resolveGlobal = (module: string, name: string): unknown => {
    const qualified = `${module}.${name}`;
    if (!options.globals.has(qualified)) {
      fail(`refusing to load global '${qualified}': only ${[...options.globals.keys()].join(', ')} are allowed`);
    }
    return options.globals.get(qualified);
  };
  const call = (callable: unknown, args: unknown, opName: string): unknown => {
    if (!(callable instanceof PickleCallable)) {
      return fail(`${opName} on ${describeValue(callable)}, which is not an allowed callable`);
    }
    if (!Array.isArray(args)) return fail(`${opName} arguments are a ${describeValue(args)}, not a tuple`);
    try {
      return callable.fn(args);
    } catch (err) {
      if (err instanceof PickleError) throw err;
      return fail(`${callable.qualifiedName}(): ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const dictOf = (value: unknown, opName: string): PickleDict => {
    if (!(value instanceof Map)) return fail(`${opName} on a ${describeValue(value)}, not a dict`);
    return value;
  };
  const listOf = (value: unknown, opName: string): unknown[] => {
    if (!Array.isArray(value) || Object.isFrozen(value)) return fail(`${opName} on a ${describeValue(value)}, not a list`);
    return value;
  };
  const int = (value: bigint): number | bigint =>
    value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;

  for (;;) {
    opStart = pos;
    if (pos >= bytes.length) fail('pickle ends without STOP');
    const op = bytes[pos++] as number;
    switch (op) {
      case Op.PROTO: {
        const proto = u8();
        if (proto < 2 || proto > 5) fail(`unsupported pickle protocol ${proto}`);
        break;
      }
      case Op.FRAME:
        // Framing only groups opcodes for buffered reads; the whole pickle is in memory already.
        u64();
        break;
      case Op.STOP: {
        if (stack.length !== 1 || marks.length !== 0) {
          fail(`STOP with ${stack.length} values and ${marks.length} marks on the stack`);
        }
        return stack[0];
      }
      case Op.MARK:
        marks.push(stack.length);
        break;
      case Op.POP:
        pop();
        break;
      case Op.POP_MARK:
        popMark();
        break;
      case Op.DUP:
        stack.push(top());
        break;
      case Op.NONE:
        stack.push(null);
        break;
      case Op.NEWTRUE:
        stack.push(true);
        break;
      case Op.NEWFALSE:
        stack.push(false);
        break;
      case Op.BININT1:
        stack.push(u8());
        break;
      case Op.BININT2:
        stack.push(u16());
        break;
      case Op.BININT:
        stack.push(u32() | 0);
        break;
      case Op.LONG1: {
        const n = u8();
        const raw = take(n);
        let value = 0n;
        for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i] as number);
        // Two's complement: the top bit of the last byte is the sign.
        if (n > 0 && ((raw[n - 1] as number) & 0x80) !== 0) value -= 1n << BigInt(8 * n);
        stack.push(int(value));
        break;
      }
      case Op.BINFLOAT: {
        need(8);
        stack.push(view.getFloat64(pos, false)); // big-endian, unlike everything else in pickle
        pos += 8;
        break;
      }
      case Op.SHORT_BINUNICODE:
        stack.push(text(u8()));
        break;
      case Op.BINUNICODE:
        stack.push(text(u32()));
        break;
      case Op.BINUNICODE8:
        stack.push(text(u64()));
        break;
      case Op.SHORT_BINBYTES:
        stack.push(take(u8()).slice());
        break;
      case Op.BINBYTES:
        stack.push(take(u32()).slice());
        break;
      case Op.BINBYTES8:
        stack.push(take(u64()).slice());
        break;
      case Op.EMPTY_DICT:
        stack.push(new Map());
        break;
      case Op.EMPTY_LIST:
        stack.push([]);
        break;
      case Op.EMPTY_TUPLE:
        stack.push(Object.freeze([]));
        break;
      case Op.TUPLE:
        stack.push(Object.freeze(popMark()));
        break;
      case Op.TUPLE1: {
        const a = pop();
        stack.push(Object.freeze([a]));
        break;
      }
      case Op.TUPLE2: {
        const b = pop();
        const a = pop();
        stack.push(Object.freeze([a, b]));
        break;
      }
      case Op.TUPLE3: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(Object.freeze([a, b, c]));
        break;
      }
      case Op.SETITEM: {
        const value = pop();
        const key = pop();
        dictOf(top(), 'SETITEM').set(key, value);
        break;
      }
      case Op.SETITEMS: {
        const items = popMark();
        const dict = dictOf(top(), 'SETITEMS');
        if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
        for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
        break;
      }
      case Op.APPEND: {
        const value = pop();
        listOf(top(), 'APPEND').push(value);
        break;
      }
      case Op.APPENDS: {
        const items = popMark();
        listOf(top(), 'APPENDS').push(...items);
        break;
      }
      case Op.BINPUT:
        memo.set(u8(), top());
        break;
      case Op.LONG_BINPUT:
        memo.set(u32(), top());
        break;
      case Op.MEMOIZE:
        memo.set(memo.size, top());
        break;
      case Op.BINGET:
      case Op.LONG_BINGET: {
        const index = op === Op.BINGET ? u8() : u32();
        if (!memo.has(index)) fail(`memo entry ${index} was never stored`);
        stack.push(memo.get(index));
        break;
      }
      case Op.GLOBAL: {
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      }
      case Op.STACK_GLOBAL: {
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL operands are not strings');
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case Op.REDUCE: {
        const args = pop();
        const callable = pop();
        stack.push(call(callable, args, 'REDUCE'));
        break;
      }
      case Op.NEWOBJ: {
        // cls.__new__(cls, *args): for the allowed classes that is the same as calling them.
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args, 'NEWOBJ'));
        break;
      }
      case Op.BUILD: {
        const state = pop();
        const target = top();
        if (target instanceof Map) {
          // OrderedDict carries instance attributes here: a state_dict's `_metadata` (per-module
          // versions). They are not tensors, and Python keeps them off the mapping too.
          break;
        }
        if (typeof target === 'object' && target !== null && 'setPickleState' in target) {
          (target as PickleBuildable).setPickleState(state);
          break;
        }
        fail(`BUILD on a ${describeValue(target)}, which takes no state`);
        break;
      }
      case Op.BINPERSID: {
        const pid = pop();
        const persistentLoad = options.persistentLoad;
        if (!persistentLoad) return fail('BINPERSID but no persistent ids are expected');
        try {
          stack.push(persistentLoad(pid));
        } catch (err) {
          if (err instanceof PickleError) throw err;
          fail(`persistent id: ${err instanceof Error ? err.message : String(err)}`);
        }
        break;
      }
      default:
        fail(`unsupported pickle opcode ${describeOpcode(op)}`);
    }
  }
}
