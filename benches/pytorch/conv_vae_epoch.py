#!/usr/bin/env python3
"""One training epoch of the conv VAE in plain PyTorch: the reference for
`cargo run --release --example vae -- --conv 32,64` (its `train_examples_per_s`).

The same network, data pipeline and optimizer as deepgen's `vae --conv 32,64` with defaults:

* encoder: Conv2d(1, 32, 4, stride 2, padding 1) -> ReLU -> Conv2d(32, 64, 4, 2, 1) -> ReLU ->
  Linear(64*7*7, 2*32) (mu and log sigma; `ConvEncoder` in crates/deepgen-nn);
* decoder: Linear(32, 64*7*7) -> ReLU -> ConvTranspose2d(64, 32, 4, 2, 1) -> ReLU ->
  ConvTranspose2d(32, 1, 4, 2, 1) -> Bernoulli logits (`ConvDecoder`);
* loss: BCE-with-logits summed over pixels + analytic KL to N(0, I), mean over the batch;
* data: the bundled MNIST training set, reshuffled every epoch, dynamically binarised
  (a fresh Bernoulli draw of every batch), batch 128, the last partial batch dropped
  (468 steps);
* torch.optim.Adam(lr=1e-3); threads: RAYON_NUM_THREADS if set, else the usable CPUs.

With `--mlp`, the network is instead the MLP VAE of `cargo run --release --example vae` with
its defaults (examples/vae.rs, `VaeConfig::new()` in crates/deepgen-autoencoders
models/vae.rs + models/body.rs): encoder 784-512-256-(2*32), decoder 32-256-512-784, ReLU
between layers, [mu, log sigma] heads, Bernoulli logits; it is benches/pytorch/vae_step.py's
`Vae` (fused BCE-with-logits), fed the flattened images. Everything else is the same loop
(batch 128, Adam 1e-3, dynamic binarisation of every batch, reshuffle every epoch).

`--train-images N` uses only the first N images of each epoch's permutation (N // 128 full
batches, the partial batch dropped; default: all 60 000).

Timing: the training loop only (permutation, batch indexing and binarisation, forward,
backward, Adam), not the data loading or model construction.

Prints one JSON line: {"examples_per_s": ..., "steps": ..., "seconds": ..., "threads": ...,
"peak_rss_mib": ...} (peak_rss_mib: the process's peak resident set, ru_maxrss).
Run: `python3 benches/pytorch/conv_vae_epoch.py [--threads 2] [--epochs 1] [--mlp]
[--train-images N]`.
"""

import argparse
import gzip
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LATENT = 32
BATCH = 128


def read_images(data_dir):
    with gzip.open(os.path.join(data_dir, "train-images-idx3-ubyte.gz"), "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)


class ConvVae(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 2 * LATENT))
        self.dec_in = nn.Linear(LATENT, 64 * 7 * 7)
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1))

    def loss(self, x):
        mu, log_sigma = self.enc(x).chunk(2, dim=1)
        z = mu + log_sigma.exp() * torch.randn_like(mu)
        logits = self.dec(F.relu(self.dec_in(z)).view(-1, 64, 7, 7))
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))
        kl = 0.5 * (mu.pow(2) + (2 * log_sigma).exp() - 1).sum(1) - log_sigma.sum(1)
        return (recon + kl).mean()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int,
                   default=int(os.environ.get("RAYON_NUM_THREADS", len(os.sched_getaffinity(0)))))
    p.add_argument("--data", default="data/mnist")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--mlp", action="store_true",
                   help="the MLP VAE of `--example vae` (784-512-256-32) instead of the conv VAE")
    p.add_argument("--train-images", type=int, default=None,
                   help="use only the first N images of each epoch's permutation (default all)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = torch.from_numpy(read_images(args.data).astype(np.float32) / 255.0)
    n_images = images.shape[0] if args.train_images is None else min(args.train_images,
                                                                      images.shape[0])
    if n_images < BATCH:
        p.error(f"--train-images must be at least the batch size {BATCH}")
    if args.mlp:
        sys.dont_write_bytecode = True  # no __pycache__ in the repository
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import vae_step

        model = vae_step.Vae()

        def loss_fn(x):
            return model.loss(x.reshape(x.shape[0], -1), composed=False)
    else:
        model = ConvVae()
        loss_fn = model.loss
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps, start = 0, time.perf_counter()
    for _ in range(args.epochs):
        order = torch.randperm(images.shape[0])
        for i in range(n_images // BATCH):
            x = torch.bernoulli(images[order[i * BATCH:(i + 1) * BATCH]])
            loss = loss_fn(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
    seconds = time.perf_counter() - start
    print(json.dumps({"examples_per_s": steps * BATCH / seconds, "steps": steps,
                      "seconds": seconds, "threads": args.threads,
                      "loss": float(loss.detach()), "torch": torch.__version__,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
