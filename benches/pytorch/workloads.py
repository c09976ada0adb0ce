#!/usr/bin/env python3
"""The PyTorch half of the side-by-side workload benchmark: the reference for benches/workloads.rs.

`cargo xtask bench` runs this script and `cargo bench --bench workloads -- --timed NAME`
alternately (A, B, A, B ...) on the same machine and compares the two JSON lines. Every
workload is the model deepgen builds for it, written in plain PyTorch:

* `mlp_vae`: a training step of the 784-512-256-(2*32) ReLU VAE, batch 128 (vae_step.py's
  model and loss); deepgen-autoencoders models/vae.rs + models/body.rs, `VaeConfig::new()`.
* `iwae_net`: the same recipe with 784-200-200-(2*50) / 50-200-200-784 tanh nets (tanh in
  both nets, encoder heads [mu, ln sigma]), batch 100, one-sample ELBO; `VaeConfig::new()
  .with_hidden([200, 200]).with_activation(Tanh).with_latent_dim(50)`.
* `conv_vae`: a training step of `vae --conv 32,64` (conv_vae_epoch.py's model), batch 128;
  deepgen-nn conv_encoder.rs / conv_decoder.rs.
* `realnvp_2d`: a training step of RealNVP, 8 affine couplings, hidden 64,64, batch 512;
  deepgen-flows tasks/toy.rs, vector_flow.rs, coupling/vector.rs, conditioner/mlp.rs.
* `glow_mnist`: a training step of `glow_mnist`'s default Glow, batch 64; deepgen-flows
  image_flows.rs, multiscale.rs, actnorm.rs, inv_conv.rs, coupling/, conditioner/conv.rs,
  elementwise/affine.rs, squeeze.rs, preprocess.rs, tasks/image.rs; examples/glow_mnist.rs.
* `ddpm_unet`: a training step of `ddpm_mnist`'s U-Net, epsilon loss, batch 64
  (ddpm_mnist.py); deepgen-nn unet.rs, deepgen-diffusion tasks/mnist.rs.
* `ddim_50`: 50 deterministic DDIM steps of that U-Net on 64 images, no autograd;
  deepgen-diffusion scheduler/ddim.rs (`DdimConfig::new(50)`).
* `vmf_sample`: 100 000 von Mises-Fisher draws on S^63, kappa = 10; deepgen-distributions
  vmf.rs, vmf_sampler.rs, sphere.rs.

Protocol (the same as the Rust `--timed` mode): build the model, Adam (lr 1e-3, 5e-4 for
`ddpm_unet`; eps = 1e-5, Burn's `AdamConfig::new()`) and a FIXED input built once; run
`--warmup` iterations (3 for training steps, 1 for `ddim_50` and `vmf_sample`); then
`--repeats` times: whole iterations until at least `--seconds` have passed, rate =
items / elapsed. A training iteration is zero_grad, forward loss, backward, optimizer.step
(no gradient clipping). Threads: `--threads`, default RAYON_NUM_THREADS if set, else the
CPUs this process may run on (what Burn's rayon pool uses). Prints one JSON line:

    {"workload", "impl": "pytorch" (or "pytorch-cuda"), "torch", "device", "threads", "unit",
     "items_per_iter", "per_s_median", "per_s_all", "peak_rss_mib"[, "gpu", "peak_gpu_mib"]}

`--device cuda` puts the models and the fixed inputs on the GPU (torch's default device, numpy
arrays moved explicitly) and ends every timed iteration with torch.cuda.synchronize(), the
counterpart of deepgen's `--backend wgpu` / `--backend cuda`; benches/device/side_by_side.sh
runs the two alternately on a GPU machine.

Fixed inputs (drawn once after torch.manual_seed(0)): the first 128 (100) MNIST training
images binarised once (pixel/255 > U[0, 1)) for the VAEs, with fresh eps every step; 512
points of N(0, 4 I) for RealNVP; the first 64 training images dequantised once ((k + u)/256)
for Glow, whose ActNorms are initialised on them before the warm-up; x0 (the first 64 images
scaled to [-1, 1]), t and noise for the U-Net; 100 000 random unit mean directions for vMF.

Details that follow deepgen rather than the papers (see each class):

* RealNVP (`realnvp_2d`): realnvp_2d.py's `RealNVP` with 8 couplings of hidden 64, 64: since
  2026-12-05 deepgen's split couplings (`couple_split` in coupling/mod.rs) are the same maps
  (1-64-64-2 MLP on the conditioning half, soft-clamped affine map on the other half).
  35 344 parameters.
* Glow (`glow_mnist`): logit(alpha = 0.05) preprocessing with its log-det; per level a squeeze
  and 8 x (ActNorm, LU 1x1 conv, affine coupling with scale exp(3 tanh(s/3))); the channel-
  wise coupling's conditioner reads the first C/2 channels (3x3 C/2->128, ReLU, 1x1 128->128,
  ReLU, 3x3 128->2*(C/2) zero-initialised) and the affine map transforms the last C/2; after
  level 1 the last half of the channels is factored out under a learned prior
  (zero-initialised 3x3 conv kept->2*factored, the same affine map with scale
  exp(5 tanh(s/5))); the latent is put back together (concatenate, unsqueeze) and scored under
  N(0, I). 433 868 parameters.
* DDIM: `DdimConfig::new(50)`'s defaults: Leading spacing (t = 980, 960, ..., 0), eta 0,
  no clipping of x0_hat, alpha_bar = 1 after the last step; x_T ~ N(0, I) drawn each
  iteration (as benches/workloads.rs does).
* vMF: Wood's (1994) sampler for w with deepgen's envelope (b = (m-1)/(2k + sqrt(4k^2 +
  (m-1)^2)), proposals carried as 1 - w and 1 + w, beta draws from two gammas), in float64
  like deepgen's host sampler, vectorised over the pending rows; tangent direction
  uniform on S^{m-2} (normalised normals); Householder reflection with deepgen's sign
  choice (sphere.rs `householder_reflect`).

Usage (PyTorch is installed only for benchmarks, never in CI):
    python benches/pytorch/workloads.py --workload glow_mnist [--threads 2] [--seconds 2]
    python benches/pytorch/workloads.py --workload ddpm_unet --device cuda
    python benches/pytorch/workloads.py --list
    python benches/pytorch/workloads.py --check [--workload NAME]   # 2 iterations, print losses
"""

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conv_vae_epoch  # noqa: E402
import ddpm_mnist  # noqa: E402
import realnvp_2d  # noqa: E402
import vae_step  # noqa: E402

