/** Options of a 2-D convolution, as torch's `nn.Conv2d` takes them. */
export interface ConvOptions {
  stride?: number;
  padding?: number;
  groups?: number;
}

/**
 * What an architecture's export needs from a target format: torchvision's layers, by
 * state_dict prefix, over named values. The ONNX graph builder and the TorchScript source
 * writer implement it, so each architecture is walked once for every format.
 * Every method returns the name of the value it produced.
 */
export interface NetworkBuilder {
  /** Shape of a state_dict tensor (throws if absent). */
  shape(key: string): readonly number[];
  has(key: string): boolean;
  /** `nn.Conv2d` with `${prefix}.weight` and, if the state_dict has it, `${prefix}.bias`. */
  conv(x: string, prefix: string, options?: ConvOptions): string;
  /** `nn.Conv2d(bias=False)` then eval-mode `nn.BatchNorm2d` with the given eps. */
  convBatchNorm(x: string, convPrefix: string, bnPrefix: string, eps: number, options?: ConvOptions): string;
  /** `nn.Linear`. */
  linear(x: string, prefix: string): string;
  relu(x: string, name: string): string;
  hardSwish(x: string, name: string): string;
  hardSigmoid(x: string, name: string): string;
  /** `nn.MaxPool2d(k, s, ceil_mode=True)`. */
  maxPoolCeil(x: string, name: string, k: number, s: number): string;
  /** `nn.AdaptiveAvgPool2d(1)`, keeping the 1x1 spatial dimensions. */
  globalAveragePool(x: string, name: string): string;
  /** `torch.flatten(x, 1)`. */
  flatten(x: string, name: string): string;
  concatChannels(xs: readonly string[], name: string): string;
  add(a: string, b: string, name: string): string;
  /** Elementwise product, broadcasting `[n, c, 1, 1]` over `[n, c, h, w]`. */
  mul(a: string, b: string, name: string): string;
}
