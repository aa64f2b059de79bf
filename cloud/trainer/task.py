"""`python -m trainer.task`: one SceneLab run, as `scenelab train` runs it, on Vertex AI custom
training (or any machine with PyTorch). Flags are `scenelab train`'s; see `--help`.

Environment: AIP_MODEL_DIR (default --out), WORLD_SIZE/RANK/MASTER_ADDR/MASTER_PORT or
CLUSTER_SPEC (data-parallel), CLOUD_ML_HP_METRIC_FILE and CLOUD_ML_TRIAL_ID (tuning),
SCENELAB_TRAINER_CHECKSUMS=DIR (each process writes DIR/rank-N.json with its final weights'
checksum), SCENELAB_DEBUG (tracebacks).
"""

import json
import os
import signal
import sys
import time

import torch

from . import distributed
from .args import HYPERTUNE_METRICS, gs_to_local, parse_args
from .data import ImageDataset, read_local_dataset, training_pools
from .errors import InputError, report_errors
from .model import build, load_weights, parameter_count, read_state_dict
from .outputs import run_files, state_checksum, write_run
from .preprocessing import choose_preprocessing
from .reporting import HypertuneReporter, Reporter
from .rng import to_uint32
from .split import random_split
from .train import Trainer


class StopFlag:
    """Set by SIGTERM (Vertex AI cancelling the job) or SIGINT: training stops between batches and
    saves what it learnt; a second signal stops at once."""

    def __init__(self):
        self.requested = False

    def install(self):
        def handler(signum, _frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True

        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, handler)


def split_run(pool, validation, val_split, seed):
    """The data's own validation split when it has one, else a seeded hold-out of the pool."""
    if validation:
        return pool, validation, "data"
    if val_split == 0:
        return pool, None, "none"
    train_idx, val_idx = random_split(len(pool), val_split, seed)
    if not val_idx:
        return pool, None, "none"
    return [pool[i] for i in train_idx], [pool[i] for i in val_idx], "hold-out"


def summarise(names):
    return ", ".join(names) if len(names) <= 4 else "%s and %d more" % (", ".join(names[:3]), len(names) - 3)


def run(argv):
    config = parse_args(argv)
    if config is None:
        return 0
    ctx = distributed.setup()
    if ctx is None:
        sys.stderr.write("trainer: this replica is not in a training worker pool (CLUSTER_SPEC); nothing to do\n")
        return 0
    try:
        return train_run(config, ctx)
    finally:
        ctx.close()


def train_run(config, ctx):
    reporter = Reporter(enabled=ctx.is_chief, progress_path=config.progress)
    stop = StopFlag()
    stop.install()
    o = config.options
    ds = read_local_dataset(gs_to_local(config.data, config.gs_root), config.gs_root)
    classes, pool, validation = training_pools(ds)
    if len(classes) < 2:
        raise InputError("--data %s: found %d class folder(s) with images; need at least 2" % (config.data, len(classes)))
    if not pool:
        raise InputError("--data %s: no labelled training images (all of them are validation images)" % config.data)
    for source, reason in ds.problems:
        reporter.note("skipped %s: %s" % (source, reason))
    sd = read_state_dict(gs_to_local(config.weights, config.gs_root), config.weights) if config.weights else None
    spec = choose_preprocessing(config.preprocessing, config.arch, sd)
    train_items, val_items, val_from = split_run(pool, validation, config.val_split, o.seed)
    reporter.event("data", classes=classes, train=len(train_items), validation=len(val_items or []), validationFrom=val_from, worldSize=ctx.world)

    torch.manual_seed(to_uint32(o.seed))
    model = build(config.arch, len(classes))
    reporter.event("model", arch=config.arch, parameters=parameter_count(model), preprocessing=spec["name"], device=str(ctx.device))
    if sd is not None:
        r = load_weights(model, config.arch, sd)
        reporter.event("weights", name=config.weights, filled=len(r["filled"]), kept=r["kept"], headReplaced=r["headReplaced"])
        reporter.note("weights: filled %d tensors from %s; %d keep their initial values%s%s" % (
            len(r["filled"]), config.weights, len(r["kept"]), " (%s)" % summarise(r["kept"]) if r["kept"] else "",
            "; head replaced (%s)" % summarise(r["headReplaced"]) if r["headReplaced"] else ""))
    model.to(ctx.device)

    started = time.monotonic()
    train_set = ImageDataset(ds, train_items, spec)
    val_set = ImageDataset(ds, val_items, spec) if val_items else None
    hypertune = HypertuneReporter(config.hypertune_metric) if ctx.is_chief else None
    trainer = Trainer(ctx, reporter, config.arch, model, classes, train_set, val_set, o, config.workers, stop,
                      hypertune, HYPERTUNE_METRICS[config.hypertune_metric])
    result = trainer.run()
    metrics = None
    if val_set is not None and result["history"]:
        metrics = dict(split="validation", **trainer.evaluate().report(classes, trainer.val_skipped()))
    hyperparameters = dict(arch=config.arch, weights=config.weights, preprocessing=spec["name"], valSplit=config.val_split, **o.to_json())
    if ctx.is_chief:
        write_run(config.out, run_files(model, classes, spec, hyperparameters, result["history"], metrics), config.out_on_fuse)
    checksums = os.environ.get("SCENELAB_TRAINER_CHECKSUMS")
    if checksums:
        os.makedirs(checksums, exist_ok=True)
        with open(os.path.join(checksums, "rank-%d.json" % ctx.rank), "w") as f:
            json.dump({"rank": ctx.rank, "worldSize": ctx.world, "sha256": state_checksum(model)}, f)
    skipped = [{"source": s, "reason": r} for part in ctx.gather_objects(sorted(trainer.skipped.items())) for s, r in part]
    reporter.event("done", out=config.out, epochs=len(result["history"]), bestEpoch=result["bestEpoch"], cancelled=result["cancelled"],
                   stoppedEarly=result["stoppedEarly"], trainSeconds=round(time.monotonic() - started, 1),
                   valAccuracy=metrics["accuracy"] if metrics else None, skipped=_unique(skipped), worldSize=ctx.world)
    return 130 if result["cancelled"] else 0


def _unique(skipped):
    seen, out = set(), []
    for s in skipped:
        if s["source"] not in seen:
            seen.add(s["source"])
            out.append(s)
    return out


def main(argv=None):
    report_errors(lambda: run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
