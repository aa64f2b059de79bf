"""Backbone features computed once, for `--freeze` (model/train.ts extractFeatures): a frozen
backbone gives an image the same features every epoch, so only the head trains, on these.
With several processes each computes every world-th image and all of them receive the lot.
"""

import time

import torch

from .data import collate
from .model import backbone


class FeatureCache:
    """Features of every image (and of its mirror image when flipping), labels, and which images decoded."""

    def __init__(self, features, flipped, labels, valid):
        self.features = features
        self.flipped = flipped
        self.labels = labels
        self.valid = valid

    def rows(self, idx, flips=None):
        """Features of images `idx`, each mirrored where `flips` says so."""
        index = torch.tensor(idx, dtype=torch.long, device=self.features.device)
        f = self.features.index_select(0, index)
        if flips is not None and self.flipped is not None and any(flips):
            mask = torch.tensor(flips, dtype=torch.bool, device=f.device).view((-1,) + (1,) * (f.dim() - 1))
            f = torch.where(mask, self.flipped.index_select(0, index), f)
        return f, self.labels.index_select(0, index)


def batch_loader(dataset, batches, workers):
    """The images of each batch (a list of indices) in turn: `(kept indices, tensor, [(index, reason)])`."""
    return torch.utils.data.DataLoader(dataset, batch_sampler=batches, num_workers=workers, collate_fn=collate)


def loader(dataset, indices, batch_size, workers):
    """`indices` in order, `batch_size` at a time."""
    return batch_loader(dataset, [indices[s:s + batch_size] for s in range(0, len(indices), batch_size)], workers)


def extract_features(ctx, arch, model, dataset, with_flip, batch_size, workers, on_skip, on_progress=None):
    n = len(dataset)
    h, w = dataset.spec["inputSize"]
    model.eval()
    with torch.no_grad():
        shape = tuple(backbone(arch, model, torch.zeros(1, 3, h, w, device=ctx.device)).shape[1:])
        local = list(range(ctx.rank, n, ctx.world))
        slot = {i: k for k, i in enumerate(local)}
        feats = torch.zeros((len(local),) + shape, device=ctx.device)
        flipped = torch.zeros_like(feats) if with_flip else None
        ok = torch.zeros(len(local), dtype=torch.uint8, device=ctx.device)
        done, last = 0, time.monotonic()
        for idx, x, failed in loader(dataset, local, batch_size, workers):
            for i, reason in failed:
                on_skip(dataset.name(i), reason)
            if idx:
                x = x.to(ctx.device)
                rows = torch.tensor([slot[i] for i in idx], device=ctx.device)
                feats[rows] = backbone(arch, model, x)
                if flipped is not None:
                    flipped[rows] = backbone(arch, model, x.flip(3))
                ok[rows] = 1
            done += len(idx) + len(failed)
            if on_progress and (time.monotonic() - last > 10 or done == len(local)):
                last = time.monotonic()
                on_progress(min(n, done * ctx.world), n)
    feats = ctx.gather_rows(feats, n)
    flipped = ctx.gather_rows(flipped, n) if flipped is not None else None
    ok = ctx.gather_rows(ok, n)
    labels = torch.tensor([dataset.label(i) for i in range(n)], dtype=torch.long, device=ctx.device)
    valid = [i for i, v in enumerate(ok.tolist()) if v]
    return FeatureCache(feats, flipped, labels, valid)
