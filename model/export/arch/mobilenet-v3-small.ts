import type { NetworkBuilder } from './network-builder';

/** torchvision builds MobileNetV3's BatchNorm with eps 0.001 (not PyTorch's default 1e-5). */
const BN_EPS = 0.001;

/**
 * What the weights do not say about torchvision's `mobilenet_v3_small` blocks: each
 * inverted-residual block's depthwise stride and activation (channels, kernel sizes and
 * squeeze-excitation are read from the state_dict).
 */
const BLOCKS: ReadonlyArray<readonly [stride: number, activation: 'relu' | 'hardswish']> = [
  [2, 'relu'],
  [2, 'relu'],
  [1, 'relu'],
  [2, 'hardswish'],
  [1, 'hardswish'],
  [1, 'hardswish'],
  [1, 'hardswish'],
  [1, 'hardswish'],
  [2, 'hardswish'],
  [1, 'hardswish'],
  [1, 'hardswish'],
];

type Activation = 'relu' | 'hardswish' | null;

/** `Conv2dNormActivation`: conv (no bias), BatchNorm, then the activation. */
function convBnAct(g: NetworkBuilder, x: string, prefix: string, act: Activation, stride = 1, depthwise = false): string {
  const [out, , k] = g.shape(`${prefix}.0.weight`) as [number, number, number];
  const y = g.convBatchNorm(x, `${prefix}.0`, `${prefix}.1`, BN_EPS, { stride, padding: (k - 1) >> 1, groups: depthwise ? out : 1 });
  if (act === 'relu') return g.relu(y, `${prefix}.2`);
  if (act === 'hardswish') return g.hardSwish(y, `${prefix}.2`);
  return y;
}

/** `SqueezeExcitation`: pooled → fc1 → ReLU → fc2 → Hardsigmoid, scaling the input's channels. */
function squeezeExcite(g: NetworkBuilder, x: string, prefix: string): string {
  const pooled = g.globalAveragePool(x, `${prefix}.avgpool`);
  const h = g.relu(g.conv(pooled, `${prefix}.fc1`), `${prefix}.activation`);
  const gate = g.hardSigmoid(g.conv(h, `${prefix}.fc2`), `${prefix}.scale_activation`);
  return g.mul(x, gate, prefix);
}

function invertedResidual(g: NetworkBuilder, x: string, b: number, stride: number, act: 'relu' | 'hardswish'): string {
  const prefix = `features.${b}.block`;
  const first = g.shape(`${prefix}.0.0.weight`);
  // Depthwise filters hold one input channel each; the first layer is an expansion conv
  // only where the expanded width differs from the block's input width.
  const expands = first[1] !== 1;
  const inC = expands ? first[1]! : first[0]!;
  let i = 0;
  let h = x;
  if (expands) h = convBnAct(g, h, `${prefix}.${i++}`, act);
  h = convBnAct(g, h, `${prefix}.${i++}`, act, stride, true);
  if (g.has(`${prefix}.${i}.fc1.weight`)) h = squeezeExcite(g, h, `${prefix}.${i++}`);
  const project = `${prefix}.${i}`;
  h = convBnAct(g, h, project, null);
  const outC = g.shape(`${project}.0.weight`)[0]!;
  return stride === 1 && inC === outC ? g.add(x, h, `features.${b}`) : h;
}

/** torchvision `mobilenet_v3_small` in eval mode, NCHW in, logits out; the classifier's Dropout left out. */
export function mobilenetV3SmallNetwork(g: NetworkBuilder, input: string): string {
  let y = convBnAct(g, input, 'features.0', 'hardswish', 2);
  BLOCKS.forEach(([stride, act], k) => {
    y = invertedResidual(g, y, k + 1, stride, act);
  });
  y = convBnAct(g, y, `features.${BLOCKS.length + 1}`, 'hardswish');
  y = g.flatten(g.globalAveragePool(y, 'avgpool'), 'flatten');
  y = g.hardSwish(g.linear(y, 'classifier.0'), 'classifier.1');
  return g.linear(y, 'classifier.3');
}
