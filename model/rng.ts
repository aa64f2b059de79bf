/**
 * A small seeded PRNG (mulberry32). Everything random in training — splits, shuffles,
 * augmentation, dropout seeds, initialisation — draws from one of these, so a run is
 * reproducible from its seed and its state can be checkpointed as a single number.
 */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** The current state; `new Rng(0).restore(state)` continues the same sequence. */
  get state(): number {
    return this.s;
  }

  restore(state: number): this {
    this.s = state >>> 0;
    return this;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** A fresh permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    return p;
  }

  /** A 31-bit integer seed for a tfjs op that takes one (dropout, random ops). */
  seed(): number {
    return this.int(0x7fffffff);
  }
}

/** mulberry32's output for state `s` (int32 throughout; V8 inlines it into the loops below). */
function mulberryOutput(s: number): number {
  let t = s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= (t + Math.imul(t ^ (t >>> 7), t | 61)) | 0;
  return t ^ (t >>> 14);
}

/**
 * A dropout mask of `size` elements: each is 1/(1 - rate) with probability 1 - rate, else 0
 * (PyTorch's inverted dropout), drawn from mulberry32 seeded with `seed`, two 16-bit draws
 * per step. Filled in one tight loop: tfjs's randomUniform draws each number through
 * seedrandom's objects and cost a head-only epoch seconds.
 *
 * `offset`: the mask is elements [offset, offset + size) of the mask of a larger tensor with
 * the same seed. mulberry32's state after k steps is `seed + k·0x6d2b79f5`, so any part of a
 * batch's mask is drawn directly: a batch split across threads gets the masks it would have
 * had whole.
 *
 * `out`: where to write the mask (every element is written); a new array by default.
 */
export function dropoutMask(size: number, rate: number, seed: number, offset = 0, out: Float32Array<ArrayBuffer> = new Float32Array(size)): Float32Array<ArrayBuffer> {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout rate must be in [0, 1), got ${rate}`);
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`mask offset must be a whole number ≥ 0, got ${offset}`);
  if (out.length !== size) throw new RangeError(`mask array holds ${out.length} elements, not ${size}`);
  const keep = 1 / (1 - rate);
  const threshold = Math.round(rate * 65536);
  // All in int32 (`| 0`), so V8 keeps every value in a register.
  let s = (seed + Math.imul(Math.floor(offset / 2), 0x6d2b79f5)) | 0;
  let i = 0;
  if (offset % 2 === 1 && size > 0) {
    // The first element is the high half of a draw whose low half belongs to the element before.
    s = (s + 0x6d2b79f5) | 0;
    const t = mulberryOutput(s);
    out[0] = ((threshold - 1 - (t >>> 16)) >>> 31) * keep;
    i = 1;
  }
  for (; i < size; i += 2) {
    s = (s + 0x6d2b79f5) | 0;
    const t = mulberryOutput(s);
    // Branch-free: a kept element has draw >= threshold, i.e. threshold - 1 - draw < 0 (sign bit set).
    // A random branch per element was mispredicted half the time.
    out[i] = ((threshold - 1 - (t & 0xffff)) >>> 31) * keep;
    if (i + 1 < size) out[i + 1] = ((threshold - 1 - (t >>> 16)) >>> 31) * keep;
  }
  return out;
}
