import type { ArchName } from '../arch/types';
import { HEAD_PREFIX } from '../model';
import { caffeBgr, torchvisionNorm, type PreprocessSpec } from '../preprocess';
import type { StateDict } from '../tensor-data';

/** How a run chooses its preprocessing: by name, a spec given as is, or `auto` (follow the weights). */
export type PreprocessingChoice = 'auto' | 'caffe-bgr' | 'torchvision' | PreprocessSpec;

/**
 * The preprocessing a run uses. `auto` follows the weights: a full torchvision ImageNet file
 * (a 1000-class head) expects torchvision's normalisation; SqueezeNet otherwise starts from the
 * Caffe features of ../shared/weights (BGR, mean subtracted); MobileNetV3 uses torchvision's.
 */
export function choosePreprocessing(choice: PreprocessingChoice, arch: ArchName, weights: StateDict | null): PreprocessSpec {
  if (typeof choice === 'object') return choice;
  if (choice === 'caffe-bgr') return caffeBgr();
  if (choice === 'torchvision') return torchvisionNorm();
  const head = weights ? [...weights].find(([k]) => k.replace(/^module\./, '').startsWith(HEAD_PREFIX) && k.endsWith('.weight')) : undefined;
  const imagenetHead = head !== undefined && head[1].shape[0] === 1000;
  return arch === 'squeezenet1_1' && !imagenetHead ? caffeBgr() : torchvisionNorm();
}
