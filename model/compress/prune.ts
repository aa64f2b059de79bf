/**
 * Magnitude pruning of a classifier's weight tensors (convolutions, depthwise convolutions and
 * linear layers; never biases or BatchNorm, and never the logits layer: it is a fraction of a
 * percent of the weights, each of its rows is a class, and its small weights would be the
 * first a global ranking cuts). Unstructured pruning zeroes the smallest |w|, over
 * all layers at once (`global`) or the same fraction of every layer (`layer`); structured
 * pruning zeroes whole output filters by their L1 norm. The masks it returns keep pruned weights
 * at zero while the model is fine-tuned ({@link MaskHook}), so every export of the model
 * (.pth, bundle, ONNX, TorchServe, TorchScript) carries the zeros.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParamSpec } from '../arch/common';
import type { ClassifierModel } from '../model';

/** How weights are chosen: from every layer together, or the same fraction from each layer. */
export type PruneScope = 'global' | 'layer';

export interface PruneOptions {
  /** Fraction of the weights to zero, in [0, 1). */
  sparsity: number;
  scope: PruneScope;
  /** Whole output filters (lowest L1 norm) instead of single weights. */
  structured: boolean;
}

/** Zeros in one weight tensor. */
export interface LayerSparsity {
  name: string;
  total: number;
  zeros: number;
  sparsity: number;
}

/** Zeros per weight tensor and over all of them. */
export interface SparsityReport {
  layers: LayerSparsity[];
  total: number;
  zeros: number;
  sparsity: number;
}

/** 1 keeps a weight, 0 prunes it; by parameter name, in the tfjs layout of the model's variables. */
export type PruneMasks = Map<string, Uint8Array>;

const WEIGHT_KINDS = new Set<ParamSpec['kind']>(['conv', 'depthwise', 'linear']);

/** The tensors pruning works on: every weight of a convolution or linear layer but the logits layer, in network order. */
export function prunableSpecs(model: ClassifierModel): ParamSpec[] {
  return model.specs.filter((s) => WEIGHT_KINDS.has(s.kind) && s.name.endsWith('.weight')).slice(0, -1);
}

/** Checks pruning options from a user, naming the bad value (RangeError). */
export function validatePruneOptions(o: PruneOptions): PruneOptions {
  if (!(o.sparsity >= 0 && o.sparsity < 1)) throw new RangeError(`pruning sparsity must be in [0, 1) (a fraction: 0.7 for 70 %), got ${o.sparsity}`);
  if (o.scope !== 'global' && o.scope !== 'layer') throw new RangeError(`pruning scope must be global or layer, got ${String(o.scope)}`);
  return o;
}

/** Output filters of a tensor in tfjs layout: element i belongs to filter `i % filters`. */
function filterCount(spec: ParamSpec, shape: readonly number[]): number {
  // conv [kh, kw, in, out] and linear [in, out]: the last axis; depthwise [kh, kw, C, 1]: the channel axis.
  return spec.kind === 'depthwise' ? shape[2]! * shape[3]! : shape[shape.length - 1]!;
}

/** Indices of the k smallest scores (ties broken by index, so the choice is deterministic). */
function smallest(scores: Float32Array, k: number): Uint32Array {
  const order = Uint32Array.from(scores.keys());
  order.sort((a, b) => scores[a]! - scores[b]! || a - b);
  return order.subarray(0, k);
}

interface Layer {
  spec: ParamSpec;
  shape: number[];
  data: Float32Array;
}

function unstructuredMasks(layers: Layer[], o: PruneOptions): PruneMasks {
  const masks: PruneMasks = new Map(layers.map((l) => [l.spec.name, new Uint8Array(l.data.length).fill(1)]));
  if (o.scope === 'layer') {
    for (const l of layers) {
      const mask = masks.get(l.spec.name)!;
      for (const i of smallest(l.data.map(Math.abs), Math.round(o.sparsity * l.data.length))) mask[i] = 0;
    }
    return masks;
  }
  const total = layers.reduce((n, l) => n + l.data.length, 0);
  const all = new Float32Array(total);
  const owner: Array<{ start: number; mask: Uint8Array }> = [];
  let at = 0;
  for (const l of layers) {
    for (let i = 0; i < l.data.length; i++) all[at + i] = Math.abs(l.data[i]!);
    owner.push({ start: at, mask: masks.get(l.spec.name)! });
    at += l.data.length;
  }
  const cut = smallest(all, Math.round(o.sparsity * total));
  for (const g of cut) {
    let k = owner.length - 1;
    while (owner[k]!.start > g) k--;
    owner[k]!.mask[g - owner[k]!.start] = 0;
  }
  return masks;
}

