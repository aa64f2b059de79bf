"""Loss, accuracy and SceneLab's evaluation report (model/evaluate.ts), from counts that add up
across batches and processes: a confusion matrix, top-k hits and a loss sum.
"""

import torch
import torch.nn.functional as F


class Tally:
    """What a pass over labelled images found; `merge` it across processes with `ctx.sum_tensor`."""

    def __init__(self, num_classes):
        self.c = num_classes
        self.k_max = min(5, num_classes)
        # [loss sum, n, top-1 hits … top-k_max hits, confusion row-major]
        self.counts = torch.zeros(2 + self.k_max + num_classes * num_classes, dtype=torch.float64)

    def add(self, logits, labels):
        logits = logits.detach().float()
        labels = labels.to(logits.device)
        loss_sum = F.cross_entropy(logits, labels, reduction="sum").item()
        probs = torch.softmax(logits, 1)
        truth = probs.gather(1, labels.view(-1, 1))
        cols = torch.arange(self.c, device=probs.device).view(1, -1)
        # Rank of the true class when classes are sorted by falling probability, ties by index.
        rank = ((probs > truth) | ((probs == truth) & (cols < labels.view(-1, 1)))).sum(1)
        predicted = probs.argmax(1)
        c = self.counts
        c[0] += loss_sum
        c[1] += labels.numel()
        for k in range(1, self.k_max + 1):
            c[1 + k] += (rank < k).sum().item()
        flat = (labels * self.c + predicted).cpu()
        c[2 + self.k_max:] += torch.bincount(flat, minlength=self.c * self.c).to(torch.float64)

    def merge(self, ctx):
        self.counts = ctx.sum_tensor(self.counts.to(ctx.device)).cpu()
        return self

    @property
    def n(self):
        return int(self.counts[1].item())

    @property
    def loss(self):
        return self.counts[0].item() / self.n if self.n else None

    @property
    def accuracy(self):
        return self.counts[2].item() / self.n if self.n else None

    def report(self, classes, skipped):
        """SceneLab's EvalReport without predictions: n, accuracy, topK, classes, perClass, macroF1, confusion, skipped."""
        n, c = self.n, self.c
        conf = self.counts[2 + self.k_max:].view(c, c).round().long().tolist()
        top_k = {str(k): (self.counts[1 + k].item() / n if n else 0) for k in range(1, self.k_max + 1)}
        per_class = []
        for k, label in enumerate(classes):
            tp = conf[k][k]
            support = sum(conf[k])
            predicted = sum(row[k] for row in conf)
            precision = 0 if predicted == 0 else tp / predicted
            recall = 0 if support == 0 else tp / support
            f1 = 0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
            per_class.append({"label": label, "precision": precision, "recall": recall, "f1": f1, "support": support})
        return {
            "n": n,
            "accuracy": top_k.get("1", 0),
            "topK": top_k,
            "classes": list(classes),
            "perClass": per_class,
            "macroF1": sum(m["f1"] for m in per_class) / max(1, c),
            "confusion": conf,
            "skipped": [{"source": s, "reason": r} for s, r in skipped],
        }
