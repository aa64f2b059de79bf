/** JSON as it travels inside `google.protobuf.Value`. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * `google.protobuf.Value` as protobufjs (the Vertex client) and proto-loader (the emulator)
 * represent it: one of the kind fields set; `kind` names it when the oneof is exposed.
 */
export interface ProtoValue {
  kind?: string | null;
  nullValue?: 'NULL_VALUE' | 0 | null;
  numberValue?: number | null;
  stringValue?: string | null;
  boolValue?: boolean | null;
  structValue?: { fields?: Record<string, ProtoValue> | null } | null;
  listValue?: { values?: ProtoValue[] | null } | null;
}

/** JSON → `google.protobuf.Value`. */
export function toProtoValue(v: Json): ProtoValue {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toProtoValue) } };
  return { structValue: { fields: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toProtoValue(x)])) } };
}

const KINDS = ['structValue', 'listValue', 'stringValue', 'numberValue', 'boolValue', 'nullValue'] as const;

/** `google.protobuf.Value` → JSON. Throws on a value with no kind set. */
export function fromProtoValue(v: ProtoValue): Json {
  // protobufjs messages carry defaults on their prototype, so only `kind` or an own,
  // non-null field says which member of the oneof is set.
  const kind = typeof v.kind === 'string' && (KINDS as readonly string[]).includes(v.kind) ? v.kind : KINDS.find((k) => Object.hasOwn(v, k) && v[k] !== null && v[k] !== undefined);
  switch (kind) {
    case 'nullValue':
      return null;
    case 'numberValue':
      return Number(v.numberValue);
    case 'stringValue':
      return String(v.stringValue);
    case 'boolValue':
      return Boolean(v.boolValue);
    case 'listValue':
      return (v.listValue?.values ?? []).map(fromProtoValue);
    case 'structValue':
      return Object.fromEntries(Object.entries(v.structValue?.fields ?? {}).map(([k, x]) => [k, fromProtoValue(x)]));
    default:
      throw new Error('google.protobuf.Value with no kind set');
  }
}
