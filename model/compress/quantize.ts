/**
 * Weight quantization as TensorFlow.js's weights manifest describes it: an entry keeps
 * `dtype: 'float32'` (what the values are once read) and gains `quantization`, either
 * `{dtype: 'float16'}` (IEEE half precision, 2 bytes a value) or `{dtype: 'uint8', scale, min}`
 * (value = q·scale + min, 1 byte a value). tfjs's own loader (`tf.io.decodeWeights`) reads the
 * same bytes to the same values.
 */

/** What a bundle's weights may be stored as. */
export type WeightQuantization = 'float16' | 'uint8';

/** The manifest's `quantization` field of one weight entry. */
export type QuantizationSpec = { dtype: 'float16' } | { dtype: 'uint8'; scale: number; min: number };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE binary16 bits, rounding to nearest even; overflow saturates to ±Infinity. */
export function toFloat16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // a carry into the exponent is still right
  return sign | h;
}

/** IEEE binary16 bits → number. */
export function fromFloat16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * Affine uint8 parameters for values in [lo, hi], nudged as tfjs-converter does so that 0 is
 * one of the 256 levels: zeros (pruned weights, zero biases) come back exactly zero.
 */
export function uint8Range(lo: number, hi: number): { scale: number; min: number } {
  const low = Math.min(lo, 0);
  const high = Math.max(hi, 0);
  if (high === low) return { scale: 1, min: 0 };
  const scale = (high - low) / 255;
  const zeroPoint = Math.round(-low / scale);
  return { scale, min: -zeroPoint * scale };
}

/** The bytes of one weight stored as `quantization` says, and the manifest field to write. */
export function encodeWeight(data: Float32Array, as: WeightQuantization): { bytes: Uint8Array; quantization: QuantizationSpec } {
  if (as === 'float16') {
    const halves = new Uint16Array(data.length);
    for (let i = 0; i < data.length; i++) halves[i] = toFloat16(data[i]!);
    return { bytes: new Uint8Array(halves.buffer), quantization: { dtype: 'float16' } };
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) {
    if (!Number.isFinite(v)) throw new RangeError('cannot quantize a weight holding NaN or Infinity');
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const { scale, min } = uint8Range(lo, hi);
  const q = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) q[i] = Math.min(255, Math.max(0, Math.round((data[i]! - min) / scale)));
  return { bytes: q, quantization: { dtype: 'uint8', scale, min } };
}

/** Bytes a weight of `n` values takes when stored as `quantization` says (float32 without it). */
export function storedBytes(n: number, quantization: QuantizationSpec | undefined): number {
  return n * (quantization === undefined ? 4 : quantization.dtype === 'float16' ? 2 : 1);
}

/** Values of a quantized weight, as tfjs reads them. `bytes` must hold exactly `storedBytes(n)`. */
export function decodeWeight(bytes: Uint8Array, n: number, quantization: QuantizationSpec): Float32Array {
  const out = new Float32Array(n);
  if (quantization.dtype === 'float16') {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) out[i] = fromFloat16(view.getUint16(2 * i, true));
  } else {
    const { scale, min } = quantization;
    for (let i = 0; i < n; i++) out[i] = bytes[i]! * scale + min;
  }
  return out;
}

/** Checks a manifest's `quantization` field, returning a sentence on what is wrong, or null. */
export function quantizationProblem(q: unknown): string | null {
  if (typeof q !== 'object' || q === null) return 'quantization must be an object';
  const spec = q as Record<string, unknown>;
  if (spec.dtype === 'float16') return null;
  if (spec.dtype !== 'uint8') return `quantization dtype ${String(spec.dtype)} is not supported (float16 or uint8)`;
  if (typeof spec.scale !== 'number' || !(spec.scale > 0) || typeof spec.min !== 'number' || !Number.isFinite(spec.min)) return 'uint8 quantization needs a positive scale and a finite min';
  return null;
}
