"""RealNVP on a 2-D toy density in plain PyTorch: the reference for `flows_2d --flow realnvp`.

The same model and recipe as deepgen's default `flows_2d --flow realnvp` (crates/deepgen-flows,
`ToyFlowConfig::new(RealNvp)` and `tasks/toy.rs`):
- 16 affine couplings on halves (x0 | x1), alternating which half is transformed;
- conditioner MLP 1 -> 128 -> 128 -> 2 with ReLU, last layer zero-initialised;
- scale exp(3·tanh(s/3)) (RealNVP's exp with deepgen's soft clamp), shift t;
- standard-normal base; Adam (PyTorch defaults), cosine decay of the learning rate from
  1e-3 to 1e-5 over all steps, no warm-up; batches of 512 fresh draws of the density;
- test NLL on 20 000 held-out draws against the density's exact NLL.

Densities: `checkerboard` (uniform on the 8 black squares of side 2 on [-4, 4)^2, exact
NLL ln 32) and `8gaussians` (radius 2*sqrt(2), sigma sqrt(2)/4 per coordinate).

Usage (PyTorch is installed only for benchmarks, never in CI):
    python benches/pytorch/realnvp_2d.py --density checkerboard --steps 5000 --threads 2
Prints one JSON line: density, steps, wall_s (training only), test_nll, true_nll, nll_gap.
"""

import argparse
import json
import math
import time

import numpy as np
import torch
from torch import nn

SQRT2 = math.sqrt(2.0)
RADIUS = 2.0 * SQRT2
SIGMA = SQRT2 / 4.0


def sample(density, n, rng):
    if density == "checkerboard":
        i = rng.integers(0, 4, n) - 2
        j = np.mod(i, 2) - 2 + 2 * rng.integers(0, 2, n)
        return np.stack([2.0 * (i + rng.random(n)), 2.0 * (j + rng.random(n))], axis=1)
    if density == "8gaussians":
        k = rng.integers(0, 8, n)
        centres = RADIUS * np.stack([np.cos(k * math.pi / 4), np.sin(k * math.pi / 4)], axis=1)
        return centres + SIGMA * rng.standard_normal((n, 2))
    raise SystemExit(f"error: unknown density `{density}` (checkerboard, 8gaussians)")


def true_nll(density, x):
    if density == "checkerboard":
        i = np.floor(x[:, 0] / 2.0)
        j = np.floor(x[:, 1] / 2.0)
        black = (np.mod(i + j, 2) == 0) & (np.abs(x) < 4.0).all(axis=1)
        assert black.all()
        return math.log(32.0)
    k = np.arange(8)
    centres = RADIUS * np.stack([np.cos(k * math.pi / 4), np.sin(k * math.pi / 4)], axis=1)
    d2 = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    a = -d2 / (2 * SIGMA**2)
    m = a.max(1, keepdims=True)
    lse = (m + np.log(np.exp(a - m).sum(1, keepdims=True)))[:, 0]
    logp = lse - math.log(8.0) - math.log(2 * math.pi * SIGMA**2)
    return float(-logp.mean())


class Coupling(nn.Module):
    def __init__(self, reverse, hidden=128):
        super().__init__()
        self.reverse = reverse
        self.net = nn.Sequential(
            nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2)
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x):  # data -> latent, returns (z, ln|det J|)
        a, b = (x[:, 1:], x[:, :1]) if self.reverse else (x[:, :1], x[:, 1:])
        s, t = self.net(a).chunk(2, dim=1)
        log_scale = 3.0 * torch.tanh(s / 3.0)
        b = b * torch.exp(log_scale) + t
        out = torch.cat([b, a], 1) if self.reverse else torch.cat([a, b], 1)
        return out, log_scale.sum(1)


class RealNVP(nn.Module):
    def __init__(self, n=16, hidden=128):
        super().__init__()
        self.layers = nn.ModuleList([Coupling(i % 2 == 1, hidden) for i in range(n)])

    def log_prob(self, x):
        ladj = torch.zeros(x.shape[0])
        for layer in self.layers:
            x, l = layer(x)
            ladj = ladj + l
        return -0.5 * (x**2).sum(1) - math.log(2 * math.pi) + ladj


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--density", default="checkerboard")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--layers", type=int, default=16)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--test-points", type=int, default=20000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--adam-eps", type=float, default=1e-8,
                   help="Adam's epsilon (PyTorch's default 1e-8; Burn's and deepgen's 1e-5)")
    p.add_argument("--flush-denormal", action="store_true",
                   help="torch.set_flush_denormal(True), as deepgen's examples do (FTZ/DAZ)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.flush_denormal:
        torch.set_flush_denormal(True)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    test = sample(a.density, a.test_points, np.random.default_rng(a.seed + 1))
    model = RealNVP(a.layers, a.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, eps=a.adam_eps)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.steps, eta_min=a.lr * 0.01)
    start = time.perf_counter()
    for _ in range(a.steps):
        x = torch.from_numpy(sample(a.density, a.batch_size, rng)).float()
        loss = -model.log_prob(x).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    wall = time.perf_counter() - start
    with torch.no_grad():
        nll = float(-model.log_prob(torch.from_numpy(test).float()).mean())
    tn = true_nll(a.density, test)
    print(json.dumps({"density": a.density, "steps": a.steps, "wall_s": round(wall, 2),
                      "test_nll": nll, "true_nll": tn, "nll_gap": nll - tn,
                      "threads": a.threads, "flush_denormal": a.flush_denormal,
                      "adam_eps": a.adam_eps,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
