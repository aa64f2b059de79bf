"""`python -m trainer.evaluate --model RUN_DIR --data DIR|FILE`: scores a run this trainer wrote on
labelled images, as `scenelab eval --json` does (test rows only when the data has a test split),
and prints one JSON object: n, accuracy, topK, classes, perClass, macroF1, confusion, skipped.
"""

import argparse
import json
import os
import sys

import torch

from .args import DEFAULT_GS_ROOT, ARCH_NAMES, default_workers, gs_to_local, number_option
from .data import ImageDataset, read_local_dataset
from .errors import InputError, UsageError, report_errors
from .features import loader
from .jsonfmt import dumps
from .metrics import Tally
from .model import build
from .preprocessing import validate_spec


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def load_run(folder):
    """(arch, classes, spec, model) of a run directory: model.pth, labels.json, preprocessing.json, hyperparameters.json."""
    def read(name):
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            raise InputError("--model %s: %s is missing (is it a run directory?)" % (folder, name))
        except ValueError:
            raise InputError("--model %s: %s is not valid JSON" % (folder, name))

    arch = read("hyperparameters.json").get("arch")
    if arch not in ARCH_NAMES:
        raise InputError('--model %s: hyperparameters.json names an unknown architecture "%s"' % (folder, arch))
    classes = read("labels.json")
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise InputError("--model %s: labels.json must list at least 2 class names" % folder)
    try:
        spec = validate_spec(read("preprocessing.json"))
    except ValueError as e:
        raise InputError("--model %s: preprocessing.json: %s" % (folder, e))
    model = build(arch, len(classes))
    try:
        model.load_state_dict(torch.load(os.path.join(folder, "model.pth"), map_location="cpu"))
    except FileNotFoundError:
        raise InputError("--model %s: model.pth is missing" % folder)
    except Exception as e:
        raise InputError("--model %s: model.pth does not fit %s: %s" % (folder, arch, str(e).split("\n")[0]))
    return arch, classes, spec, model


def evaluate(argv):
    p = _Parser(prog="trainer.evaluate", allow_abbrev=False)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--gs-root", default=DEFAULT_GS_ROOT)
    p.add_argument("--batch-size")
    p.add_argument("--workers")
    v = p.parse_args(argv)
    batch_size = number_option("batch-size", v.batch_size, 32, True)
    workers = number_option("workers", v.workers, default_workers(), True)
    if batch_size < 1 or workers < 0:
        raise UsageError("--batch-size must be 1 or more and --workers 0 or more")
    arch, classes, spec, model = load_run(gs_to_local(v.model, v.gs_root))
    ds = read_local_dataset(gs_to_local(v.data, v.gs_root), v.gs_root)
    has_test = any(r[2] == "test" for r in ds.records)
    index = {c: i for i, c in enumerate(classes)}
    problems, items = list(ds.problems), []
    for uri, label, split in ds.records:
        if label is None or (has_test and split != "test"):
            continue
        if label not in index:
            problems.append((uri, 'class "%s" is not one of the model\'s classes (%s)' % (label, ", ".join(classes))))
            continue
        items.append((uri, index[label]))
    if not items:
        raise UsageError("--data %s: no labelled images of the model's classes (%s)" % (v.data, ", ".join(classes)))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).eval()
    dataset = ImageDataset(ds, items, spec)
    tally = Tally(len(classes))
    with torch.no_grad():
        for idx, x, failed in loader(dataset, list(range(len(items))), batch_size, workers):
            problems.extend((dataset.name(i), reason) for i, reason in failed)
            if idx:
                tally.add(model(x.to(device)), torch.tensor([dataset.label(i) for i in idx]))
    return tally.report(classes, problems)


def main():
    report_errors(lambda: print(dumps(evaluate(sys.argv[1:]))) or 0)


if __name__ == "__main__":
    main()
