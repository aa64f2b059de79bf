"""`scenelab train`'s flags (cli/run-options.ts, cli/commands/train.ts), read the same way, plus
what a training container needs: where to write (`--out`, else Vertex AI's `AIP_MODEL_DIR`),
data-loading workers, and the metric a tuning job optimises.
"""

import argparse
import dataclasses
import math
import os
import re

from .errors import InputError, UsageError
from .jsonfmt import js_number as js_string

ARCH_NAMES = ("squeezenet1_1", "mobilenet_v3_small")
PREPROCESSING_CHOICES = ("auto", "caffe-bgr", "torchvision")
# What a tuning job can optimise: the epoch record's numbers, by Vertex-style or SceneLab names.
HYPERTUNE_METRICS = {
    "val_accuracy": "valAccuracy",
    "val_loss": "valLoss",
    "train_accuracy": "trainAccuracy",
    "train_loss": "trainLoss",
    "valAccuracy": "valAccuracy",
    "valLoss": "valLoss",
    "trainAccuracy": "trainAccuracy",
    "trainLoss": "trainLoss",
}
DEFAULT_GS_ROOT = "/gcs"

HELP = """python -m trainer.task: train a SceneLab run on Vertex AI (or here), with scenelab train's flags

  --data DIR|FILE       Intel-layout folder or a Vertex AI import file (.csv/.jsonl); gs:// is read through --gs-root
  --out DIR             where the run is written (default: $AIP_MODEL_DIR; gs://B/P is written to GS_ROOT/B/P)
  --arch NAME           squeezenet1_1 | mobilenet_v3_small
  --weights FILE.pth    torchvision state_dict to start from (partial files load; a head for other classes is replaced)
  --freeze              train the head only, on backbone features computed once
  --epochs N            (10)    --batch-size N (32)    --lr X (0.001)
  --optimizer adam|sgd  (adam)  --momentum X (0.9)  --weight-decay X (0)
  --val-split F         fraction held out for validation (0.1)   --seed N (0)
  --no-flip             no horizontal-flip augmentation
  --no-bn-recalibration keep the BatchNorm statistics of --weights instead of re-estimating them on the data
  --early-stopping N    stop after N epochs without a better validation loss, keep the best weights
  --preprocessing P     auto | caffe-bgr | torchvision
  --gs-root DIR         folder holding gs://bucket/object as DIR/bucket/object (default /gcs, Cloud Storage FUSE)
  --workers N           image-decoding processes (default: one fewer than the CPUs, at most 8)
  --hypertune-metric M  metric reported to hyperparameter tuning after each epoch (val_accuracy)
  --progress FILE       also keep the progress lines in FILE (gs:// through --gs-root), for a follower without log access"""


@dataclasses.dataclass
class TrainOptions:
    """model/train.ts TrainOptions; defaults are DEFAULT_TRAIN_OPTIONS."""

    freeze: bool = False
    batch_size: int = 32
    learning_rate: float = 1e-3
    epochs: int = 10
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    hflip: bool = True
    recalibrate_batch_norm: bool = True
    early_stopping: object = None  # patience (int) or None
    seed: int = 0

    def to_json(self):
        """The options under SceneLab's names, in DEFAULT_TRAIN_OPTIONS order."""
        return {
            "freeze": self.freeze,
            "batchSize": self.batch_size,
            "learningRate": self.learning_rate,
            "epochs": self.epochs,
            "optimizer": self.optimizer,
            "momentum": self.momentum,
            "weightDecay": self.weight_decay,
            "hflip": self.hflip,
            "recalibrateBatchNorm": self.recalibrate_batch_norm,
            "earlyStopping": None if self.early_stopping is None else {"patience": self.early_stopping, "minDelta": 0},
            "seed": self.seed,
        }


@dataclasses.dataclass
class RunConfig:
    arch: str
    preprocessing: str
    val_split: float
    options: TrainOptions
    data: str
    weights: object  # the flag's value, or None
    gs_root: str
    out: str
    # The output folder is Cloud Storage seen through FUSE, where a folder cannot be renamed into place.
    out_on_fuse: bool
    workers: int
    hypertune_metric: str
    # Where the progress lines are also kept (a local path), or None.
    progress: object = None


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _parser():
    p = _Parser(prog="trainer.task", add_help=False, allow_abbrev=False)
    for name in ("data", "arch", "weights", "epochs", "batch-size", "lr", "optimizer", "momentum", "weight-decay",
                 "val-split", "seed", "early-stopping", "preprocessing", "gs-root", "out", "workers", "hypertune-metric",
                 "progress"):
        p.add_argument("--" + name, dest=name.replace("-", "_"))
    for name in ("freeze", "no-flip", "no-bn-recalibration", "help"):
        p.add_argument("--" + name, dest=name.replace("-", "_"), action="store_true")
    p.add_argument("-h", dest="help", action="store_true")
    return p


_JS_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_JS_RADIX = re.compile(r"0([xXoObB])([0-9a-fA-F]+)")


def parse_js_number(text):
    """JavaScript's `Number(text)` for a flag value: NaN (here None) when it is not a number."""
    s = text.strip()
    if _JS_DECIMAL.fullmatch(s):
        return float(s)
    m = _JS_RADIX.fullmatch(s)
    if m:
        try:
            return float(int(m.group(2), {"x": 16, "o": 8, "b": 2}[m.group(1).lower()]))
        except ValueError:
            return None
    if s in ("Infinity", "+Infinity", "-Infinity"):
        return float(s.replace("Infinity", "inf"))
    return 0.0 if s == "" else None


