"""PyTorch reference for `npm run bench`: the same model, batch, input size and thread count as
the SceneLab contender, timed the same way (median of repeats after a warm-up).

  /usr/bin/python3 bench/reference/torch_bench.py --arch squeezenet1_1 --threads 2 --size 150 \
      --train-batch 32 --infer-batch 64 --repeats 5

Prints one JSON object: train step images/s (full fine-tuning, Adam), batch-1 latency (ms),
batch inference images/s, peak RSS (MiB), and forward multiply-adds per image.
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torchvision


def median_seconds(fn, repeats):
    fn()  # warm-up: allocator, kernels chosen
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def forward_macs(model, size):
    """Multiply-adds of one forward pass: conv and linear layers, counted from their outputs."""
    macs = []

    def conv_hook(m, _inp, out):
        kh, kw = m.kernel_size
        macs.append(out.numel() // out.shape[0] * (m.in_channels // m.groups) * kh * kw)

    def linear_hook(m, _inp, out):
        macs.append(out.numel() // out.shape[0] * m.in_features)

    hooks = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    return sum(macs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="squeezenet1_1")
    p.add_argument("--classes", type=int, default=6)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--size", type=int, default=150)
    p.add_argument("--train-batch", type=int, default=32)
    p.add_argument("--infer-batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = getattr(torchvision.models, a.arch)(num_classes=a.classes)
    x = torch.randn(a.train_batch, 3, a.size, a.size)
    y = torch.randint(0, a.classes, (a.train_batch,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def train_step():
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    train_s = median_seconds(train_step, a.repeats)
    model.eval()
    one = torch.randn(1, 3, a.size, a.size)
    many = torch.randn(a.infer_batch, 3, a.size, a.size)
    with torch.no_grad():
        latency_s = median_seconds(lambda: model(one), a.repeats * 4)
        infer_s = median_seconds(lambda: model(many), a.repeats)
    print(json.dumps({
        "contender": "pytorch",
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "trainImagesPerSecond": a.train_batch / train_s,
        "latencyMs": latency_s * 1000,
        "inferImagesPerSecond": a.infer_batch / infer_s,
        "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "forwardMacsPerImage": forward_macs(model, a.size),
    }))


if __name__ == "__main__":
    main()