WORKLOADS = ["mlp_vae", "iwae_net", "conv_vae", "realnvp_2d", "glow_mnist", "ddpm_unet",
             "ddim_50", "vmf_sample"]

ADAM_EPS = 1e-5  # Burn's AdamConfig::new()
GLOW_PARAMS = 433_868  # printed by `cargo run --release --example glow_mnist`
UNET_PARAMS = 280_177  # printed by `cargo run --release --example ddpm_mnist`
HALF_LN_2PI = 0.5 * math.log(2.0 * math.pi)
# Where the models and inputs live (`--device`); main() sets it and makes it torch's default
# device, so modules, randn, full, ... land there. Arrays from numpy are moved explicitly.
DEVICE = torch.device("cpu")


# ------------------------------------------------------------------------------- parameter counts
# Counted from deepgen's layouts (weight + bias per Linear / Conv2d), independently of the
# modules below, and asserted equal to the PyTorch models' counts.


def lin(i, o):
    return i * o + o


def conv(i, o, k):
    return i * o * k * k + o


def mlp_params(dims):
    return sum(lin(a, b) for a, b in zip(dims[:-1], dims[1:]))


def vae_params(hidden, latent, d=784):
    return (mlp_params((d, *hidden, 2 * latent))
            + mlp_params((latent, *reversed(hidden), d)))


def conv_vae_params(latent=32):
    return (conv(1, 32, 4) + conv(32, 64, 4) + lin(64 * 7 * 7, 2 * latent)
            + lin(latent, 64 * 7 * 7) + conv(64, 32, 4) + conv(32, 1, 4))


def realnvp_params(layers=8, hidden=(64, 64), d=2):
    # deepgen's VectorCoupling (halves): MLP on the kept half -> hidden... -> 2 parameters per
    # transformed feature (affine); layers alternate which half is kept.
    n = 0
    for i in range(layers):
        kept = d - d // 2 if i % 2 == 1 else d // 2
        n += mlp_params((kept, *hidden, 2 * (d - kept)))
    return n


