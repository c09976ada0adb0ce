#!/usr/bin/env python3
"""Training epochs of Glow on dequantised MNIST in plain PyTorch: the reference for
`cargo run --release --example glow_mnist -- --epochs 1 --train-images N` (its
`train_examples_per_s`).

The model is workloads.py's `Glow`, deepgen's default `glow_mnist` flow (examples/glow_mnist.rs,
crates/deepgen-flows image_flows.rs `GlowConfig`, multiscale.rs, actnorm.rs, inv_conv.rs,
coupling/, conditioner/conv.rs, squeeze.rs, preprocess.rs): 2 levels x 8 steps, hidden 128, LU
1x1 convolutions, learned split prior, affine couplings with scale exp(3 tanh(s/3)), logit
(alpha = 0.05) input; 433 868 parameters. The loop is deepgen-train's trainer.rs with the
settings of crates/deepgen-flows tasks/image.rs `run`:

* each epoch a fresh permutation of the 60 000 training images, of which the first
  `--train-images` are visited in batches of 64, the partial batch dropped;
* x = (k + u)/256 with fresh u ~ U[0, 1) for every batch (`dequantize`);
* ActNorm's data-dependent initialisation on the first batch, once (`before_first_step`);
* loss = -ln p(x) + D ln 256 (nats per image), mean over the batch, with bits/dim beside it;
  both read to the host every step (the trainer's one read of the loss and metrics; a
  non-finite value stops the run);
* the global gradient norm clipped at 100 (`torch.nn.utils.clip_grad_norm_`; deepgen scales by
  min(1, 100/||g||) without torch's 1e-6 in the denominator);
* Adam (beta 0.9, 0.999, eps 1e-5: Burn's AdamConfig::new()) with the learning rate warmed up
  linearly from 0 to 1e-3 over `--warmup` steps (lr = 1e-3 * step/warmup at the 0-based step
  before the update). deepgen's `--warmup` default is 500 (tasks/image.rs `MnistFlowArgs`), and
  so is this script's.

Timing: the training loop only, as conv_vae_epoch.py and deepgen's per-epoch timer do: from
the first permutation to the last optimizer step, including the batch indexing and
dequantisation and the ActNorm initialisation (deepgen runs it inside the first epoch's
timer); not the data loading, the model construction, or deepgen's per-epoch evaluation.

Prints one JSON line: {"examples_per_s": ..., "steps": ..., "seconds": ..., "threads": ...,
"peak_rss_mib": ...} (plus the last loss and bits/dim, torch version and parameter count).
Run: `python3 benches/pytorch/glow_mnist_epoch.py [--train-images 6400] [--threads 2]`.
"""

import argparse
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddpm_mnist  # noqa: E402
import vae_step  # noqa: E402
import workloads  # noqa: E402

BATCH = 64


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train-images", type=int, default=60000,
                   help="images visited per epoch (the first N of each permutation)")
    p.add_argument("--threads", type=int, default=vae_step.rayon_threads(),
                   help="torch.set_num_threads (default: Burn's rayon pool size)")
    p.add_argument("--data", default="data/mnist", help="directory of the MNIST IDX files")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr-peak", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=500, help="linear warm-up steps (deepgen: 500)")
    p.add_argument("--clip-grad-norm", type=float, default=100.0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    pixels = torch.from_numpy(ddpm_mnist.load_images(a.data, "train").astype(np.float32))
    pixels = pixels.unsqueeze(1)  # [60000, 1, 28, 28], k in {0, ..., 255}
    n = min(a.train_images, pixels.shape[0])
    per_epoch = n // BATCH
    if per_epoch == 0:
        p.error(f"--train-images must be at least the batch size {BATCH}")
    d = pixels[0].numel()
    u_max = 1.0 - float(np.finfo(np.float32).eps)

    model = workloads.Glow()
    params = workloads.count(model)
    assert params == workloads.GLOW_PARAMS, params
    opt = torch.optim.Adam(model.parameters(), lr=0.0, betas=(0.9, 0.999),
                           eps=workloads.ADAM_EPS)
    step, initialised = 0, False
    last_loss = last_bpd = float("nan")
    start = time.perf_counter()
    for _ in range(a.epochs):
        order = torch.randperm(pixels.shape[0])
        for i in range(per_epoch):
            k = pixels[order[i * BATCH:(i + 1) * BATCH]]
            x = (k + torch.rand(k.shape).clamp_max(u_max)) / 256.0
            if not initialised:
                model.initialize_actnorm(x)
                initialised = True
            log_prob = model.log_prob(x)
            loss = (d * math.log(256.0) - log_prob).mean()
            bpd = loss.detach() / (d * math.log(2.0))
            last_loss, last_bpd = torch.stack([loss.detach(), bpd]).tolist()
            if not (math.isfinite(last_loss) and math.isfinite(last_bpd)):
                raise SystemExit(f"error: non-finite loss {last_loss} at step {step}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip_grad_norm)
            lr = a.lr_peak * step / a.warmup if step < a.warmup else a.lr_peak
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()
            step += 1
    seconds = time.perf_counter() - start
    print(json.dumps({"examples_per_s": step * BATCH / seconds, "steps": step,
                      "seconds": seconds, "threads": a.threads,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "loss": last_loss, "bpd": last_bpd, "parameters": params,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
