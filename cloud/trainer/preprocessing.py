"""SceneLab's preprocessing spec (model/preprocess.ts) and its `auto` rule (model/run/preprocessing.ts).

A spec is data saved with every model (`preprocessing.json`): input size, channel order, scale,
mean, std and how a non-square image is fitted. The same spec gives the same tensor here as in
SceneLab: bilinear resizing with half-pixel centres, after a box filter when shrinking by 2x or
more (so a phone photo does not alias at 150x150).

`python -m trainer.preprocessing SPEC_JSON IMAGE` prints the preprocessed image (HWC, as
SceneLab's NHWC batch holds it) as JSON, for a test to hold against SceneLab's own function.
"""

import json
import math
import sys

import torch
import torch.nn.functional as F

from .rng import js_round

HEAD_PREFIX = "classifier."
RESIZE_POLICIES = ("stretch", "center-crop", "pad")


def caffe_bgr(size=150, resize="stretch"):
    """The convention of the original Caffe SqueezeNet weights: BGR, 0..255, mean subtracted."""
    return {"name": "caffe-bgr", "inputSize": [size, size], "channelOrder": "bgr", "scale": 1,
            "mean": [104.006, 116.669, 122.679], "std": [1, 1, 1], "resize": resize}


def torchvision_norm(size=150, resize="stretch"):
    """torchvision's ImageNet normalisation, which its own pretrained weights expect."""
    return {"name": "torchvision", "inputSize": [size, size], "channelOrder": "rgb", "scale": 1 / 255,
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "resize": resize}


def choose_preprocessing(choice, arch, state_dict):
    """`auto` follows the weights: a full torchvision ImageNet file (a 1000-class head) expects
    torchvision's normalisation; SqueezeNet otherwise starts from Caffe features (BGR, mean
    subtracted); MobileNetV3 uses torchvision's."""
    if choice == "caffe-bgr":
        return caffe_bgr()
    if choice == "torchvision":
        return torchvision_norm()
    head = None
    for key, value in (state_dict or {}).items():
        k = key[len("module."):] if key.startswith("module.") else key
        if k.startswith(HEAD_PREFIX) and k.endswith(".weight"):
            head = value
            break
    imagenet_head = head is not None and head.dim() > 0 and head.shape[0] == 1000
    return caffe_bgr() if arch == "squeezenet1_1" and not imagenet_head else torchvision_norm()


def validate_spec(value):
    """Checks a spec read from a file before it is trusted (validatePreprocessSpec)."""

    def bad(what):
        raise ValueError("invalid preprocessing spec: " + what)

    def number(x):
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    def triple(a):
        return isinstance(a, list) and len(a) == 3 and all(number(n) for n in a)

    if not isinstance(value, dict):
        bad("not an object")
    if not isinstance(value.get("name"), str):
        bad("name")
    size = value.get("inputSize")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(n, int) and not isinstance(n, bool) and 16 <= n <= 1024 for n in size)):
        bad("inputSize must be [height, width] between 16 and 1024")
    if value.get("channelOrder") not in ("rgb", "bgr"):
        bad("channelOrder must be rgb or bgr")
    if not (number(value.get("scale")) and value["scale"] > 0):
        bad("scale must be a positive number")
    if not triple(value.get("mean")):
        bad("mean must be three numbers")
    if not triple(value.get("std")) or any(n <= 0 for n in value["std"]):
        bad("std must be three positive numbers")
    if value.get("resize") not in RESIZE_POLICIES:
        bad("resize must be stretch, center-crop or pad")
    return value


def _resize_to(x, h, w):
    """Bilinear resize of [1, 3, H, W], box-filtered first when shrinking by 2x or more."""
    sh, sw = x.shape[2], x.shape[3]
    f = math.floor(min(sh / h, sw / w))
    if f >= 2:
        x = F.avg_pool2d(x, f, f)
    if x.shape[2] == h and x.shape[3] == w:
        return x
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)


def _fit(x, spec):
    h, w = spec["inputSize"]
    sh, sw = x.shape[2], x.shape[3]
    if spec["resize"] == "stretch":
        return _resize_to(x, h, w)
    if spec["resize"] == "center-crop":
        s = max(h / sh, w / sw)
        rh, rw = max(h, js_round(sh * s)), max(w, js_round(sw * s))
        r = _resize_to(x, rh, rw)
        top, left = (rh - h) // 2, (rw - w) // 2
        return r[:, :, top:top + h, left:left + w]
    s = min(h / sh, w / sw)
    rh, rw = min(h, max(1, js_round(sh * s))), min(w, max(1, js_round(sw * s)))
    r = _resize_to(x, rh, rw)
    top, left = (h - rh) // 2, (w - rw) // 2
    # Padding is the mean pixel (0..255 RGB), so it normalises to exactly zero.
    mean = [m / spec["scale"] for m in spec["mean"]]
    if spec["channelOrder"] == "bgr":
        mean.reverse()
    out = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1).repeat(1, 1, h, w)
    out[:, :, top:top + rh, left:left + rw] = r
    return out


def normalise(rgb, spec):
    """Channel order, scale, mean and std on an RGB float batch [n, 3, h, w] of 0..255 values."""
    x = rgb.flip(1) if spec["channelOrder"] == "bgr" else rgb
    mean = torch.tensor(spec["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    inv_std = torch.tensor([1 / s for s in spec["std"]], dtype=torch.float32).view(1, 3, 1, 1)
    return (x * spec["scale"] - mean) * inv_std


def preprocess(pixels, spec):
    """Decoded RGB pixels (uint8 [H, W, 3]) → the model's input [3, h, w]."""
    x = pixels.permute(2, 0, 1).unsqueeze(0).to(torch.float32)
    return normalise(_fit(x, spec), spec)[0]


def main(argv):
    from .data import decode_image

    spec = validate_spec(json.loads(argv[0]))
    x = preprocess(decode_image(argv[1]), spec)
    print(json.dumps({"shape": list(x.permute(1, 2, 0).shape), "values": x.permute(1, 2, 0).flatten().tolist()}))


if __name__ == "__main__":
    main(sys.argv[1:])
