import type { ArchName } from '../../arch/types';

/** The one class of model.py; TorchServe's eager mode requires exactly one. */
export const MODEL_CLASS = 'SceneLabClassifier';

const BUILDERS: Record<ArchName, (numClasses: number) => string> = {
  squeezenet1_1: (n) => `from torchvision.models.squeezenet import SqueezeNet


class ${MODEL_CLASS}(SqueezeNet):
    """torchvision squeezenet1_1 with ${n} classes; model.pth holds its state_dict."""

    def __init__(self):
        super().__init__(version="1_1", num_classes=${n})
`,
  mobilenet_v3_small: (n) => `from torchvision.models.mobilenetv3 import MobileNetV3, _mobilenet_v3_conf


class ${MODEL_CLASS}(MobileNetV3):
    """torchvision mobilenet_v3_small with ${n} classes; model.pth holds its state_dict."""

    def __init__(self):
        # What torchvision.models.mobilenet_v3_small(num_classes=${n}) builds, as a class
        # TorchServe can construct without arguments.
        inverted_residual_setting, last_channel = _mobilenet_v3_conf("mobilenet_v3_small")
        super().__init__(inverted_residual_setting, last_channel, num_classes=${n})
`,
};

/**
 * `model.py` of a .mar: TorchServe's eager mode imports it, instantiates its single class
 * with no arguments and loads `model.pth` into it, so the class fixes architecture and
 * class count, and subclasses torchvision's so the state_dict keys are torchvision's.
 */
export function modelPy(arch: ArchName, numClasses: number): string {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`invalid class count ${numClasses}`);
  return `"""SceneLab's ${arch} classifier for TorchServe (exported by SceneLab)."""\n\n${BUILDERS[arch](numClasses)}`;
}
