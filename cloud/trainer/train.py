"""SceneLab's recipe (model/train.ts) in PyTorch: Adam or SGD with momentum, L2 weight decay,
horizontal flips, torchvision's dropout, BatchNorm re-estimation before full fine-tuning, early
stopping on validation loss keeping the best weights, and `--freeze` training the head on
backbone features computed once.

Shuffles and flips draw from SceneLab's generator in SceneLab's order, so a single process
visits the same batches with the same flips as `scenelab train`. With several processes each
global batch of `--batch-size` images is shared out among them and the gradient is the batch
mean, as one process would compute it.
"""

import copy
import math
import time

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from .features import batch_loader, extract_features, loader
from .metrics import Tally
from .model import Head, backbone, has_batch_norm
from .rng import Rng, to_uint32

RECALIBRATION_IMAGES = 256


def make_optimizer(params, o):
    # tfjs's Adam uses epsilon 1e-7 where torch's default is 1e-8; the update is otherwise the same.
    if o.optimizer == "adam":
        return torch.optim.Adam(params, lr=o.learning_rate, eps=1e-7, weight_decay=o.weight_decay)
    return torch.optim.SGD(params, lr=o.learning_rate, momentum=o.momentum, weight_decay=o.weight_decay)


def epoch_plan(rng, pool, batch_size, hflip):
    """One epoch's batches `(indices, flips)`, drawn as train.ts draws them."""
    order = [pool[k] for k in rng.permutation(len(pool))]
    plan = []
    for b in range(math.ceil(len(pool) / batch_size)):
        idx = order[b * batch_size:(b + 1) * batch_size]
        flips = [rng.next() < 0.5 for _ in idx] if hflip else [False] * len(idx)
        rng.seed()  # SceneLab seeds this batch's dropout here; drawn so later epochs shuffle alike
        plan.append((idx, flips))
    return plan


