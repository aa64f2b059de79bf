/**
 * `handler.py` of a SceneLab .mar: TorchServe's function entry point. TorchServe imports the
 * module, calls `handle(None, context)` once to initialise, then `handle(batch, context)` with
 * a list of requests. It needs only torch, torchvision (for model.py) and Pillow.
 *
 * Preprocessing repeats model/preprocess.ts step for step: Pillow decodes (EXIF orientation
 * applied, alpha dropped, as SceneLab's sharp decoding does), torch does the arithmetic, so the
 * box pre-filter, the half-pixel bilinear resize and the crop/pad rounding are SceneLab's own
 * rather than Pillow's antialiased resampling.
 */
export const HANDLER_PY = String.raw`"""TorchServe handler for a SceneLab image classifier (exported by SceneLab).

Requests: each item's "data" or "body" is the image file's bytes (bytes or bytearray), a
base64 string (a data: URL prefix is accepted), or {"b64": base64 string}.
Answer per request: {"class": name, "probabilities": {name: p, ...}}, or {"error": why}.
"""

import base64
import binascii
import importlib.util
import io
import json
import math
import os

import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torchvision.transforms.functional import pil_to_tensor

# SceneLab refuses larger images before decoding; so does this handler.
MAX_PIXELS = 50_000_000

_service = None


class RequestError(ValueError):
    """One request cannot be answered; the others in the batch still are."""


def _load_model(model_path, weights_path, device):
    # As TorchServe's eager mode does: the single class defined in model.py, built without
    # arguments, given the state_dict.
    spec = importlib.util.spec_from_file_location("scenelab_model", model_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = [c for c in vars(module).values() if isinstance(c, type) and c.__module__ == module.__name__]
    if len(classes) != 1:
        raise ValueError("%s must define exactly one model class, found %d" % (model_path, len(classes)))
    model = classes[0]()
    try:
        state = torch.load(weights_path, map_location=device, weights_only=True)
    except TypeError:  # torch before 1.13 has no weights_only
        state = torch.load(weights_path, map_location=device)
    model.load_state_dict(state)
    return model.to(device).eval()


class _Classifier:
    def __init__(self, context):
        properties = context.system_properties
        model_dir = properties["model_dir"]
        entry = (getattr(context, "manifest", None) or {}).get("model", {})
        gpu = properties.get("gpu_id")
        use_gpu = gpu is not None and torch.cuda.is_available()
        self.device = torch.device("cuda:%d" % int(gpu) if use_gpu else "cpu")
        self.model = _load_model(
            os.path.join(model_dir, entry.get("modelFile", "model.py")),
            os.path.join(model_dir, entry.get("serializedFile", "model.pth")),
            self.device,
        )
        with open(os.path.join(model_dir, "index_to_name.json"), encoding="utf-8") as f:
            names = json.load(f)
        self.labels = [names[str(i)] for i in range(len(names))]
        with open(os.path.join(model_dir, "preprocessing.json"), encoding="utf-8") as f:
            self.spec = json.load(f)
        self.model_dir = model_dir

    def predict(self, requests):
        answers = [None] * len(requests)
        inputs, where = [], []
        for i, request in enumerate(requests):
            try:
                inputs.append(preprocess(decode(image_bytes(request)), self.spec))
                where.append(i)
            except RequestError as e:
                answers[i] = {"error": str(e)}
        if inputs:
            with torch.no_grad():
                probs = torch.softmax(self.model(torch.cat(inputs).to(self.device)), dim=1).cpu()
            for i, row in zip(where, probs.tolist()):
                best = max(range(len(row)), key=lambda k: row[k])
                answers[i] = {"class": self.labels[best], "probabilities": dict(zip(self.labels, row))}
        return answers


def image_bytes(request):
    """The image file's bytes from one TorchServe request, whatever form they came in."""
    payload = request
    if isinstance(request, dict):
        payload = request.get("data")
        if payload is None:
            payload = request.get("body")
    if isinstance(payload, dict) and "b64" in payload:
        payload = payload["b64"]
    if isinstance(payload, str):
        text = payload.strip()
        if text.startswith("data:") and "," in text:
            text = text.split(",", 1)[1]
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError("the request's text is not base64") from None
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    raise RequestError('expected image bytes, a base64 string or {"b64": ...} in the request\'s data or body')


def decode(raw):
    """RGB pixels as a float [1, 3, h, w] tensor of 0..255 values."""
    try:
        with Image.open(io.BytesIO(raw)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise RequestError("image is larger than %d megapixels" % (MAX_PIXELS // 1_000_000))
            rgb = ImageOps.exif_transpose(image).convert("RGB")
    except RequestError:
        raise
    except Exception as e:  # Pillow raises many kinds for a bad file
        raise RequestError("cannot decode image (%s)" % e) from None
    return pil_to_tensor(rgb).unsqueeze(0).float()


def _js_round(v):
    # SceneLab's sizes come from JavaScript's Math.round (half up); Python's round is half-even.
    return math.floor(v + 0.5)


def _resize(x, h, w):
    # Average f x f blocks first when shrinking by 2x or more (what is left over at the
    # bottom/right is dropped, as SceneLab's pooling does), then half-pixel bilinear.
    sh, sw = x.shape[-2:]
    f = math.floor(min(sh / h, sw / w))
    if f >= 2:
        x = F.avg_pool2d(x, f, f)
    if tuple(x.shape[-2:]) == (h, w):
        return x
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)


def preprocess(x, spec):
    """SceneLab's preprocessing spec applied to one [1, 3, h, w] RGB 0..255 image."""
    h, w = spec["inputSize"]
    sh, sw = x.shape[-2:]
    mode = spec["resize"]
    if mode == "stretch":
        x = _resize(x, h, w)
    elif mode == "center-crop":
        s = max(h / sh, w / sw)
        rh, rw = max(h, _js_round(sh * s)), max(w, _js_round(sw * s))
        top, left = (rh - h) // 2, (rw - w) // 2
        x = _resize(x, rh, rw)[:, :, top : top + h, left : left + w]
    elif mode == "pad":
        s = min(h / sh, w / sw)
        rh, rw = min(h, max(1, _js_round(sh * s))), min(w, max(1, _js_round(sw * s)))
        top, left = (h - rh) // 2, (w - rw) // 2
        # The mean pixel, so the padding normalises to zero.
        mean = [m / spec["scale"] for m in spec["mean"]]
        if spec["channelOrder"] == "bgr":
            mean = mean[::-1]
        canvas = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1).repeat(1, 1, h, w)
        canvas[:, :, top : top + rh, left : left + rw] = _resize(x, rh, rw)
        x = canvas
    else:
        raise ValueError("unknown resize policy %r in preprocessing.json" % mode)
    if spec["channelOrder"] == "bgr":
        x = x.flip(1)
    mean = torch.tensor(spec["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    inv_std = torch.tensor([1 / s for s in spec["std"]], dtype=torch.float32).view(1, 3, 1, 1)
    return (x * spec["scale"] - mean) * inv_std


def handle(data, context):
    """TorchServe's entry point: one answer per request; None for the initialisation call."""
    global _service
    if context is None:
        return None
    model_dir = context.system_properties.get("model_dir")
    if _service is None or _service.model_dir != model_dir:
        _service = _Classifier(context)
    if data is None:
        return None
    return _service.predict(data)
`;
