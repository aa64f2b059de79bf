/**
 * Arrays for values that only pass through on their way into a tensor: a batch of stored
 * features, a dropout mask, a batch of normalised pixels. A fresh multi-megabyte array costs
 * more than filling it (every page is faulted in and zeroed: 3.5 ms against 0.3 ms for a
 * 5 MB batch of features), and a head-only epoch makes two per step.
 *
 * An array is reused only where the current backend copies the values when it makes a tensor
 * (wasm copies them into its own memory); a backend that keeps the array itself (cpu, webgl
 * until upload) gets a fresh one every time. Which it is, is found out by trying, once per
 * backend: no backend is named here.
 */
import * as tf from '@tensorflow/tfjs-core';

const copiesValues = new WeakMap<object, boolean>();

/** Whether the current backend copies an array's values when it makes a tensor of them. */
export function backendCopiesValues(): boolean {
  const backend = tf.backend();
  let copies = copiesValues.get(backend);
  if (copies === undefined) {
    const probe = new Float32Array([1]);
    const t = tf.tensor1d(probe);
    probe[0] = 2;
    try {
      copies = t.dataSync()[0] === 1;
    } catch {
      // A backend that cannot read synchronously: assume it keeps the array.
      copies = false;
    }
    t.dispose();
    copiesValues.set(backend, copies);
  }
  return copies;
}

/** Sizes kept at once: a run uses a full batch and a last, smaller one. */
const KEPT_SIZES = 4;

/**
 * Reusable arrays by size. `take(size)` gives an array whose contents are left over from
 * before: the caller fills every element, then makes its tensor at once (no await in between),
 * and does not keep the array.
 */
export class Scratch {
  private readonly bySize = new Map<number, Float32Array<ArrayBuffer>>();

  take(size: number): Float32Array<ArrayBuffer> {
    if (!backendCopiesValues()) return new Float32Array(size);
    let buf = this.bySize.get(size);
    if (buf) {
      // Most recently used last, so the oldest size goes first.
      this.bySize.delete(size);
    } else {
      buf = new Float32Array(size);
      if (this.bySize.size >= KEPT_SIZES) this.bySize.delete(this.bySize.keys().next().value!);
    }
    this.bySize.set(size, buf);
    return buf;
  }
}