def glow_params(c=1, levels=2, steps=8, hidden=128):
    """Float parameters of deepgen's Glow (`Module::num_params`; the LU layer's integer
    permutation and signs and ActNorm's bool flag are not float parameters)."""
    n = 0
    for i in range(levels):
        c *= 4
        actnorm = 2 * c
        lu = 2 * c * c + c  # lower, upper (full c x c matrices), log|s|
        kept = c // 2  # channel-wise split: the conditioner reads C/2, transforms C - C/2
        coupling = conv(kept, hidden, 3) + conv(hidden, hidden, 1) + conv(hidden, 2 * (c - kept), 3)
        n += steps * (actnorm + lu + coupling)
        if i + 1 < levels:
            n += conv(c - c // 2, 2 * (c // 2), 3)  # learned split prior
            c -= c // 2
    return n


def count(model):
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------------------------------ VAEs


def mlp_act(dims, act):
    """Linear layers with `act` between them, none after the last (deepgen-nn's Mlp)."""
    layers = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class MlpVae(vae_step.Vae):
    """vae_step.py's VAE (same loss: encoder -> [mu, ln sigma], z = mu + sigma*eps with fresh
    eps, Bernoulli logits, analytic KL) with any widths and hidden activation, used by both
    nets as in deepgen's `BodyConfig` (`activation`: "Activation of the hidden layers (both
    nets)")."""

    def __init__(self, hidden, latent, act, d=784):
        nn.Module.__init__(self)
        self.encoder = mlp_act((d, *hidden, 2 * latent), act)
        self.decoder = mlp_act((latent, *reversed(hidden), d), act)


# ------------------------------------------------------------------------------- RealNVP (toy 2-D)


def affine_all(x, params, bound):
    """deepgen's `couple_all` with the soft-clamped affine map (coupling/mod.rs,
    elementwise/affine.rs): params hold [s | t] parameter-major along axis 1; every element is
    mapped, y = x*exp(b*tanh(s/b)) + t, and the log-det sums all log-scales."""
    c = x.shape[1]
    s, t = params[:, :c], params[:, c:]
    log_scale = torch.tanh(s / bound) * bound
    return x * log_scale.exp() + t, log_scale.flatten(1).sum(1)


# ------------------------------------------------------------------------------------------ Glow


class ActNorm(nn.Module):
    """actnorm.rs: y = (x + b) * exp(s) per channel, ladj = H*W*sum(s); data-dependent
    initialisation b = -mean, s = -ln(std + 1e-6) (population std over batch and pixels)."""

    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.bias = nn.Parameter(torch.zeros(c))
        self.log_scale = nn.Parameter(torch.zeros(c))

    @torch.no_grad()
    def initialize(self, x):
        c = x.shape[1]
        per_channel = x.transpose(0, 1).reshape(c, -1)
        mean = per_channel.mean(1)
        std = (per_channel - mean[:, None]).square().mean(1).sqrt()
        self.bias.copy_(-mean)
        self.log_scale.copy_(-(std + self.eps).log())

    def forward(self, x):
        b, c, h, w = x.shape
        ladj = (self.log_scale.sum() * (h * w)).expand(b)
        return (x + self.bias.view(1, c, 1, 1)) * self.log_scale.view(1, c, 1, 1).exp(), ladj


class InvConv1x1Lu(nn.Module):
    """inv_conv.rs `InvConv1x1Lu`: W = P L (U + diag(sign*exp(log|s|))) from the LU
    factorisation of a random orthogonal matrix (Gram-Schmidt of a normal draw); the full
    c x c `lower` and `upper` matrices are parameters (masked by tril/triu at every call),
    the permutation and signs are fixed; y = W x per pixel (batched matmul over [B, C, H*W]),
    ladj = H*W*sum(log|s|)."""

    def __init__(self, c):
        super().__init__()
        g = torch.randn(c, c, dtype=torch.float64)
        q, r = torch.linalg.qr(g)
        q = q * torch.sign(torch.diagonal(r))[None, :]  # Gram-Schmidt's positive diag(r)
        p, l, u = torch.linalg.lu(q)  # q = p @ l @ u
        d = torch.diagonal(u)
        self.c = c
        self.lower = nn.Parameter(torch.tril(l, -1).float())
        self.upper = nn.Parameter(torch.triu(u, 1).float())
        self.log_s = nn.Parameter(d.abs().log().float())
        self.register_buffer("perm", p.argmax(dim=1))  # row i of q is row perm[i] of l @ u
        self.register_buffer("sign_s", torch.sign(d).to(torch.int64))

    def weight(self):
        eye = torch.eye(self.c)
        lower = self.lower.tril(-1) + eye
        s = self.sign_s.float() * self.log_s.exp()
        upper = self.upper.triu(1) + eye * s[None, :]
        return (lower @ upper).index_select(0, self.perm)

    def forward(self, x):
        b, c, h, w = x.shape
        ladj = (self.log_s.sum() * (h * w)).expand(b)
        return torch.matmul(self.weight(), x.reshape(b, c, h * w)).reshape(b, c, h, w), ladj


class GlowCoupling(nn.Module):
    """coupling/image.rs with the channel-wise split (kept: channels < C/2, transformed: the
    rest; no `reverse` in Glow) and conditioner/conv.rs: 3x3 C/2 -> hidden, ReLU, 1x1 hidden ->
    hidden, ReLU, 3x3 hidden -> 2*(C - C/2) (zero-initialised), on the kept channels; the affine
    map with scale exp(b*tanh(s/b)), b = 3, on the transformed ones (`couple_split`)."""

    def __init__(self, c, hidden=128, bound=3.0):
        super().__init__()
        self.bound = bound
        self.kept = c // 2
        self.conv_in = nn.Conv2d(self.kept, hidden, 3, padding=1)
        self.conv_mid = nn.Conv2d(hidden, hidden, 1)
        self.conv_out = nn.Conv2d(hidden, 2 * (c - self.kept), 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x):
        kept, changed = x[:, : self.kept], x[:, self.kept :]
        h = F.relu(self.conv_in(kept))
        params = self.conv_out(F.relu(self.conv_mid(h)))
        y, ladj = affine_all(changed, params, self.bound)
        return torch.cat([kept, y], 1), ladj


class SplitPrior(nn.Module):
    """multiscale.rs `SplitPrior`: eps = z2*exp(b*tanh(s/b)) + t with [s | t] =
    conv3x3(kept) (zero-initialised), b = 5, through `couple_all`."""

    def __init__(self, kept, factored, bound=5.0):
        super().__init__()
        self.bound = bound
        self.conv = nn.Conv2d(kept, 2 * factored, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, z2, kept):
        return affine_all(z2, self.conv(kept), self.bound)


class Squeeze(nn.Module):
    """squeeze.rs: [B, C, H, W] -> [B, 4C, H/2, W/2], channel c*4 + i*2 + j <- (2h+i, 2w+j)."""

    def forward(self, x):
        b, c, h, w = x.shape
        y = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        return y.reshape(b, c * 4, h // 2, w // 2), None

    @staticmethod
    def unsqueeze(z):
        b, c, h, w = z.shape
        x = z.reshape(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
        return x.reshape(b, c // 4, h * 2, w * 2)


class Logit(nn.Module):
    """preprocess.rs `LogitTransform`: y = logit(a + (1 - 2a)x),
    ladj = sum(ln(1 - 2a) - ln p - ln(1 - p))."""

    def __init__(self, alpha=0.05):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        a = self.alpha
        p = x * (1.0 - 2.0 * a) + a
        log_p = p.log()
        log_1mp = (1.0 - p).log()
        ladj = (math.log(1.0 - 2.0 * a) - (log_p + log_1mp)).flatten(1).sum(1)
        return log_p - log_1mp, ladj


class Glow(nn.Module):
    """deepgen's `GlowConfig::new([1, 28, 28])` as `glow_mnist` builds it by default: 2 levels
    x 8 steps, hidden 128, conv conditioner, LU 1x1 convs, learned split prior, affine
    coupling with SoftClampedExp(3), logit(0.05) preprocessing (image_flows.rs,
    multiscale.rs `MultiScaleFlow`)."""

    def __init__(self, shape=(1, 28, 28), levels=2, steps=8, hidden=128, alpha=0.05,
                 scale_bound=3.0, prior_bound=5.0):
        super().__init__()
        self.shape = shape
        c = shape[0]
        self.levels = nn.ModuleList()
        for i in range(levels):
            last = i + 1 == levels
            mods = [Logit(alpha)] if i == 0 else []
            mods.append(Squeeze())
            c *= 4
            for _ in range(steps):
                mods += [ActNorm(c), InvConv1x1Lu(c), GlowCoupling(c, hidden, scale_bound)]
            level = nn.Module()
            level.steps = nn.ModuleList(mods)
            level.factor_out = not last
            level.prior = SplitPrior(c - c // 2, c // 2, prior_bound) if not last else None
            self.levels.append(level)
            if not last:
                c -= c // 2

    def forward_and_ladj(self, x):
        ladj = x.new_zeros(x.shape[0])
        h, factored = x, []
        for level in self.levels:
            for step in level.steps:
                h, l = step(h)
                if l is not None:
                    ladj = ladj + l
            if level.factor_out:
                c = h.shape[1]
                keep = c - c // 2
                kept, z2 = h[:, :keep], h[:, keep:]
                if level.prior is not None:
                    z2, l = level.prior(z2, kept)
                    ladj = ladj + l
                factored.append(z2)
                h = kept
        for level in reversed(self.levels):  # the latent in the data's shape
            if level.factor_out:
                h = torch.cat([h, factored.pop()], 1)
            for step in reversed(level.steps):
                if isinstance(step, Squeeze):
                    h = Squeeze.unsqueeze(h)
        return h, ladj

    def log_prob(self, x):
        z, ladj = self.forward_and_ladj(x)
        return (z.square() * -0.5 - HALF_LN_2PI).flatten(1).sum(1) + ladj

    def loss(self, x):
        """MnistFlowTask::loss: -ln p(x) + D ln 256 (nats per image of the 8-bit data),
        mean over the batch."""
        d = x[0].numel()
        return (d * math.log(256.0) - self.log_prob(x)).mean()

    @torch.no_grad()
    def initialize_actnorm(self, x):
        """`MultiScaleFlow::initialize_actnorm`: every ActNorm, in order, on its input."""
        h = x
        for level in self.levels:
            for step in level.steps:
                if isinstance(step, ActNorm):
                    step.initialize(h)
                h, _ = step(h)
            if level.factor_out:
                c = h.shape[1]
                h = h[:, :c - c // 2]


def dequantize(pixels_u8):
    """(k + u)/256, u ~ U[0, 1) capped below 1 - f32 eps (preprocess.rs `dequantize`)."""
    k = torch.from_numpy(np.ascontiguousarray(pixels_u8, dtype=np.float32)).to(DEVICE)
    if k.dim() == 3:
        k = k.unsqueeze(1)
    u = torch.rand(k.shape).clamp_max(1.0 - float(np.finfo(np.float32).eps))
    return (k + u) / 256.0


# ------------------------------------------------------------------------------------ DDIM / vMF


def ddim_timesteps(k, t=ddpm_mnist.T):
    """Leading spacing (scheduler/spacing.rs), descending: 980, 960, ..., 0 for k = 50."""
    ratio = t // k
    return sorted((i * ratio for i in range(k)), reverse=True)


@torch.no_grad()
def ddim_no_clip(model, x, alpha_bar, timesteps):
    """`DdimConfig::new(k)` (scheduler/ddim.rs): eta 0, epsilon prediction, no clipping,
    alpha_bar = 1 after the last step."""
    b = x.shape[0]
    for i, t in enumerate(timesteps):
        ab = float(alpha_bar[t])
        ab_prev = float(alpha_bar[timesteps[i + 1]]) if i + 1 < len(timesteps) else 1.0
        eps = model(x, torch.full((b,), float(t)))
        x0 = (x - eps * math.sqrt(1.0 - ab)) / math.sqrt(ab)
        x = x0 * math.sqrt(ab_prev) + eps * math.sqrt(max(1.0 - ab_prev, 0.0))
    return x


class VonMisesFisher:
    """deepgen's `VonMisesFisher::sample` for m >= 4: Wood's cosines (vmf_sampler.rs
    `wood_cosines`), a uniform tangent direction, `tangent_embed_with_sine` and
    `householder_reflect` (sphere.rs)."""

    def __init__(self, loc, kappa, max_rounds=1000):
        self.loc = loc  # [n, m] unit rows, float32
        self.kappa = kappa.double()  # [n]
        self.m = loc.shape[1]
        self.max_rounds = max_rounds

    def cosines(self):
        """(1 - w, 1 + w) for every row: propose w from the envelope for all pending rows,
        accept or reject, repeat for the rejected rows only."""
        n, m1 = self.kappa.shape[0], self.m - 1.0
        k = self.kappa
        b = m1 / (2.0 * k + torch.hypot(2.0 * k, torch.tensor(m1, dtype=torch.float64)))
        x0 = (1.0 - b) / (1.0 + b)
        one_minus_x0 = 2.0 * b / (1.0 + b)
        log_one_minus_x0_sq = torch.log(4.0 * b) - 2.0 * torch.log1p(b)
        one_minus = torch.empty(n, dtype=torch.float64)
        one_plus = torch.empty(n, dtype=torch.float64)
        pending = torch.arange(n)
        for _ in range(self.max_rounds):
            if pending.numel() == 0:
                break
            half = torch.full((pending.numel(),), m1 / 2.0, dtype=torch.float64)
            gx, gy = torch._standard_gamma(half), torch._standard_gamma(half)
            z, zc = gx / (gx + gy), gy / (gx + gy)  # Beta((m-1)/2, (m-1)/2) and 1 - it
            bp = b[pending]
            denom = zc + bp * z
            om, op = 2.0 * bp * z / denom, 2.0 * zc / denom
            u = torch.rand(pending.numel(), dtype=torch.float64).clamp_min(1e-300)
            log_accept = (k[pending] * (one_minus_x0[pending] - om)
                          + m1 * (torch.log(one_minus_x0[pending] + x0[pending] * om)
                                  - log_one_minus_x0_sq[pending]))
            accept = torch.log(u) <= log_accept
            done = pending[accept]
            one_minus[done] = om[accept]
            one_plus[done] = op[accept]
            pending = pending[~accept]
        if pending.numel():
            raise RuntimeError(f"vMF: {pending.numel()} rows still pending after "
                               f"{self.max_rounds} rounds")
        return one_minus, one_plus

    @torch.no_grad()
    def sample(self):
        n, m = self.loc.shape
        one_minus, one_plus = self.cosines()
        w = (0.5 * (one_plus - one_minus)).float()
        sine = (one_minus * one_plus).clamp_min(0.0).sqrt().float()
        v = torch.randn(n, m - 1)
        v = v / v.square().sum(1, keepdim=True).sqrt()  # uniform on S^{m-2}
        x = torch.cat([w[:, None], v * sine[:, None]], 1)  # e1 frame
        # Householder reflection taking e1 to mu (sphere.rs `householder_reflect`).
        s = torch.where(self.loc[:, :1] > 0, -1.0, 1.0)
        u = -self.loc * s
        u[:, 0] += 1.0  # e1 - s*mu
        uu = u.square().sum(1, keepdim=True)
        ux = (u * x).sum(1, keepdim=True)
        return (x - u * (ux * 2.0 / uu)) * s


def vmf_mean_cosine(m, kappa, n=200_001):
    """E[w] = A_m(kappa) by quadrature of e^{k w}(1 - w^2)^{(m-3)/2} (for --check)."""
    w = np.linspace(-1.0, 1.0, n)
    logq = kappa * w + 0.5 * (m - 3) * np.log(np.clip(1.0 - w * w, 1e-300, None))
    q = np.exp(logq - logq.max())
    return float((w * q).sum() / q.sum())


# ------------------------------------------------------------------------------------- workloads


class Workload:
    """One timed unit: `run()` does one iteration and returns something to check."""

    unit = "steps"
    items_per_iter = 1
    default_warmup = 3

    def run(self):
        raise NotImplementedError

    def describe(self, out):
        return {"loss": float(out)}


class TrainStep(Workload):
    """zero_grad, forward loss, backward, Adam step on a fixed batch."""

    def __init__(self, model, loss_fn, lr=1e-3):
        self.model = model
        self.loss_fn = loss_fn
        self.opt = torch.optim.Adam(model.parameters(), lr=lr, eps=ADAM_EPS)

    def run(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn()
        loss.backward()
        self.opt.step()
        return loss.detach()


class Ddim50(Workload):
    unit = "images"
    default_warmup = 1

    def __init__(self, batch=64, k=50):
        self.model = ddpm_mnist.UNet().eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.params = count(self.model)
        self.alpha_bar = ddpm_mnist.linear_schedule()
        self.timesteps = ddim_timesteps(k)
        self.batch = batch
        self.items_per_iter = batch

    def run(self):
        return ddim_no_clip(self.model, torch.randn(self.batch, 1, 28, 28), self.alpha_bar,
                            self.timesteps)

    def describe(self, out):
        return {"finite": bool(torch.isfinite(out).all()), "mean_abs": float(out.abs().mean())}


class VmfSample(Workload):
    unit = "samples"
    default_warmup = 1

    def __init__(self, n=100_000, m=64, kappa=10.0):
        v = torch.randn(n, m)
        loc = v / v.square().sum(1, keepdim=True).sqrt()
        self.dist = VonMisesFisher(loc, torch.full((n,), kappa))
        self.items_per_iter = n
        self.m, self.kappa = m, kappa

    def run(self):
        return self.dist.sample()

    def describe(self, out):
        norm_err = float((out.square().sum(1).sqrt() - 1.0).abs().max())
        mean_w = float((out * self.dist.loc).sum(1).mean())
        return {"max_norm_error": norm_err, "mean_cosine": mean_w,
                "expected_mean_cosine": vmf_mean_cosine(self.m, self.kappa)}


def train_images(data_dir):
    return ddpm_mnist.load_images(data_dir, "train")  # [60000, 28, 28] uint8


def binarised(data_dir, n):
    """The first n training images binarised once: pixel/255 > U[0, 1)."""
    x = torch.from_numpy(train_images(data_dir)[:n].astype(np.float32) / 255.0).to(DEVICE)
    return (x > torch.rand(x.shape)).float()


def build(name, data_dir):
    if name == "mlp_vae":
        model = vae_step.Vae()
        assert count(model) == vae_params((512, 256), 32), count(model)
        x = binarised(data_dir, 128).reshape(128, 784)
        w = TrainStep(model, lambda: model.loss(x, composed=False))
    elif name == "iwae_net":
        model = MlpVae((200, 200), 50, nn.Tanh)
        assert count(model) == vae_params((200, 200), 50), count(model)
        x = binarised(data_dir, 100).reshape(100, 784)
        w = TrainStep(model, lambda: model.loss(x, composed=False))
    elif name == "conv_vae":
        model = conv_vae_epoch.ConvVae()
        assert count(model) == conv_vae_params(), count(model)
        x = binarised(data_dir, 128).reshape(128, 1, 28, 28)
        w = TrainStep(model, lambda: model.loss(x))
    elif name == "realnvp_2d":
        model = realnvp_2d.RealNVP(8, 64)
        assert count(model) == realnvp_params(8, (64, 64)), count(model)
        x = 2.0 * torch.randn(512, 2)  # N(0, 4 I), drawn once
        w = TrainStep(model, lambda: -model.log_prob(x).mean())
    elif name == "glow_mnist":
        model = Glow()
        n = count(model)
        assert n == glow_params() == GLOW_PARAMS, (n, glow_params(), GLOW_PARAMS)
        x = dequantize(train_images(data_dir)[:64])
        model.initialize_actnorm(x)
        w = TrainStep(model, lambda: model.loss(x))
    elif name == "ddpm_unet":
        model = ddpm_mnist.UNet()
        n = count(model)
        assert n == ddpm_mnist.deepgen_param_count() == UNET_PARAMS, n
        x0 = ddpm_mnist.scaled(train_images(data_dir)[:64]).to(DEVICE)
        t = torch.randint(0, ddpm_mnist.T, (64,))
        noise = torch.randn(x0.shape)
        alpha_bar = ddpm_mnist.linear_schedule()
        sqrt_ab = torch.from_numpy(np.sqrt(alpha_bar)).float().to(DEVICE)
        sqrt_1mab = torch.from_numpy(np.sqrt(1.0 - alpha_bar)).float().to(DEVICE)
        w = TrainStep(model, lambda: ddpm_mnist.loss_fn(
            model, x0, t, noise, sqrt_ab, sqrt_1mab).mean(), lr=5e-4)
    elif name == "ddim_50":
        w = Ddim50()
        assert w.params == UNET_PARAMS, w.params
    elif name == "vmf_sample":
        w = VmfSample()
    else:
        raise SystemExit(f"error: unknown workload `{name}`; known: {', '.join(WORKLOADS)}")
    return w


def sync():
    """Wait for the device's queued work: every timed iteration ends with it, as deepgen's
    `--timed` mode ends each with `device.sync()` (a no-op on the CPU)."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def rate_runs(w, seconds, repeats):
    rates = []
    for _ in range(repeats):
        iters = 0
        sync()
        t0 = time.perf_counter()
        while True:
            w.run()
            sync()
            iters += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
        rates.append(iters * w.items_per_iter / elapsed)
    return rates


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def set_device(name):
    """Make `name` ("cpu", "cuda" or "cuda:N") the device of every model and input; raises
    SystemExit with what to do when CUDA is asked for and absent."""
    global DEVICE
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SystemExit(f"error: --device {name}: expected cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise SystemExit(f"error: --device {name}: expected cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"error: --device {name}: this PyTorch ({torch.__version__}) sees no CUDA "
                         "device; install a CUDA build of torch or use --device cpu")
    DEVICE = device
    torch.set_default_device(device)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workload", choices=WORKLOADS)
    p.add_argument("--list", action="store_true", help="print the workload names and exit")
    p.add_argument("--check", action="store_true",
                   help="run --workload (default: every workload) for 2 iterations and print "
                        "the loss (or a summary of the samples); exit 1 if not finite")
    p.add_argument("--threads", type=int, default=vae_step.rayon_threads(),
                   help="torch.set_num_threads (default: Burn's rayon pool size)")
    p.add_argument("--seconds", type=float, default=2.0, help="minimum seconds per repeat")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (median reported)")
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed iterations (default 3 for training steps, 1 for ddim_50 and "
                        "vmf_sample)")
    p.add_argument("--data", default="data/mnist", help="directory of the MNIST IDX files")
    p.add_argument("--device", default="cpu",
                   help="cpu (default), cuda or cuda:N: where the models and inputs live; on "
                        "CUDA every timed iteration ends with torch.cuda.synchronize()")
    a = p.parse_args()
    if a.list:
        print("\n".join(WORKLOADS))
        return 0
    if a.threads < 1 or a.repeats < 1 or a.seconds <= 0 or (a.warmup is not None and a.warmup < 0):
        p.error("--threads and --repeats must be >= 1, --seconds > 0, --warmup >= 0")
    torch.set_num_threads(a.threads)
    set_device(a.device)

    if a.check:
        ok = True
        for name in [a.workload] if a.workload else WORKLOADS:
            torch.manual_seed(0)
            t0 = time.perf_counter()
            w = build(name, a.data)
            outs = [w.describe(w.run()) for _ in range(2)]
            finite = all(math.isfinite(v) for o in outs for v in o.values()
                         if isinstance(v, float)) and all(o.get("finite", True) for o in outs)
            ok &= finite
            print(json.dumps({"workload": name, "iterations": outs, "finite": finite,
                              "seconds": round(time.perf_counter() - t0, 2)}), flush=True)
        return 0 if ok else 1

    if a.workload is None:
        p.error("--workload is required (or --list / --check)")
    torch.manual_seed(0)
    w = build(a.workload, a.data)
    for _ in range(w.default_warmup if a.warmup is None else a.warmup):
        w.run()
    rates = rate_runs(w, a.seconds, a.repeats)
    line = {
        "workload": a.workload, "impl": "pytorch" if DEVICE.type == "cpu" else "pytorch-cuda",
        "torch": torch.__version__, "device": str(DEVICE),
        "threads": a.threads, "unit": w.unit, "items_per_iter": w.items_per_iter,
        "per_s_median": statistics.median(rates), "per_s_all": rates,
        "peak_rss_mib": peak_rss_mib(),
    }
    if DEVICE.type == "cuda":
        line["gpu"] = torch.cuda.get_device_name(DEVICE)
        line["peak_gpu_mib"] = torch.cuda.max_memory_allocated(DEVICE) / 2**20
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
