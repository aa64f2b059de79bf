import type { NetworkBuilder } from './network-builder';

/** torchvision `squeezenet1_1().features`: a conv, then Fire modules and ceil-mode pools by index. */
const FEATURES: ReadonlyArray<'pool' | 'fire'> = ['pool', 'fire', 'fire', 'pool', 'fire', 'fire', 'pool', 'fire', 'fire', 'fire', 'fire'];

function fire(g: NetworkBuilder, x: string, i: number): string {
  const p = `features.${i}`;
  const squeeze = g.relu(g.conv(x, `${p}.squeeze`), `${p}.squeeze_activation`);
  const e1 = g.relu(g.conv(squeeze, `${p}.expand1x1`), `${p}.expand1x1_activation`);
  const e3 = g.relu(g.conv(squeeze, `${p}.expand3x3`, { padding: 1 }), `${p}.expand3x3_activation`);
  return g.concatChannels([e1, e3], p);
}

/**
 * torchvision `squeezenet1_1` in eval mode, NCHW in, logits out. The classifier's Dropout is
 * the identity at inference and is left out.
 */
export function squeezenetNetwork(g: NetworkBuilder, input: string): string {
  let y = g.relu(g.conv(input, 'features.0', { stride: 2 }), 'features.1');
  FEATURES.forEach((kind, k) => {
    const i = k + 2;
    y = kind === 'pool' ? g.maxPoolCeil(y, `features.${i}`, 3, 2) : fire(g, y, i);
  });
  y = g.relu(g.conv(y, 'classifier.1'), 'classifier.2');
  return g.flatten(g.globalAveragePool(y, 'classifier.3'), 'flatten');
}
