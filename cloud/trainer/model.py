"""The torchvision networks SceneLab builds, split where SceneLab splits them (backbone | head),
and the loading rules of its `loadStateDict`: partial files load, a head for another class count
is replaced, `module.` prefixes are stripped, anything else that does not fit is refused by name.
"""

import torch
import torchvision

from .errors import InputError

HEAD_PREFIX = "classifier."


def build(arch, num_classes):
    """torchvision's network with a fresh head for `num_classes` (torch's seeded initialisation)."""
    if arch == "squeezenet1_1":
        return torchvision.models.squeezenet1_1(num_classes=num_classes)
    return torchvision.models.mobilenet_v3_small(num_classes=num_classes)


def backbone(arch, model, x):
    """Images → features: SqueezeNet's feature map [n, 512, h, w]; MobileNetV3's pooled [n, 576]."""
    f = model.features(x)
    return f if arch == "squeezenet1_1" else torch.flatten(model.avgpool(f), 1)


class Head(torch.nn.Module):
    """Features → logits through the model's own classifier (shared parameters): what `--freeze` trains."""

    def __init__(self, arch, model):
        super().__init__()
        self.squeeze = arch == "squeezenet1_1"
        self.classifier = model.classifier

    def forward(self, f):
        y = self.classifier(f)
        return torch.flatten(y, 1) if self.squeeze else y


def has_batch_norm(model):
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def read_state_dict(path, flag_value):
    """A torchvision state_dict from a .pth file; a one-line error when it is not one."""
    try:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except TypeError:  # torch before 1.13 has no weights_only
            sd = torch.load(path, map_location="cpu")
    except FileNotFoundError:
        raise InputError("--weights %s: no such file" % flag_value)
    except Exception as e:
        raise InputError("--weights %s: not a PyTorch state_dict (%s)" % (flag_value, str(e).split("\n")[0]))
    if not isinstance(sd, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in sd.items()):
        raise InputError("--weights %s: not a state_dict (expected tensors by parameter name)" % flag_value)
    return sd


def _strip_prefix(sd):
    keys = list(sd.keys())
    if keys and all(k.startswith("module.") for k in keys):
        return {k[len("module."):]: v for k, v in sd.items()}
    return dict(sd)


def load_weights(model, arch, sd):
    """Loads what fits; returns the report `{filled, kept, headReplaced}` as SceneLab's LoadReport."""
    entries = _strip_prefix(sd)
    own = model.state_dict()
    counts = {k for k in own if k.endswith("num_batches_tracked")}

    def fits(key, t):
        return tuple(own[key].shape) == tuple(t.shape) or (key in counts and t.numel() == 1)

    head_mismatch = any(k in own and k.startswith(HEAD_PREFIX) and not fits(k, t) for k, t in entries.items())
    filled, head_replaced, plan = [], [], {}
    for key, t in entries.items():
        if key.startswith(HEAD_PREFIX) and (head_mismatch or (key in own and not fits(key, t))):
            head_replaced.append(key)
            continue
        if key not in own:
            raise InputError('unknown key "%s" for %s: is this file for another architecture?' % (key, arch))
        if not fits(key, t):
            raise InputError('shape mismatch for "%s": file has [%s], %s needs [%s]'
                             % (key, ", ".join(map(str, t.shape)), arch, ", ".join(map(str, own[key].shape))))
        plan[key] = t.reshape(own[key].shape).to(own[key].dtype)
    model.load_state_dict(plan, strict=False)
    filled = [k for k in own if k in plan]
    kept = [k for k in own if k not in plan]
    return {"filled": filled, "kept": kept, "headReplaced": head_replaced}


def parameter_count(model):
    """Trainable scalars, as SceneLab counts them."""
    return sum(p.numel() for p in model.parameters())
