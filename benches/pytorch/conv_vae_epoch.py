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

Prints one JSON line: {"examples_per_s": ..., "steps": ..., "seconds": ..., "threads": ...}.
Run: `python3 benches/pytorch/conv_vae_epoch.py [--threads 2] [--epochs 1]`.
"""

import argparse
import gzip
import json
import os
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
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = torch.from_numpy(read_images(args.data).astype(np.float32) / 255.0)
    model = ConvVae()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps, start = 0, time.perf_counter()
    for _ in range(args.epochs):
        order = torch.randperm(images.shape[0])
        for i in range(images.shape[0] // BATCH):
            x = torch.bernoulli(images[order[i * BATCH:(i + 1) * BATCH]])
            loss = model.loss(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
    seconds = time.perf_counter() - start
    print(json.dumps({"examples_per_s": steps * BATCH / seconds, "steps": steps,
                      "seconds": seconds, "threads": args.threads,
                      "loss": float(loss), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
