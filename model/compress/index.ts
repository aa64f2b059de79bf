/**
 * Smaller models: magnitude pruning (unstructured or by filter, masks held through fine-tuning)
 * and float16/uint8 weight quantization in tfjs's weights-manifest format.
 */
export { compressModel, finetuneConfig, validateCompressOptions, type CompressOptions, type CompressResult, type CompressionRecord, type FinetuneInput } from './compress';
export { MaskHook, pruneModel, pruningMasks, prunableSpecs, sparsityOf, validatePruneOptions, type LayerSparsity, type PruneMasks, type PruneOptions, type PruneScope, type SparsityReport } from './prune';
export { decodeWeight, encodeWeight, fromFloat16, toFloat16, uint8Range, type QuantizationSpec, type WeightQuantization } from './quantize';
