#!/usr/bin/env python3
"""The convolution layers of benches/conv_layers.rs in PyTorch, same shapes and threads
(conv2d and, for the decoder layers, conv_transpose2d).

For each layer: `forward` (torch.nn.functional.conv2d under torch.no_grad) and `train`
(forward, then autograd gradients of sum(y * g) for the input, weight and bias), timed as
the median over `--repeats` runs of whole calls for at least `--seconds` each, after warm-up.
Threads: RAYON_NUM_THREADS if set, else the CPUs this process may run on (what Burn's rayon
pool uses). Prints one JSON line per layer:
{"layer": ..., "batch": ..., "forward_ms": ..., "train_ms": ..., "threads": ..., "torch": ...}

Run: `python3 benches/pytorch/conv_layers.py [--threads 2]`.
"""

import argparse
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F

# name, batch, c_in, c_out, size, kernel, stride, padding (as LAYERS in benches/conv_layers.rs)
LAYERS = [
    ("unet_16x28x28_k3", 64, 16, 16, 28, 3, 1, 1),
    ("unet_32x14x14_k3", 64, 32, 32, 14, 3, 1, 1),
    ("unet_64x7x7_k3", 64, 64, 64, 7, 3, 1, 1),
    ("unet_down_16x28x28_k3s2", 64, 16, 16, 28, 3, 2, 1),
    ("unet_down_32x14x14_k3s2", 64, 32, 32, 14, 3, 2, 1),
    ("glow_2to128x14x14_k3", 64, 2, 128, 14, 3, 1, 1),
    ("glow_128x14x14_k1", 64, 128, 128, 14, 1, 1, 0),
    ("glow_128to4x14x14_k3", 64, 128, 4, 14, 3, 1, 1),
    ("enc_1to32x28x28_k4s2", 128, 1, 32, 28, 4, 2, 1),
    ("enc_32to64x14x14_k4s2", 128, 32, 64, 14, 4, 2, 1),
    ("vq_32x7x7_k3", 128, 32, 32, 7, 3, 1, 1),
]
# transposed (4x4, stride 2, padding 1, batch 128): name, c_in, c_out, size (TRANSPOSED there)
TRANSPOSED = [
    ("dec_64to32x7x7_k4s2", 64, 32, 7),
    ("dec_32to1x14x14_k4s2", 32, 1, 14),
]


def timed(fn, seconds, repeats):
    for _ in range(3):
        fn()
    runs = []
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        runs.append(1e3 * elapsed / n)
    return statistics.median(runs)


def main():
    parser = argparse.ArgumentParser()
    default_threads = int(os.environ.get("RAYON_NUM_THREADS", len(os.sched_getaffinity(0))))
    parser.add_argument("--threads", type=int, default=default_threads)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default=None, help="run only layers whose name contains this")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for name, batch, c_in, c_out, size, k, stride, pad in LAYERS:
        if args.only and args.only not in name:
            continue
        x = torch.rand(batch, c_in, size, size)
        w = torch.rand(c_out, c_in, k, k)
        b = torch.rand(c_out)

        def forward():
            with torch.no_grad():
                return F.conv2d(x, w, b, stride=stride, padding=pad)

        xg, wg, bg = (t.clone().requires_grad_(True) for t in (x, w, b))
        g = torch.rand_like(F.conv2d(x, w, b, stride=stride, padding=pad))

        def train():
            y = F.conv2d(xg, wg, bg, stride=stride, padding=pad)
            return torch.autograd.grad((y * g).sum(), (xg, wg, bg))

        report(name, batch, forward, train, args)
    for name, c_in, c_out, size in TRANSPOSED:
        if args.only and args.only not in name:
            continue
        x = torch.rand(128, c_in, size, size)
        w = torch.rand(c_in, c_out, 4, 4)
        b = torch.rand(c_out)

        def forward_t():
            with torch.no_grad():
                return F.conv_transpose2d(x, w, b, stride=2, padding=1)

        xg, wg, bg = (t.clone().requires_grad_(True) for t in (x, w, b))
        g = torch.rand_like(F.conv_transpose2d(x, w, b, stride=2, padding=1))

        def train_t():
            y = F.conv_transpose2d(xg, wg, bg, stride=2, padding=1)
            return torch.autograd.grad((y * g).sum(), (xg, wg, bg))

        report(name, 128, forward_t, train_t, args)


def report(name, batch, forward, train, args):
    print(json.dumps({
        "layer": name,
        "batch": batch,
        "forward_ms": timed(forward, args.seconds, args.repeats),
        "train_ms": timed(train, args.seconds, args.repeats),
        "threads": args.threads,
        "torch": torch.__version__,
    }), flush=True)


if __name__ == "__main__":
    main()
