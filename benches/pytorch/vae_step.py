#!/usr/bin/env python3
"""One VAE training step in PyTorch: the reference for benches/vae_step.rs.

The network, loss and optimizer are those of `deepgen::autoencoders::Vae` with
`VaeConfig::new()` and the Rust benchmark:

* encoder 784-512-256-(2*32), decoder 32-256-512-784, ReLU between layers;
* q(z|x) = N(mu, diag sigma^2) with the encoder output split into [mu, log sigma];
  z = mu + sigma * eps with fresh eps ~ N(0, I) every step;
* Bernoulli decoder: BCE-with-logits summed over the 784 pixels, analytic
  KL(q || N(0, I)) = sum 0.5 (mu^2 + sigma^2 - 1) - log sigma, loss = mean over batch
  of (recon + KL);
* torch.optim.Adam(lr=1e-3) with PyTorch's defaults, batch 128;
* input: Bernoulli(0.3) pixels drawn once and reused at every step;
* threads: the number Burn's rayon pool uses, i.e. RAYON_NUM_THREADS if set, else the
  CPUs this process may run on (what `std::thread::available_parallelism` reports).

Timing: warm-up steps, then `--repeats` runs, each of whole steps until at least
`--seconds` have passed. Prints one JSON line:
{"steps_per_s_median": ..., "steps_per_s_all": [...], "threads": ..., "torch": ...}

With `--phases`, also times the parts of the step that `benches/vae_step.rs` times in its
`vae_phases_b128` group and adds {"phases_ms": {"inference_forward": ..., "forward": ...,
"forward_backward": ..., "gemm_only": ...}} (median milliseconds per call) to the line.

Run by `cargo xtask bench`; alone: `python3 benches/pytorch/vae_step.py [--threads 2]`.
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

INPUT_DIM = 784
HIDDEN = (512, 256)
LATENT = 32
BATCH = 128


def rayon_threads() -> int:
    """Threads in Burn's rayon pool: RAYON_NUM_THREADS if a positive integer, else the
    CPUs available to this process."""
    env = os.environ.get("RAYON_NUM_THREADS", "")
    if env.strip().isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def mlp(dims):
    """Linear layers with ReLU between them, none after the last."""
    layers = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Vae(nn.Module):
    """The Gaussian-latent, Bernoulli-decoder MLP VAE of deepgen-autoencoders."""

    def __init__(self):
        super().__init__()
        self.encoder = mlp((INPUT_DIM, *HIDDEN, 2 * LATENT))
        self.decoder = mlp((LATENT, *reversed(HIDDEN), INPUT_DIM))

    def loss(self, x, composed: bool):
        mean, log_std = self.encoder(x).chunk(2, dim=1)
        z = mean + log_std.exp() * torch.randn_like(mean)
        logits = self.decoder(z)
        if composed:
            # Exactly the Rust op sequence: softplus(l) - x*l with
            # softplus(l) = relu(l) + log1p(exp(-|l|)).
            softplus = logits.clamp_min(0.0) + (-logits.abs()).exp().log1p()
            recon = (softplus - x * logits).sum(dim=1)
        else:
            recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)
        kl = (0.5 * (mean.square() + (2.0 * log_std).exp() - 1.0) - log_std).sum(dim=1)
        return (recon + kl).mean()


def time_per_call(fn, seconds: float, repeats: int, warmup: int) -> float:
    """Median over `repeats` runs (each at least `seconds` long) of seconds per call of `fn`."""
    for _ in range(warmup):
        fn()
    per_call = []
    for _ in range(repeats):
        calls = 0
        t0 = time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
        per_call.append(elapsed / calls)
    return statistics.median(per_call)


def step_matmul_operands():
    """The 17 matrix products of one step with Burn's operand layouts (weights [in, out]):
    forward x @ W, weight gradient x^T @ g, input gradient g @ W^T (not for layer 1)."""
    dims = [(INPUT_DIM, HIDDEN[0]), (HIDDEN[0], HIDDEN[1]), (HIDDEN[1], 2 * LATENT),
            (LATENT, HIDDEN[1]), (HIDDEN[1], HIDDEN[0]), (HIDDEN[0], INPUT_DIM)]
    ops = []
    for i, (d_in, d_out) in enumerate(dims):
        inp, w, g = torch.randn(BATCH, d_in), torch.randn(d_in, d_out), torch.randn(BATCH, d_out)
        ops.append((inp, w))
        ops.append((inp.t(), g))
        if i != 0:
            ops.append((g, w.t()))
    return ops


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=rayon_threads(),
                   help="torch.set_num_threads (default: Burn's rayon pool size)")
    p.add_argument("--seconds", type=float, default=3.0, help="minimum seconds per repeat")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats (median reported)")
    p.add_argument("--warmup", type=int, default=20, help="untimed warm-up steps")
    p.add_argument("--composed-loss", action="store_true",
                   help="spell BCE-with-logits out as the Rust ops do instead of the fused "
                        "F.binary_cross_entropy_with_logits")
    p.add_argument("--phases", action="store_true",
                   help="also time forward / forward+backward / GEMMs alone (adds phases_ms)")
    p.add_argument("--phase-seconds", type=float, default=1.0,
                   help="minimum seconds per repeat of each phase")
    args = p.parse_args()
    if args.threads < 1 or args.repeats < 1 or args.seconds <= 0 or args.warmup < 0:
        p.error("--threads and --repeats must be >= 1, --seconds > 0, --warmup >= 0")

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Vae()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.bernoulli(torch.full((BATCH, INPUT_DIM), 0.3))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model.loss(x, args.composed_loss)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()

    rates = []
    for _ in range(args.repeats):
        steps = 0
        t0 = time.perf_counter()
        while True:
            step()
            steps += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= args.seconds:
                break
        rates.append(steps / elapsed)

    loss = float(step().detach())
    result = {
        "steps_per_s_median": statistics.median(rates),
        "steps_per_s_all": rates,
        "threads": args.threads,
        "torch": torch.__version__,
        "loss": "composed" if args.composed_loss else "fused",
        "final_loss": loss,
    }

    if args.phases:
        def inference_forward():
            with torch.no_grad():
                model.loss(x, args.composed_loss)

        def forward():
            model.loss(x, args.composed_loss)

        def forward_backward():
            opt.zero_grad(set_to_none=True)
            model.loss(x, args.composed_loss).backward()

        ops = step_matmul_operands()

        def gemm_only():
            for a, b in ops:
                torch.matmul(a, b)

        phases = {"inference_forward": inference_forward, "forward": forward,
                  "forward_backward": forward_backward, "gemm_only": gemm_only}
        result["phases_ms"] = {
            name: 1e3 * time_per_call(fn, args.phase_seconds, 3, 5) for name, fn in phases.items()
        }

    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