function structuredMasks(layers: Layer[], o: PruneOptions): PruneMasks {
  const masks: PruneMasks = new Map(layers.map((l) => [l.spec.name, new Uint8Array(l.data.length).fill(1)]));
  const candidates = layers.map((l) => {
    const filters = filterCount(l.spec, l.shape);
    const l1 = new Float32Array(filters);
    for (let i = 0; i < l.data.length; i++) l1[i % filters]! += Math.abs(l.data[i]!);
    return { layer: l, filters, l1, perFilter: l.data.length / filters };
  });
  const cutFilters = (c: (typeof candidates)[number], which: Iterable<number>): void => {
    const mask = masks.get(c.layer.spec.name)!;
    const gone = new Set(which);
    for (let i = 0; i < mask.length; i++) if (gone.has(i % c.filters)) mask[i] = 0;
  };
  if (o.scope === 'layer') {
    for (const c of candidates) cutFilters(c, smallest(c.l1, Math.min(c.filters - 1, Math.round(o.sparsity * c.filters))));
    return masks;
  }
  // Global: filters ranked by mean |w| (layers' filters differ in size), cut until the target
  // share of the prunable weights is zero; every layer keeps at least one filter.
  const target = Math.round(o.sparsity * candidates.reduce((n, c) => n + c.layer.data.length, 0));
  const ranked = candidates.flatMap((c, k) => Array.from(c.l1, (s, f) => ({ k, f, score: s / c.perFilter })));
  ranked.sort((a, b) => a.score - b.score || a.k - b.k || a.f - b.f);
  const cut = candidates.map(() => [] as number[]);
  let zeroed = 0;
  for (const r of ranked) {
    if (zeroed >= target) break;
    const c = candidates[r.k]!;
    if (cut[r.k]!.length >= c.filters - 1) continue;
    cut[r.k]!.push(r.f);
    zeroed += c.perFilter;
  }
  candidates.forEach((c, k) => cutFilters(c, cut[k]!));
  return masks;
}

/** Masks for the model's current weights (nothing is changed). */
export async function pruningMasks(model: ClassifierModel, options: PruneOptions): Promise<PruneMasks> {
  const o = validatePruneOptions(options);
  const layers: Layer[] = [];
  for (const spec of prunableSpecs(model)) {
    const v = model.param(spec.name);
    layers.push({ spec, shape: [...v.shape], data: (await v.data()) as Float32Array });
  }
  return o.structured ? structuredMasks(layers, o) : unstructuredMasks(layers, o);
}

/**
 * Keeps pruned weights at zero: `apply()` multiplies every masked variable by its mask (after
 * each optimizer step while fine-tuning). Holds the masks as tensors until `dispose()`.
 */
export class MaskHook {
  private readonly tensors: Array<[tf.Variable, tf.Tensor]>;

  constructor(model: ClassifierModel, masks: PruneMasks) {
    this.tensors = [...masks].map(([name, mask]) => {
      const v = model.param(name);
      if (mask.length !== v.size) throw new RangeError(`mask for ${name} has ${mask.length} values, the weight ${v.size}`);
      return [v, tf.tensor(Float32Array.from(mask), v.shape)];
    });
  }

  apply(): void {
    for (const [v, m] of this.tensors) tf.tidy(() => v.assign(tf.mul(v, m)));
  }

  dispose(): void {
    for (const [, m] of this.tensors) m.dispose();
    this.tensors.length = 0;
  }
}

/** Prunes the model in place and returns the masks (for fine-tuning) and the sparsity reached. */
export async function pruneModel(model: ClassifierModel, options: PruneOptions): Promise<{ masks: PruneMasks; report: SparsityReport }> {
  const masks = await pruningMasks(model, options);
  const hook = new MaskHook(model, masks);
  hook.apply();
  hook.dispose();
  return { masks, report: await sparsityOf(model) };
}

/** Zeros in each prunable weight of the model (the logits layer aside), and over all of them. */
export async function sparsityOf(model: ClassifierModel): Promise<SparsityReport> {
  const layers: LayerSparsity[] = [];
  for (const spec of prunableSpecs(model)) {
    const data = (await model.param(spec.name).data()) as Float32Array;
    let zeros = 0;
    for (const v of data) if (v === 0) zeros++;
    layers.push({ name: spec.name, total: data.length, zeros, sparsity: zeros / data.length });
  }
  const total = layers.reduce((n, l) => n + l.total, 0);
  const zeros = layers.reduce((n, l) => n + l.zeros, 0);
  return { layers, total, zeros, sparsity: total === 0 ? 0 : zeros / total };
}
