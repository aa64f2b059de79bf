import type { ArchName } from '../../arch/types';
import { mobilenetV3SmallNetwork } from './mobilenet-v3-small';
import type { NetworkBuilder } from './network-builder';
import { squeezenetNetwork } from './squeezenet';

/** Each architecture's eval-mode network, input name in, logits value out. */
export const ARCH_NETWORKS: Record<ArchName, (g: NetworkBuilder, input: string) => string> = {
  squeezenet1_1: squeezenetNetwork,
  mobilenet_v3_small: mobilenetV3SmallNetwork,
};