def recalibrate_batch_norm(ctx, arch, model, dataset, batch_size, workers, on_skip):
    """BatchNorm running statistics = the average of batch statistics over the first 256 training
    images (AdaBN), like torch's update_bn; batches of fewer than 2 images are left out."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [copy.deepcopy(m.state_dict()) for m in bns]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
    used = 0
    model.train()
    with torch.no_grad():
        for idx, x, failed in loader(dataset, list(range(min(len(dataset), RECALIBRATION_IMAGES))), batch_size, workers):
            for i, reason in failed:
                on_skip(dataset.name(i), reason)
            if len(idx) >= 2:
                backbone(arch, model, x.to(ctx.device))
                used += 1
    for m, state, momentum in zip(bns, saved, momenta):
        m.momentum = momentum
        tracked = state["num_batches_tracked"]
        if used == 0:
            m.load_state_dict(state)
        m.num_batches_tracked.copy_(tracked)  # SceneLab leaves the counters as they were


class Trainer:
    """One run's training: `run()` returns the history and what became of it."""

    def __init__(self, ctx, reporter, arch, model, classes, train_set, val_set, options, workers, stop, hypertune=None, metric_key=None):
        self.ctx, self.reporter, self.arch, self.model, self.classes = ctx, reporter, arch, model, classes
        self.train_set, self.val_set, self.o, self.workers = train_set, val_set, options, workers
        self.stop, self.hypertune, self.metric_key = stop, hypertune, metric_key
        self.skipped = {}
        self.train_cache = self.val_cache = None

    def on_skip(self, name, reason):
        if name not in self.skipped:
            self.skipped[name] = reason
            self.reporter.skipped(name, reason)

    def run(self):
        ctx, o, model = self.ctx, self.o, self.model
        started = time.monotonic()
        rng = Rng(o.seed)
        if o.freeze:
            t = time.monotonic()

            def progress(done, total):
                self.reporter.event("features", done=done, total=total)

            self.train_cache = extract_features(ctx, self.arch, model, self.train_set, o.hflip, o.batch_size, self.workers, self.on_skip, progress)
            if self.val_set is not None:
                self.val_cache = extract_features(ctx, self.arch, model, self.val_set, False, o.batch_size, self.workers, self.on_skip)
            self.reporter.event("features", done=len(self.train_set) + len(self.val_set or []), total=len(self.train_set) + len(self.val_set or []),
                                seconds=time.monotonic() - t)
            module = Head(self.arch, model)
            pool = self.train_cache.valid
            if not pool:
                raise RuntimeError("no readable training images")
        else:
            if o.recalibrate_batch_norm and has_batch_norm(model):
                recalibrate_batch_norm(ctx, self.arch, model, self.train_set, o.batch_size, self.workers, self.on_skip)
            module = model
            pool = list(range(len(self.train_set)))
        optimizer = make_optimizer([p for p in module.parameters() if p.requires_grad], o)
        # Dropout masks differ between processes; the model's initialisation was drawn before this.
        torch.manual_seed(to_uint32(o.seed) + ctx.rank)
        trained = DistributedDataParallel(module, device_ids=[ctx.device] if ctx.device.type == "cuda" else None) if ctx.enabled else module
        history, best, stopped_early, cancelled, avg = [], None, False, False, 0.0
        for epoch in range(o.epochs):
            t0 = time.monotonic()
            plan = epoch_plan(rng, pool, o.batch_size, o.hflip)
            sums, cancelled = self._epoch(trained, optimizer, plan, epoch, t0, avg)
            loss_sum, correct, seen = sums
            if cancelled or seen == 0:
                break
            train_seconds = time.monotonic() - t0
            if not o.freeze and ctx.enabled:
                ctx.broadcast_buffers(model)
            val = self.evaluate() if self.val_set is not None else None
            seconds = time.monotonic() - t0
            avg = 0.5 * avg + 0.5 * seconds if avg else seconds
            record = {"epoch": epoch + 1, "trainLoss": loss_sum / seen, "trainAccuracy": correct / seen,
                      "valLoss": val.loss if val else None, "valAccuracy": val.accuracy if val else None,
                      "seconds": seconds, "learningRate": o.learning_rate}
            history.append(record)
            self.reporter.event("epoch", epoch=record["epoch"], epochs=o.epochs, trainLoss=record["trainLoss"], trainAccuracy=record["trainAccuracy"],
                                valLoss=record["valLoss"], valAccuracy=record["valAccuracy"], seconds=seconds, learningRate=o.learning_rate,
                                imagesPerSecond=seen / max(train_seconds, 1e-9), etaSeconds=avg * (o.epochs - epoch - 1))
            self._report_metric(record)
            if record["valLoss"] is not None and (best is None or record["valLoss"] < best[1]):
                best = (record["epoch"], record["valLoss"], copy.deepcopy(model.state_dict()) if o.early_stopping else None)
            if o.early_stopping and best and record["epoch"] - best[0] >= o.early_stopping:
                stopped_early = True
                self.reporter.event("early-stop", epoch=record["epoch"], bestEpoch=best[0])
                break
        best_epoch = history[-1]["epoch"] if history else 0
        if o.early_stopping and best and best[2] is not None and best[0] != best_epoch:
            model.load_state_dict(best[2])
            best_epoch = best[0]
        return {"history": history, "bestEpoch": best_epoch, "stoppedEarly": stopped_early, "cancelled": cancelled,
                "seconds": time.monotonic() - started}

    def _epoch(self, trained, optimizer, plan, epoch, t0, avg):
        ctx, o = self.ctx, self.o
        trained.train()
        loss_sum = correct = seen = 0.0
        batches = None if o.freeze else iter(batch_loader(self.train_set, [idx[ctx.rank::ctx.world] for idx, _ in plan], self.workers))
        last_note = time.monotonic()
        for b, (idx, flips) in enumerate(plan):
            mine, my_flips = idx[ctx.rank::ctx.world], flips[ctx.rank::ctx.world]
            x = y = None
            if o.freeze:
                x, y = self.train_cache.rows(mine, my_flips) if mine else (None, None)
            else:
                kept, x, failed = next(batches)
                for i, reason in failed:
                    self.on_skip(self.train_set.name(i), reason)
                if kept:
                    flip_of = dict(zip(mine, my_flips))
                    mask = torch.tensor([flip_of[i] for i in kept], dtype=torch.bool).view(-1, 1, 1, 1)
                    x = torch.where(mask, x.flip(3), x).to(ctx.device)
                    y = torch.tensor([self.train_set.label(i) for i in kept], device=ctx.device)
            n_local = 0 if x is None else y.numel()
            n_global, stop = ctx.sum([n_local, 1.0 if self.stop.requested else 0.0])
            if stop:
                return (loss_sum, correct, seen), True
            if n_global == 0:
                continue
            if n_local:
                logits = trained(x)
                batch_loss = F.cross_entropy(logits, y, reduction="sum")
                (batch_loss * (ctx.world / n_global)).backward()
                loss_sum += batch_loss.item()
                correct += (logits.argmax(1) == y).sum().item()
                seen += n_local
            else:
                self._idle_step(trained)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if time.monotonic() - last_note > 10:
                last_note = time.monotonic()
                elapsed = last_note - t0
                self.reporter.event("batch", epoch=epoch + 1, batch=b + 1, batches=len(plan), imagesPerSecond=seen * ctx.world / max(elapsed, 1e-9),
                                    etaSeconds=elapsed / (b + 1) * (len(plan) - b - 1) + (o.epochs - epoch - 1) * (avg or elapsed / (b + 1) * len(plan)))
        loss_sum, correct, seen = ctx.sum([loss_sum, correct, seen])
        return (loss_sum, correct, int(seen)), False

    def _idle_step(self, trained):
        """A process whose share of a small last batch is empty still joins the gradient average,
        with nothing to add: one zero image in eval mode (no BatchNorm update), weighted 0."""
        o = self.o
        if o.freeze:
            shape = tuple(self.train_cache.features.shape[1:])
        else:
            shape = (3,) + tuple(self.train_set.spec["inputSize"])
        trained.eval()
        (trained(torch.zeros((1,) + shape, device=self.ctx.device)).sum() * 0).backward()
        trained.train()

    def evaluate(self):
        """Loss, accuracy and the evaluation counts on the validation set, all processes together."""
        ctx, o, model = self.ctx, self.o, self.model
        tally = Tally(len(self.classes))
        model.eval()
        with torch.no_grad():
            if self.val_cache is not None:
                head = Head(self.arch, model)
                mine = self.val_cache.valid[ctx.rank::ctx.world]
                for s in range(0, len(mine), o.batch_size):
                    f, y = self.val_cache.rows(mine[s:s + o.batch_size])
                    tally.add(head(f), y)
            else:
                for idx, x, failed in loader(self.val_set, list(range(ctx.rank, len(self.val_set), ctx.world)), o.batch_size, self.workers):
                    for i, reason in failed:
                        self.on_skip(self.val_set.name(i), reason)
                    if idx:
                        tally.add(model(x.to(ctx.device)), torch.tensor([self.val_set.label(i) for i in idx]))
        return tally.merge(ctx)

    def val_skipped(self):
        names = {self.val_set.name(i) for i in range(len(self.val_set))} if self.val_set is not None else set()
        return [(n, r) for n, r in self.skipped.items() if n in names]

    def _report_metric(self, record):
        if self.hypertune is None or not self.ctx.is_chief:
            return
        value = record[self.metric_key]
        if value is None:
            if record["epoch"] == 1:
                self.reporter.note("hypertune: %s has no value without a validation set; not reported" % self.metric_key)
            return
        problem = self.hypertune.report(value, record["epoch"])
        if problem:
            self.reporter.note("hypertune: " + problem)

