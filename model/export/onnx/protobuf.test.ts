import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { ProtoWriter, varintBytes } from './protobuf';

// An independent decoder (protobufjs) reads what the writer wrote, field by field.
const root = protobuf.parse(`
syntax = "proto3";
message Inner { string name = 1; repeated int64 dims = 2; }
message Probe {
  int64 small = 1;
  int64 negative = 2;
  uint64 big = 3;
  float f = 4;
  bytes raw = 5;
  string text = 6;
  Inner inner = 7;
  repeated Inner many = 8;
  repeated int64 packed = 9;
  repeated float floats = 10;
  int64 zero = 11;
}
`).root;
const Probe = root.lookupType('Probe');

function decode(bytes: Uint8Array): Record<string, unknown> {
  return Probe.toObject(Probe.decode(bytes), { longs: String, bytes: Array, defaults: false });
}

describe('protobuf wire encoding', () => {
  it('writes varints as base-128 groups, negatives as 64-bit two’s complement', () => {
    expect(varintBytes(0)).toEqual([0]);
    expect(varintBytes(1)).toEqual([1]);
    expect(varintBytes(127)).toEqual([0x7f]);
    expect(varintBytes(128)).toEqual([0x80, 0x01]);
    expect(varintBytes(300)).toEqual([0xac, 0x02]);
    // Above 2^32, where bit operators would have truncated.
    expect(varintBytes(2 ** 35 + 5)).toEqual([0x85, 0x80, 0x80, 0x80, 0x80, 0x01]);
    expect(varintBytes(-1)).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(varintBytes(2n ** 64n - 1n)).toEqual(varintBytes(-1));
    expect(() => varintBytes(2 ** 60)).toThrow(/safe integer/);
    expect(() => varintBytes(2n ** 64n)).toThrow(/64-bit/);
    expect(() => varintBytes(1.5)).toThrow(/safe integer/);
  });

  it('round-trips every field kind through protobufjs', () => {
    const payload = Uint8Array.from({ length: 300 }, (_, i) => i % 251);
    const inner = (name: string, dims: number[]) => new ProtoWriter().string(1, name).packedVarints(2, dims);
    const w = new ProtoWriter()
      .varint(1, 150)
      .varint(2, -42)
      .varint(3, 2n ** 63n + 7n)
      .float32(4, 1 / 6)
      .bytes(5, payload)
      .string(6, 'Gebäude ✓')
      .message(7, inner('conv', [64, 3, 3, 3]))
      .message(8, inner('a', [1]))
      .message(8, inner('', []))
      .packedVarints(9, [0, 1, 300, 2 ** 40, -5])
      .packedFloats(10, [0.5, -2, 1e-30])
      .varint(11, 0);
    const bytes = w.finish();
    expect(bytes.length).toBe(w.length);
    expect(decode(bytes)).toEqual({
      small: '150',
      negative: '-42',
      big: (2n ** 63n + 7n).toString(),
      f: Math.fround(1 / 6),
      raw: Array.from(payload),
      text: 'Gebäude ✓',
      inner: { name: 'conv', dims: ['64', '3', '3', '3'] },
      many: [{ name: 'a', dims: ['1'] }, { name: '' }],
      packed: ['0', '1', '300', String(2 ** 40), '-5'],
      floats: [0.5, -2, Math.fround(1e-30)],
      zero: '0',
    });
  });

  it('refuses field numbers protobuf does not allow', () => {
    expect(() => new ProtoWriter().varint(0, 1)).toThrow(/field number/);
    expect(() => new ProtoWriter().string(2 ** 29, 'x')).toThrow(/field number/);
  });
});