def number_option(name, value, fallback, integer=False):
    """cli/args.ts numberOption: the flag's number, or a one-line error naming it."""
    if value is None:
        return fallback
    n = parse_js_number(value)
    if value.strip() == "" or n is None or not math.isfinite(n) or (integer and not n.is_integer()):
        raise UsageError('--%s expects %s, got "%s"' % (name, "an integer" if integer else "a number", value))
    return int(n) if integer else n


def gs_to_local(path, gs_root):
    """`gs://bucket/object` as the container sees it (GS_ROOT/bucket/object); other paths as given."""
    if not path.startswith("gs://"):
        return path
    m = re.fullmatch(r"gs://([^/]+)(?:/(.*))?", path)
    if not m:
        raise UsageError("%s: expected gs://BUCKET/PATH" % path)
    return os.path.join(gs_root, m.group(1), (m.group(2) or "").rstrip("/")).rstrip("/")


def default_workers():
    return max(0, min(8, (os.cpu_count() or 1) - 1))


def parse_args(argv, environ=os.environ):
    """The run the flags describe; None when --help was asked for (the help is printed)."""
    v = _parser().parse_args(argv)
    if v.help:
        print(HELP)
        return None
    if not v.data:
        raise UsageError("--data is required (a folder of <class>/ images or an import file)")
    if not v.arch:
        raise UsageError("--arch is required (%s or %s)" % ARCH_NAMES)
    if v.arch not in ARCH_NAMES:
        raise UsageError('--arch must be %s or %s, got "%s"' % (ARCH_NAMES + (v.arch,)))
    patience = None if v.early_stopping is None else number_option("early-stopping", v.early_stopping, 3, True)
    options = TrainOptions(
        freeze=v.freeze,
        epochs=number_option("epochs", v.epochs, 10, True),
        batch_size=number_option("batch-size", v.batch_size, 32, True),
        learning_rate=number_option("lr", v.lr, 1e-3),
        optimizer=v.optimizer if v.optimizer is not None else "adam",
        momentum=number_option("momentum", v.momentum, 0.9),
        weight_decay=number_option("weight-decay", v.weight_decay, 0.0),
        hflip=not v.no_flip,
        recalibrate_batch_norm=not v.no_bn_recalibration,
        early_stopping=patience,
        seed=number_option("seed", v.seed, 0, True),
    )
    if options.optimizer not in ("adam", "sgd"):
        raise UsageError('--optimizer must be adam or sgd, got "%s"' % options.optimizer)
    val_split = number_option("val-split", v.val_split, 0.1)
    if not (0 <= val_split < 1):
        raise UsageError("--val-split must be in [0, 1), got %s" % js_string(val_split))
    preprocessing = v.preprocessing if v.preprocessing is not None else "auto"
    if preprocessing not in PREPROCESSING_CHOICES:
        raise UsageError('--preprocessing must be auto, caffe-bgr or torchvision, got "%s"' % preprocessing)
    validate_train_options(options)
    workers = number_option("workers", v.workers, default_workers(), True)
    if workers < 0:
        raise UsageError("--workers must be 0 or more, got %d" % workers)
    metric = v.hypertune_metric if v.hypertune_metric is not None else "val_accuracy"
    if metric not in HYPERTUNE_METRICS:
        raise UsageError('--hypertune-metric must be one of val_accuracy, val_loss, train_accuracy, train_loss, got "%s"' % metric)
    gs_root = v.gs_root or DEFAULT_GS_ROOT
    out = v.out if v.out is not None else environ.get("AIP_MODEL_DIR")
    if not out:
        raise UsageError("--out is required (the run directory to write), or set AIP_MODEL_DIR")
    out_on_fuse = out.startswith("gs://") or os.path.abspath(out).startswith(os.path.abspath(gs_root) + os.sep)
    return RunConfig(
        arch=v.arch,
        preprocessing=preprocessing,
        val_split=val_split,
        options=options,
        data=v.data,
        weights=v.weights,
        gs_root=gs_root,
        out=gs_to_local(out, gs_root).rstrip("/") or "/",
        out_on_fuse=out_on_fuse,
        workers=workers,
        hypertune_metric=metric,
        progress=gs_to_local(v.progress, gs_root) if v.progress else None,
    )


def validate_train_options(o):
    """model/train.ts validateTrainOptions: the first bad value, in its words."""
    fmt = js_string

    def fail(message):
        raise InputError(message)

    if not (1 <= o.batch_size <= 4096):
        fail("batch size must be an integer from 1 to 4096, got %s" % fmt(o.batch_size))
    if not (0 < o.learning_rate < 10):
        fail("learning rate must be in (0, 10), got %s" % fmt(o.learning_rate))
    if not (1 <= o.epochs <= 10000):
        fail("epochs must be an integer from 1 to 10000, got %s" % fmt(o.epochs))
    if not (0 <= o.momentum < 1):
        fail("momentum must be in [0, 1), got %s" % fmt(o.momentum))
    if not (0 <= o.weight_decay < 1):
        fail("weight decay must be in [0, 1), got %s" % fmt(o.weight_decay))
    if o.early_stopping is not None and o.early_stopping < 1:
        fail("early-stopping patience must be a positive integer")
    return o
