import type { StateDict } from '../../tensor-data';
import type { ConvOptions, NetworkBuilder } from '../arch/network-builder';

/** A state_dict tensor as a TorchScript module attribute. */
export interface ScriptTensor {
  key: string;
  attribute: string;
  buffer: boolean;
}

/** A TorchScript float literal. */
const float = (n: number): string => (Number.isInteger(n) ? `${n}.0` : String(n));
const pair = (n: number): string => `[${n}, ${n}]`;

/**
 * Writes the network as TorchScript source: one class whose `forward` calls aten operators
 * (`torch.conv2d`, `torch.batch_norm`, …) on tensor attributes named after the state_dict
 * keys (dots become underscores). TorchScript compiles this source when the archive loads.
 */
export class ScriptBuilder implements NetworkBuilder {
  readonly tensors = new Map<string, ScriptTensor>();
  private readonly lines: string[] = [];
  private readonly names = new Set<string>();
  private readonly attributes = new Set<string>();

  constructor(private readonly sd: StateDict) {}

  shape(key: string): readonly number[] {
    const t = this.sd.get(key);
    if (!t) throw new Error(`state_dict lacks ${key}`);
    return t.shape;
  }

  has(key: string): boolean {
    return this.sd.has(key);
  }

  /** `self.<attribute>` for a state_dict key, registering it. */
  private self(key: string, buffer = false): string {
    this.shape(key);
    let t = this.tensors.get(key);
    if (!t) {
      const attribute = key.replace(/\./g, '_');
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(attribute) || this.attributes.has(attribute)) throw new Error(`state_dict key ${key} has no unique TorchScript name`);
      this.attributes.add(attribute);
      t = { key, attribute, buffer };
      this.tensors.set(key, t);
    }
    return `self.${t.attribute}`;
  }

  private emit(name: string, expression: string): string {
    let v = name.replace(/[^A-Za-z0-9_]/g, '_');
    if (!/^[A-Za-z_]/.test(v)) v = `v_${v}`;
    const base = v;
    for (let k = 1; this.names.has(v) || this.attributes.has(v); k++) v = `${base}_${k}`;
    this.names.add(v);
    this.lines.push(`${v} = ${expression}`);
    return v;
  }

  conv(x: string, prefix: string, options: ConvOptions = {}): string {
    const bias = this.has(`${prefix}.bias`) ? this.self(`${prefix}.bias`) : 'None';
    const { stride = 1, padding = 0, groups = 1 } = options;
    return this.emit(prefix, `torch.conv2d(${x}, ${this.self(`${prefix}.weight`)}, ${bias}, ${pair(stride)}, ${pair(padding)}, [1, 1], ${groups})`);
  }

  convBatchNorm(x: string, convPrefix: string, bnPrefix: string, eps: number, options: ConvOptions = {}): string {
    const y = this.conv(x, convPrefix, options);
    const [w, b] = [this.self(`${bnPrefix}.weight`), this.self(`${bnPrefix}.bias`)];
    const [mean, variance] = [this.self(`${bnPrefix}.running_mean`, true), this.self(`${bnPrefix}.running_var`, true)];
    // Eval mode: training False, so the momentum (0.0 here) is never used.
    return this.emit(bnPrefix, `torch.batch_norm(${y}, ${w}, ${b}, ${mean}, ${variance}, False, 0.0, ${float(eps)}, True)`);
  }

  linear(x: string, prefix: string): string {
    return this.emit(prefix, `torch.linear(${x}, ${this.self(`${prefix}.weight`)}, ${this.self(`${prefix}.bias`)})`);
  }

  relu(x: string, name: string): string {
    return this.emit(name, `torch.relu(${x})`);
  }

  hardSwish(x: string, name: string): string {
    return this.emit(name, `torch.hardswish(${x})`);
  }

  hardSigmoid(x: string, name: string): string {
    return this.emit(name, `torch.hardsigmoid(${x})`);
  }

  maxPoolCeil(x: string, name: string, k: number, s: number): string {
    return this.emit(name, `torch.max_pool2d(${x}, ${pair(k)}, ${pair(s)}, [0, 0], [1, 1], True)`);
  }

  globalAveragePool(x: string, name: string): string {
    return this.emit(name, `torch.adaptive_avg_pool2d(${x}, [1, 1])`);
  }

  flatten(x: string, name: string): string {
    return this.emit(name, `torch.flatten(${x}, 1)`);
  }

  concatChannels(xs: readonly string[], name: string): string {
    return this.emit(name, `torch.cat([${xs.join(', ')}], 1)`);
  }

  add(a: string, b: string, name: string): string {
    return this.emit(name, `torch.add(${a}, ${b})`);
  }

  mul(a: string, b: string, name: string): string {
    return this.emit(name, `torch.mul(${a}, ${b})`);
  }

  /** The class source, as `code/__torch__/<module>.py` holds it. */
  source(module: string, className: string, input: string, output: string): string {
    const all = [...this.tensors.values()];
    const list = (ts: ScriptTensor[]): string => `[${ts.map((t) => `"${t.attribute}", `).join('')}]`;
    return [
      `class ${className}(Module):`,
      `  __parameters__ = ${list(all.filter((t) => !t.buffer))}`,
      `  __buffers__ = ${list(all.filter((t) => t.buffer))}`,
      ...all.map((t) => `  ${t.attribute} : Tensor`),
      '  training : bool',
      `  def forward(self: __torch__.${module}.${className},`,
      `    ${input}: Tensor) -> Tensor:`,
      ...this.lines.map((l) => `    ${l}`),
      `    return ${output}`,
      '',
    ].join('\n');
  }
}
