import type { StateDict } from '../../tensor-data';
import type { ConvOptions, NetworkBuilder } from '../arch/network-builder';
import { DataType, type OnnxAttribute, type OnnxNode, type OnnxTensor } from './onnx-proto';

/** Folded BatchNorm: the per-channel affine `y = x·scale + shift` of eval mode. */
interface ChannelAffine {
  scale: Float64Array;
  shift: Float64Array;
}

const ints = (name: string, value: readonly number[]): OnnxAttribute => ({ name, type: 'ints', value });
const int = (name: string, value: number): OnnxAttribute => ({ name, type: 'int', value });
const float = (name: string, value: number): OnnxAttribute => ({ name, type: 'float', value });

/**
 * Builds an ONNX graph node by node from a torchvision state_dict. Each method emits one
 * operator and returns the name of its output; values are named after the torchvision
 * module that produces them, so the graph reads like the PyTorch model.
 */
export class GraphBuilder implements NetworkBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly used = new Set<string>();

  constructor(private readonly sd: StateDict) {}

  /** A state_dict tensor as float32, checked against the shape the graph expects. */
  tensor(key: string, shape?: readonly number[]): Float32Array {
    const t = this.sd.get(key);
    if (!t) throw new Error(`state_dict lacks ${key}`);
    if (shape && (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i]))) {
      throw new Error(`${key} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    return Float32Array.from(t.data);
  }

  shape(key: string): readonly number[] {
    const t = this.sd.get(key);
    if (!t) throw new Error(`state_dict lacks ${key}`);
    return t.shape;
  }

  has(key: string): boolean {
    return this.sd.has(key);
  }

  private unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  constant(name: string, dims: readonly number[], data: Float32Array): string {
    const unique = this.unique(name);
    this.initializers.push({ name: unique, dims, dataType: DataType.FLOAT, data });
    return unique;
  }

  op(opType: string, inputs: readonly string[], output: string, attributes: OnnxAttribute[] = []): string {
    const out = this.unique(output);
    this.nodes.push({ opType, name: out, inputs, outputs: [out], attributes });
    return out;
  }

  /** Gives the value `from` (a node's output) the name `to`, for graph outputs with fixed names. */
  rename(from: string, to: string): void {
    const i = this.nodes.findIndex((n) => n.outputs.includes(from));
    if (i < 0) throw new Error(`no node produces ${from}`);
    if (this.used.has(to)) throw new Error(`value name ${to} is taken`);
    const n = this.nodes[i]!;
    this.nodes[i] = { ...n, outputs: n.outputs.map((o) => (o === from ? to : o)) };
    this.used.add(to);
  }

  conv(x: string, prefix: string, options: ConvOptions = {}): string {
    return this.convAffine(x, prefix, options);
  }

  /** A convolution whose output channels are then scaled and shifted, folded into its filter and bias. */
  private convAffine(x: string, prefix: string, options: ConvOptions, affine?: ChannelAffine): string {
    const shape = this.shape(`${prefix}.weight`);
    const [out, , kh, kw] = shape as [number, number, number, number];
    let weight = this.tensor(`${prefix}.weight`);
    let bias = this.has(`${prefix}.bias`) ? this.tensor(`${prefix}.bias`) : null;
    if (affine) ({ weight, bias } = foldAffine(weight, bias, affine, out));
    const p = options.padding ?? 0;
    const inputs = [x, this.constant(`${prefix}.weight`, shape, weight)];
    if (bias) inputs.push(this.constant(`${prefix}.bias`, [out], bias));
    return this.op('Conv', inputs, prefix, [
      ints('kernel_shape', [kh, kw]),
      ints('strides', [options.stride ?? 1, options.stride ?? 1]),
      ints('pads', [p, p, p, p]),
      ints('dilations', [1, 1]),
      int('group', options.groups ?? 1),
    ]);
  }

  /** BatchNorm folded into the convolution: one Conv node, as torch.onnx's constant folding makes. */
  convBatchNorm(x: string, convPrefix: string, bnPrefix: string, eps: number, options: ConvOptions = {}): string {
    const out = this.shape(`${convPrefix}.weight`)[0]!;
    const gamma = this.tensor(`${bnPrefix}.weight`, [out]);
    const beta = this.tensor(`${bnPrefix}.bias`, [out]);
    const mean = this.tensor(`${bnPrefix}.running_mean`, [out]);
    const variance = this.tensor(`${bnPrefix}.running_var`, [out]);
    const scale = new Float64Array(out);
    const shift = new Float64Array(out);
    for (let c = 0; c < out; c++) {
      scale[c] = gamma[c]! / Math.sqrt(variance[c]! + eps);
      shift[c] = beta[c]! - mean[c]! * scale[c]!;
    }
    return this.convAffine(x, convPrefix, options, { scale, shift });
  }

  /** `nn.Linear` as Gemm with the weight kept in torch's `[out, in]` layout (transB). */
  linear(x: string, prefix: string): string {
    const shape = this.shape(`${prefix}.weight`);
    const w = this.constant(`${prefix}.weight`, shape, this.tensor(`${prefix}.weight`));
    const b = this.constant(`${prefix}.bias`, [shape[0]!], this.tensor(`${prefix}.bias`, [shape[0]!]));
    return this.op('Gemm', [x, w, b], prefix, [float('alpha', 1), float('beta', 1), int('transA', 0), int('transB', 1)]);
  }

  relu(x: string, name: string): string {
    return this.op('Relu', [x], name);
  }

  /** `nn.Hardswish`: ONNX's HardSwish (opset 14) is x·max(0, min(1, x/6 + 1/2)), the same function. */
  hardSwish(x: string, name: string): string {
    return this.op('HardSwish', [x], name);
  }

  /** `nn.Hardsigmoid` = relu6(x + 3) / 6 = clip(x/6 + 1/2, 0, 1); ONNX's defaults (0.2, 0.5) differ. */
  hardSigmoid(x: string, name: string): string {
    return this.op('HardSigmoid', [x], name, [float('alpha', 1 / 6), float('beta', 0.5)]);
  }

  /** `nn.MaxPool2d(k, s, ceil_mode=True)`, SqueezeNet's pooling. */
  maxPoolCeil(x: string, name: string, k: number, s: number): string {
    return this.op('MaxPool', [x], name, [ints('kernel_shape', [k, k]), ints('strides', [s, s]), ints('pads', [0, 0, 0, 0]), int('ceil_mode', 1)]);
  }

  globalAveragePool(x: string, name: string): string {
    return this.op('GlobalAveragePool', [x], name);
  }

  flatten(x: string, name: string): string {
    return this.op('Flatten', [x], name, [int('axis', 1)]);
  }

  concatChannels(xs: readonly string[], name: string): string {
    return this.op('Concat', xs, name, [int('axis', 1)]);
  }

  add(a: string, b: string, name: string): string {
    return this.op('Add', [a, b], name);
  }

  mul(a: string, b: string, name: string): string {
    return this.op('Mul', [a, b], name);
  }
}

/** Scales each output channel's filter and folds the shift into the bias (in float64, rounded once). */
function foldAffine(weight: Float32Array, bias: Float32Array | null, affine: ChannelAffine, out: number): { weight: Float32Array; bias: Float32Array } {
  const per = weight.length / out;
  const w = new Float32Array(weight.length);
  const b = new Float32Array(out);
  for (let c = 0; c < out; c++) {
    const s = affine.scale[c]!;
    for (let i = c * per; i < (c + 1) * per; i++) w[i] = weight[i]! * s;
    b[c] = (bias ? bias[c]! * s : 0) + affine.shift[c]!;
  }
  return { weight: w, bias: b };
}
