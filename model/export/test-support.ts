/** Test support for the export interop tests: the model variants every format is checked on. */
import type { ArchName } from '../arch/types';
import type { PruneOptions } from '../compress/prune';

/**
 * The model as trained and pruned two ways. MobileNetV3 is pruned per layer: a global ranking
 * over its layers (whose weight scales differ widely) empties whole layers of these weights.
 */
export const PRUNED: Record<ArchName, Array<[string, PruneOptions | null]>> = {
  squeezenet1_1: [
    ['as trained', null],
    ['pruned 70 % (global)', { sparsity: 0.7, scope: 'global', structured: false }],
    ['pruned 50 % by filter', { sparsity: 0.5, scope: 'layer', structured: true }],
  ],
  mobilenet_v3_small: [
    ['as trained', null],
    ['pruned 50 % (per layer)', { sparsity: 0.5, scope: 'layer', structured: false }],
    ['pruned 25 % by filter', { sparsity: 0.25, scope: 'layer', structured: true }],
  ],
};
