/**
 * The flags that describe a run, read once for every command that starts one (`train`, `cloud
 * train`, `cloud tune`), so a run means the same on the device and on Vertex AI.
 */
import { ARCH_NAMES, isArchName } from '../model/model';
import { DEFAULT_VAL_SPLIT, type RunConfig } from '../model/run/config';
import type { PreprocessingChoice } from '../model/run/preprocessing';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../model/train';
import { numberOption } from './args';
import { UsageError } from './errors';

/** `parseArgs` options for a run's flags. */
export const RUN_FLAGS = {
  data: { type: 'string' },
  arch: { type: 'string' },
  weights: { type: 'string' },
  freeze: { type: 'boolean' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  optimizer: { type: 'string' },
  momentum: { type: 'string' },
  'weight-decay': { type: 'string' },
  'val-split': { type: 'string' },
  seed: { type: 'string' },
  'no-flip': { type: 'boolean' },
  'no-bn-recalibration': { type: 'boolean' },
  'early-stopping': { type: 'string' },
  preprocessing: { type: 'string' },
} as const;

export const RUN_FLAGS_HELP = `  --arch NAME           ${ARCH_NAMES.join(' | ')}
  --weights FILE.pth    torchvision state_dict to start from (partial files load; a head for other classes is replaced)
  --freeze              train the head only, on backbone features computed once
  --epochs N            (${DEFAULT_TRAIN_OPTIONS.epochs})    --batch-size N (${DEFAULT_TRAIN_OPTIONS.batchSize})    --lr X (${DEFAULT_TRAIN_OPTIONS.learningRate})
  --optimizer adam|sgd  (${DEFAULT_TRAIN_OPTIONS.optimizer})  --momentum X (${DEFAULT_TRAIN_OPTIONS.momentum})  --weight-decay X (0)
  --val-split F         fraction held out for validation (${DEFAULT_VAL_SPLIT})   --seed N (0)
  --no-flip             no horizontal-flip augmentation
  --no-bn-recalibration keep the BatchNorm statistics of --weights instead of re-estimating them on the data (full fine-tuning)
  --early-stopping N    stop after N epochs without a better validation loss, keep the best weights
  --preprocessing P     auto | caffe-bgr | torchvision (auto: torchvision for a full ImageNet torchvision file, else caffe-bgr for SqueezeNet, torchvision for MobileNetV3)`;

type RunFlagValues = { [K in keyof typeof RUN_FLAGS]?: (typeof RUN_FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

/** The run configuration the flags describe; a bad value is a one-line UsageError naming its flag. */
export function runConfigFromFlags(v: RunFlagValues): RunConfig {
  if (!v.arch) throw new UsageError(`--arch is required (${ARCH_NAMES.join(' or ')})`);
  if (!isArchName(v.arch)) throw new UsageError(`--arch must be ${ARCH_NAMES.join(' or ')}, got "${v.arch}"`);
  const patience = v['early-stopping'] === undefined ? null : numberOption('early-stopping', v['early-stopping'], 3, true);
  const options: TrainOptions = {
    freeze: v.freeze ?? false,
    epochs: numberOption('epochs', v.epochs, DEFAULT_TRAIN_OPTIONS.epochs, true),
    batchSize: numberOption('batch-size', v['batch-size'], DEFAULT_TRAIN_OPTIONS.batchSize, true),
    learningRate: numberOption('lr', v.lr, DEFAULT_TRAIN_OPTIONS.learningRate),
    optimizer: (v.optimizer ?? DEFAULT_TRAIN_OPTIONS.optimizer) as TrainOptions['optimizer'],
    momentum: numberOption('momentum', v.momentum, DEFAULT_TRAIN_OPTIONS.momentum),
    weightDecay: numberOption('weight-decay', v['weight-decay'], DEFAULT_TRAIN_OPTIONS.weightDecay),
    hflip: !v['no-flip'],
    recalibrateBatchNorm: !v['no-bn-recalibration'],
    earlyStopping: patience === null ? null : { patience, minDelta: 0 },
    seed: numberOption('seed', v.seed, DEFAULT_TRAIN_OPTIONS.seed, true),
  };
  if (options.optimizer !== 'adam' && options.optimizer !== 'sgd') throw new UsageError(`--optimizer must be adam or sgd, got "${String(options.optimizer)}"`);
  const valSplit = numberOption('val-split', v['val-split'], DEFAULT_VAL_SPLIT);
  if (!(valSplit >= 0 && valSplit < 1)) throw new UsageError(`--val-split must be in [0, 1), got ${valSplit}`);
  return { arch: v.arch, preprocessing: preprocessingFlag(v.preprocessing), valSplit, options };
}

function preprocessingFlag(name: string | undefined): PreprocessingChoice {
  const value = name ?? 'auto';
  if (value !== 'auto' && value !== 'caffe-bgr' && value !== 'torchvision') throw new UsageError(`--preprocessing must be auto, caffe-bgr or torchvision, got "${value}"`);
  return value;
}
