"""DDPM on MNIST in plain PyTorch: the reference for deepgen's `examples/ddpm_mnist.rs` (defaults).

Trains the same model with the same recipe as `cargo run --release --example ddpm_mnist` with
its default flags, for a wall-clock budget (`--seconds`) or a number of steps (`--steps`),
then samples from the EMA weights with deterministic DDIM and writes `.npy` files in the
layout deepgen's evaluator scores (`samples_<sampler>.npy`, `[N, 1, 28, 28]` f32 in [0, 1]).

Where every detail comes from (crates/deepgen-nn/src, crates/deepgen-diffusion/src,
crates/deepgen-train/src, burn-nn / burn-optim 0.22.1):

Model (`DdpmMnistArgs::model_config` in deepgen-diffusion/src/tasks/mnist.rs; `unet.rs`):
- U-Net, base 16, channel mults 1,2,2 (28 -> 14 -> 7), 1 residual block per level on the way
  down and 2 on the way up, attention after the residual blocks of the 7x7 level
  (`--attention 7`) and in the middle (ResBlock -> attention -> ResBlock), 1 head, dropout 0,
  GroupNorm groups min(32, base) = 16 everywhere (`group_norm.rs`, eps 1e-5, affine),
  stem conv3x3 1 -> 16, head GroupNorm -> SiLU -> conv3x3 16 -> 1. Skip stack as `unet.rs`:
  stem, each block's output, each downsample's output; each up block concatenates
  [h, skip] on channels.
- `time_embedding.rs`: sinusoidal features of the float timestep t in [0, T) with dim = base
  = 16, half = 8, freq_i = exp(-ln(10000) i / (half - 1)), [sin..., cos...] (sines first);
  then Linear(16 -> 64) -> SiLU -> Linear(64 -> 64), no final activation.
- `res_block.rs`: h = conv3x3(SiLU(GN(x))); h += Linear(SiLU(emb))[:, :, None, None];
  h = conv3x3(Dropout(SiLU(GN(h)))); out = skip(x) + h, skip a 1x1 conv when channels change.
- `self_attention2d.rs`: GN -> q, k, v Linear(C, C) over the H*W tokens -> softmax(q k^T/sqrt(d))
  v -> Linear(C, C) output -> residual add.
- `downsample.rs`: conv3x3 stride 2 padding 1 (ceil halving: 28 -> 14 -> 7);
  `upsample.rs`: nearest resize to the skip's exact size (`forward_to`), then conv3x3.
- zero_init (UNetConfig default true): the second conv of every ResBlock, the attention
  output projections and the head conv start at zero (weights and biases).
- Every other Conv2d / Linear uses Burn's default KaimingUniform{gain = 1/sqrt(3)} on fan_in
  for weight and bias (burn-nn conv2d.rs / linear.rs / initializer.rs): bound
  sqrt(3) * gain / sqrt(fan_in) = 1/sqrt(fan_in), exactly PyTorch's default init
  (kaiming_uniform_(a=sqrt(5)) for weights, U(+-1/sqrt(fan_in)) for biases), so PyTorch's
  defaults are kept. GroupNorm: weight 1, bias 0 (both defaults).
- Parameter count: 280 177, computed independently of the modules below by
  `deepgen_param_count` from the Rust layout and asserted equal to the PyTorch model's.

Diffusion (`schedule.rs`, `target.rs`, `model.rs`, tasks/mnist.rs):
- linear beta schedule, T = 1000, betas = linspace(1e-4, 0.02, 1000) in f64,
  alpha_bar = cumprod(1 - beta) in f64, uploaded as f32; 0-based t ~ U{0, ..., 999};
  x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps; epsilon prediction; uniform weighting:
  loss = mean over the batch of the per-image mean of (eps_hat - eps)^2.
- pixels k in {0..255} -> x0 = 2k/255 - 1 (`scaled_images`), no dequantisation.

Training (`run` in tasks/mnist.rs, deepgen-train trainer.rs, schedule.rs, grad.rs, ema.rs):
- batch 64; an epoch visits the first 15 000 images (`--train-images`) of a fresh seeded
  permutation of the 60 000 training images, in 234 full batches (partial batch dropped).
- Adam: Burn's AdamConfig::new() = beta1 0.9, beta2 0.999, eps 1e-5 (eps added to
  sqrt(v_hat), as PyTorch), no weight decay.
- LR: Schedule::LinearWarmup{0 -> 5e-4, 200 steps} evaluated at the 0-based step index
  before the step: lr = 5e-4 * step/200 for step < 200 (so the very first step has lr 0,
  still updating Adam's moments), then 5e-4 constant (no decay).
- gradients scaled by min(1, 1/||g||) over all parameters (GradTransforms::with_global_norm,
  no epsilon, unlike torch's clip_grad_norm_).
- EMA every optimizer step, shadow initialised to the initial weights:
  shadow <- shadow - (1 - d)(shadow - param), d = min(0.999, (1 + n)/(10 + n)), n = updates
  done so far (TF num_updates warm-up, Ema::new's default).

Sampling (`ddim` in tasks/mnist.rs, scheduler/ddim.rs, scheduler/spacing.rs):
- DDIM eta = 0, Leading spacing (t_i = i * (1000 // k), descending: 900, 800, ..., 0 for
  k = 10), steps_offset 0, set_alpha_to_one (the last step goes to alpha_bar = 1, i.e. returns
  x0_hat), prediction eps, x0_hat clipped to [-1, 1] and eps_hat recomputed from the clipped
  x0_hat; x_prev = sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev) eps_hat. Chunks of 250, EMA
  weights, every sampler starts from the same x_T (fixed seed). Output (x + 1)/2 clamped to
  [0, 1], non-finite values -> 0 (collect_samples).
- test loss (optional, on by default): the training loss of the EMA model on the first 1000
  test images with a fixed t and noise per image (deepgen's `test_loss`; the same protocol
  but not the same random numbers).

Not matched: the random numbers themselves (deepgen's HostRng streams for permutations,
timesteps, noise and x_T), so runs agree in distribution, not bit for bit. deepgen's per-epoch
evaluation (test loss, bits/dim bound, sample grid) and checkpoints are not run here; the
time budget counts the training loop only (data indexing, forward, backward, clip, Adam, EMA).

Usage (PyTorch is installed only for benchmarks, never in CI):
    python benches/pytorch/ddpm_mnist.py --seconds 1800 --threads 2 --out runs/ddpm_mnist_torch
    python benches/pytorch/ddpm_mnist.py --steps 1872 --ddim-steps 10,50 --samples 1000
With both --seconds and --steps, training stops at whichever is reached first; with neither,
1872 steps (deepgen's default 8 epochs of 234 steps). Prints progress every --log-every steps, then one JSON line (also written to
<out>/result.json); samples go to <out>/samples_ddim_<k>.npy. The JSON line's `images_per_s`
is the training throughput and `peak_rss_mib` the peak resident set at the end of training.
For a training-speed run only: `--steps N --samples 0 --test-images 0` (no sampling, no test
loss).

Cross-checks against deepgen (docs/diffusion.md, "Where the 6.5 k-step gap comes from"):
`--load-params <ddpm_mnist out>/params --steps 0` samples and tests deepgen's trained EMA
weights with this script's sampler; `--init-params DIR` starts training from deepgen's initial
weights; `--batches-from FIFO` trains on deepgen's exact batches (x0, t, noise), streamed by
`cargo test --release --test diffusion replay:: -- --ignored` (see that test for the
environment variables); `--loss-by-t` adds the test loss per timestep range; `--save-ema`
writes the EMA weights.
"""

import argparse
import copy
import gzip
import json
import math
import os
import resource
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

T = 1000
BETA_START, BETA_END = 1e-4, 0.02
EMA_DECAY = 0.999


# ----------------------------------------------------------------------------------------- data


def read_idx(path):
    """An IDX file (gzip-compressed when it ends in .gz) as a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_images(data_dir, split):
    name = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}[split]
    for path in (os.path.join(data_dir, name + ".gz"), os.path.join(data_dir, name)):
        if os.path.exists(path):
            return read_idx(path)
    raise SystemExit(f"error: no {name}[.gz] in {data_dir}")


def scaled(images_u8):
    """u8 pixels k -> 2k/255 - 1 in [-1, 1], [B, 1, 28, 28] float32."""
    x = torch.from_numpy(images_u8.astype(np.float32))
    return (x * (2.0 / 255.0) - 1.0).unsqueeze(1)


# ---------------------------------------------------------------------------------------- model


def timestep_embedding(t, dim):
    half = dim // 2
    step = math.log(10000.0) / (half - 1)
    freqs = torch.tensor([math.exp(-step * i) for i in range(half)], dtype=torch.float32)
    args = t.float()[:, None] * freqs[None, :]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1))
    return emb


def zero_(module):
    nn.init.zeros_(module.weight)
    nn.init.zeros_(module.bias)
    return module


def conv3x3(c_in, c_out, zero=False):
    conv = nn.Conv2d(c_in, c_out, 3, padding=1)
    return zero_(conv) if zero else conv


class TimeEmbedding(nn.Module):
    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.input_dim = input_dim
        self.linear1 = nn.Linear(input_dim, output_dim)
        self.linear2 = nn.Linear(output_dim, output_dim)

    def forward(self, t):
        return self.linear2(F.silu(self.linear1(timestep_embedding(t, self.input_dim))))


class ResBlock(nn.Module):
    def __init__(self, ci, co, context_dim, groups, dropout):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, ci), ci, eps=1e-5)
        self.conv1 = conv3x3(ci, co)
        self.context_proj = nn.Linear(context_dim, co)
        self.norm2 = nn.GroupNorm(min(groups, co), co, eps=1e-5)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = conv3x3(co, co, zero=True)
        self.skip = nn.Conv2d(ci, co, 1) if ci != co else None

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.context_proj(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return (self.skip(x) if self.skip is not None else x) + h


class SelfAttention2d(nn.Module):
    def __init__(self, c, groups, heads=1):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(min(groups, c), c, eps=1e-5)
        self.query = nn.Linear(c, c)
        self.key = nn.Linear(c, c)
        self.value = nn.Linear(c, c)
        self.output = zero_(nn.Linear(c, c))

    def forward(self, x):
        b, c, h, w = x.shape
        n, heads = h * w, self.heads
        d = c // heads
        tokens = self.norm(x).reshape(b, c, n).transpose(1, 2)  # [B, N, C]

        def split(t):
            return t.reshape(b, n, heads, d).transpose(1, 2)  # [B, heads, N, d]

        q, k, v = split(self.query(tokens)), split(self.key(tokens)), split(self.value(tokens))
        a = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(d), dim=3) @ v
        a = a.transpose(1, 2).reshape(b, n, c)
        return x + self.output(a).transpose(1, 2).reshape(b, c, h, w)


class Block(nn.Module):
    def __init__(self, ci, co, temb, groups, dropout, attention):
        super().__init__()
        self.res = ResBlock(ci, co, temb, groups, dropout)
        self.attention = SelfAttention2d(co, groups) if attention else None

    def forward(self, x, emb):
        h = self.res(x, emb)
        return self.attention(h) if self.attention is not None else h


class UNet(nn.Module):
    """deepgen-nn's UNet (unet.rs) for one-channel images, epsilon output."""

    def __init__(self, base=16, mults=(1, 2, 2), res_blocks=1, attention=(7,), image_size=28,
                 groups=32, dropout=0.0):
        super().__init__()
        g = min(groups, base)
        temb = 4 * base
        sizes = [image_size]
        for _ in range(1, len(mults)):
            sizes.append((sizes[-1] + 1) // 2)
        self.time_embedding = TimeEmbedding(base, temb)
        self.stem = conv3x3(1, base)
        skips = [base]
        c = base
        self.down = nn.ModuleList()
        for i, m in enumerate(mults):
            level = nn.Module()
            level.blocks = nn.ModuleList()
            for _ in range(res_blocks):
                level.blocks.append(Block(c, base * m, temb, g, dropout, sizes[i] in attention))
                c = base * m
                skips.append(c)
            if i + 1 < len(mults):
                level.downsample = nn.Conv2d(c, c, 3, stride=2, padding=1)
                skips.append(c)
            else:
                level.downsample = None
            self.down.append(level)
        self.mid_res1 = ResBlock(c, c, temb, g, dropout)
        self.mid_attention = SelfAttention2d(c, g)
        self.mid_res2 = ResBlock(c, c, temb, g, dropout)
        self.up = nn.ModuleList()
        for i in reversed(range(len(mults))):
            level = nn.Module()
            level.blocks = nn.ModuleList()
            for _ in range(res_blocks + 1):
                skip = skips.pop()
                level.blocks.append(
                    Block(c + skip, base * mults[i], temb, g, dropout, sizes[i] in attention))
                c = base * mults[i]
            level.upsample = conv3x3(c, c) if i > 0 else None
            self.up.append(level)
        assert not skips
        self.head_norm = nn.GroupNorm(g, c, eps=1e-5)
        self.head_conv = conv3x3(c, 1, zero=True)

    def forward(self, x, t):
        emb = self.time_embedding(t)
        h = self.stem(x)
        skips = [h]
        for level in self.down:
            for block in level.blocks:
                h = block(h, emb)
                skips.append(h)
            if level.downsample is not None:
                h = level.downsample(h)
                skips.append(h)
        h = self.mid_res2(self.mid_attention(self.mid_res1(h, emb)), emb)
        for level in self.up:
            for block in level.blocks:
                h = block(torch.cat([h, skips.pop()], dim=1), emb)
            if level.upsample is not None:
                size = skips[-1].shape[2:]
                if tuple(h.shape[2:]) != tuple(size):
                    h = F.interpolate(h, size=tuple(size), mode="nearest")
                h = level.upsample(h)
        return self.head_conv(F.silu(self.head_norm(h)))


def deepgen_param_count(base=16, mults=(1, 2, 2), res_blocks=1, attention=(7,), image_size=28):
    """Parameters of deepgen's UNet, counted from the Rust layout (not from the modules above):
    Conv2d / Linear have weight + bias, GroupNorm gamma + beta."""
    temb = 4 * base
    conv = lambda ci, co, k: ci * co * k * k + co  # noqa: E731
    lin = lambda ci, co: ci * co + co  # noqa: E731

    def res(ci, co):
        return (2 * ci + conv(ci, co, 3) + lin(temb, co) + 2 * co + conv(co, co, 3)
                + (conv(ci, co, 1) if ci != co else 0))

    def attn(c):
        return 2 * c + 4 * lin(c, c)

    sizes = [image_size]
    for _ in range(1, len(mults)):
        sizes.append((sizes[-1] + 1) // 2)
    n = lin(base, temb) + lin(temb, temb) + conv(1, base, 3)
    skips, c = [base], base
    for i, m in enumerate(mults):
        for _ in range(res_blocks):
            n += res(c, base * m) + (attn(base * m) if sizes[i] in attention else 0)
            c = base * m
            skips.append(c)
        if i + 1 < len(mults):
            n += conv(c, c, 3)
            skips.append(c)
    n += 2 * res(c, c) + attn(c)
    for i in reversed(range(len(mults))):
        for _ in range(res_blocks + 1):
            co = base * mults[i]
            n += res(c + skips.pop(), co) + (attn(co) if sizes[i] in attention else 0)
            c = co
        if i > 0:
            n += conv(c, c, 3)
    return n + 2 * c + conv(c, 1, 3)


# ------------------------------------------------------------------------------------ diffusion


def linear_schedule():
    betas = np.linspace(BETA_START * 1000.0 / T, BETA_END * 1000.0 / T, T, dtype=np.float64)
    return np.cumprod(1.0 - betas)  # alpha_bar, f64


def ddim_sample(model, x, alpha_bar, k):
    """Deterministic DDIM (eta = 0), Leading spacing, x0_hat clipped to [-1, 1],
    alpha_bar = 1 after the last step (scheduler/ddim.rs with tasks/mnist.rs's `ddim`)."""
    ratio = T // k
    timesteps = sorted((i * ratio for i in range(k)), reverse=True)
    b = x.shape[0]
    for i, t in enumerate(timesteps):
        ab = float(alpha_bar[t])
        ab_prev = float(alpha_bar[timesteps[i + 1]]) if i + 1 < len(timesteps) else 1.0
        eps = model(x, torch.full((b,), float(t)))
        x0 = ((x - eps * math.sqrt(1.0 - ab)) / math.sqrt(ab)).clamp(-1.0, 1.0)
        eps = (x - x0 * math.sqrt(ab)) / math.sqrt(1.0 - ab)
        x = x0 * math.sqrt(ab_prev) + eps * math.sqrt(max(1.0 - ab_prev, 0.0))
    return x


def loss_fn(model, x0, t, noise, sqrt_ab, sqrt_1mab):
    x_t = sqrt_ab[t][:, None, None, None] * x0 + sqrt_1mab[t][:, None, None, None] * noise
    out = model(x_t, t.float())
    return (out - noise).square().reshape(x0.shape[0], -1).mean(1)  # per image


# ------------------------------------------------------------------------ deepgen cross-checks


def torch_name(name):
    """deepgen's parameter path (deepgen_train::export_npy, `params.json`) -> this UNet's."""
    n = name[len("unet."):] if name.startswith("unet.") else name
    for a, b in (("middle.res1", "mid_res1"), ("middle.res2", "mid_res2"),
                 ("middle.attention", "mid_attention"), ("downsample.conv", "downsample"),
                 ("upsample.conv", "upsample"), (".gamma", ".weight"), (".beta", ".bias")):
        n = n.replace(a, b)
    return n


def load_deepgen_params(model, directory):
    """Loads a directory written by deepgen_train::export_npy (`params.json` + one .npy per
    parameter, e.g. ddpm_mnist's `<out>/params`) into `model`. Burn's Linear stores its weight
    [in, out]: transposed here. Every parameter must be matched, both ways."""
    with open(os.path.join(directory, "params.json")) as f:
        index = json.load(f)
    state = model.state_dict()
    seen = set()
    for entry in index:
        value = torch.from_numpy(np.load(os.path.join(directory, entry["file"])))
        name = torch_name(entry["name"])
        if name not in state:
            raise SystemExit(f"error: deepgen parameter {entry['name']} has no counterpart {name}")
        if value.dim() == 2:
            value = value.t()
        if tuple(state[name].shape) != tuple(value.shape):
            raise SystemExit(f"error: {name}: shape {tuple(value.shape)}, expected "
                             f"{tuple(state[name].shape)}")
        state[name] = value
        seen.add(name)
    missing = sorted(set(state) - seen)
    if missing:
        raise SystemExit(f"error: {directory} lacks {missing}")
    model.load_state_dict(state)
    return model


class BatchStream:
    """Training batches read from a file or FIFO in deepgen's order (the ignored test
    `replay::stream_training_batches` of crates/deepgen-diffusion writes them): per step,
    x0 [B, 1, 28, 28] f32, noise [B, 1, 28, 28] f32, t [B] i64, little-endian. Replaces this
    script's own permutation, timesteps and noise, so both frameworks see the same data."""

    def __init__(self, path, batch_size):
        self.file = open(path, "rb")
        self.b = batch_size

    def next(self):
        nb = self.b * 784 * 4
        want = 2 * nb + self.b * 8
        buf = self.file.read(want)
        if len(buf) != want:
            raise SystemExit(f"error: the batch stream ended ({len(buf)} of {want} bytes)")
        x0 = torch.frombuffer(bytearray(buf[:nb]), dtype=torch.float32)
        noise = torch.frombuffer(bytearray(buf[nb:2 * nb]), dtype=torch.float32)
        t = torch.frombuffer(bytearray(buf[2 * nb:]), dtype=torch.int64)
        shape = (self.b, 1, 28, 28)
        return x0.reshape(shape), noise.reshape(shape), t.clone()


def loss_by_t(model, test_u8, sqrt_ab, sqrt_1mab, seed, n=1000, batch=250):
    """The EMA test loss on the first n test images with t drawn uniformly inside each of
    fixed ranges (seeded, so two models see the same t and noise): where the models differ."""
    ranges = [(0, 10), (10, 100), (100, 200), (200, 400), (400, 600), (600, 800), (800, 900),
              (900, 1000)]
    x_all = scaled(test_u8[:n])
    out = {}
    with torch.no_grad():
        for lo, hi in ranges:
            g = torch.Generator().manual_seed(seed + 3)
            total = 0.0
            for s in range(0, n, batch):
                x0 = x_all[s:s + batch]
                t = torch.randint(lo, hi, (x0.shape[0],), generator=g)
                noise = torch.randn(x0.shape, generator=g)
                total += float(loss_fn(model, x0, t, noise, sqrt_ab, sqrt_1mab).double().sum())
            out[f"{lo}-{hi}"] = total / n
    return out


# ----------------------------------------------------------------------------------------- main


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=None,
                   help="train until this many seconds of training wall time (step boundary)")
    p.add_argument("--steps", type=int, default=None,
                   help="train this many optimizer steps (default 1872 = deepgen's 8 epochs "
                        "when --seconds is not given either)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--data", default="data/mnist", help="directory of the MNIST IDX files")
    p.add_argument("--out", default="runs/ddpm_mnist_torch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--train-images", type=int, default=15000, help="images per epoch")
    p.add_argument("--lr-peak", type=float, default=5e-4)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--ddim-steps", default="10,50", help="DDIM step counts, comma-separated")
    p.add_argument("--samples", type=int, default=1000, help="samples per sampler")
    p.add_argument("--eval-batch", type=int, default=250)
    p.add_argument("--test-images", type=int, default=1000,
                   help="test images of the EMA test loss (0 skips it)")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--init-params", default=None,
                   help="start from deepgen's weights: a directory of deepgen_train::export_npy")
    p.add_argument("--load-params", default=None,
                   help="deepgen's trained (EMA) weights, e.g. ddpm_mnist's <out>/params: loaded "
                        "into the EMA model after training (use with --steps 0 to only sample "
                        "and test deepgen's model here)")
    p.add_argument("--batches-from", default=None,
                   help="read the training batches from this file/FIFO in deepgen's order "
                        "(see BatchStream) instead of drawing them here")
    p.add_argument("--loss-by-t", action="store_true",
                   help="also report the EMA test loss per timestep range (loss_by_t)")
    p.add_argument("--save-ema", action="store_true", help="write <out>/ema.pt (state_dict)")
    a = p.parse_args()
    if a.seconds is None and a.steps is None:
        a.steps = 1872
    ddim_steps = [int(s) for s in a.ddim_steps.split(",") if s.strip()]
    for k in ddim_steps:
        if not 1 <= k <= T:
            raise SystemExit(f"error: --ddim-steps entries must be in 1..={T}, got {k}")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)

    train_u8 = load_images(a.data, "train")
    test_u8 = load_images(a.data, "test")
    train = scaled(train_u8)  # [60000, 1, 28, 28]

    model = UNet()
    params = sum(p.numel() for p in model.parameters())
    expected = deepgen_param_count()
    print(f"parameters: {params} (deepgen's UNet from the Rust layout: {expected})", flush=True)
    assert params == expected, (params, expected)
    if a.init_params:
        load_deepgen_params(model, a.init_params)
        print(f"initial weights from {a.init_params}", flush=True)
    ema = copy.deepcopy(model)
    for q in ema.parameters():
        q.requires_grad_(False)
    model_params = list(model.parameters())
    ema_params = list(ema.parameters())

    opt = torch.optim.Adam(model_params, lr=0.0, betas=(0.9, 0.999), eps=1e-5, weight_decay=0.0)
    alpha_bar = linear_schedule()
    sqrt_ab = torch.from_numpy(np.sqrt(alpha_bar)).float()
    sqrt_1mab = torch.from_numpy(np.sqrt(1.0 - alpha_bar)).float()

    n_train = train.shape[0]
    per_epoch = min(a.train_images, n_train) // a.batch_size
    gen = torch.Generator().manual_seed(a.seed)
    print(f"{per_epoch} batches of {a.batch_size} per epoch, "
          f"budget {'%d steps' % a.steps if a.steps is not None else '%.0f s' % a.seconds}",
          flush=True)

    stream = BatchStream(a.batches_from, a.batch_size) if a.batches_from else None
    model.train()
    step, losses, window = 0, [], []
    last_loss = float("nan")
    start = time.perf_counter()
    last_log_t, last_log_step = start, 0
    done = False
    epoch = 0
    if a.steps == 0:
        done = True
    while not done:
        perm = np.random.default_rng([a.seed, epoch]).permutation(n_train)
        for index in range(per_epoch):
            if stream is not None:
                x0, noise, t = stream.next()
            else:
                idx = torch.from_numpy(perm[index * a.batch_size:(index + 1) * a.batch_size])
                x0 = train[idx]
                t = torch.randint(0, T, (x0.shape[0],), generator=gen)
                noise = torch.randn(x0.shape, generator=gen)
            loss = loss_fn(model, x0, t, noise, sqrt_ab, sqrt_1mab).mean()
            last_loss = loss.item()
            if not math.isfinite(last_loss):
                raise SystemExit(f"error: non-finite loss {last_loss} at step {step}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grads = [q.grad for q in model_params]
            norm = float(torch.stack(torch._foreach_norm(grads)).double().square().sum().sqrt())
            if math.isfinite(norm) and norm > 1.0:
                torch._foreach_mul_(grads, 1.0 / norm)
            lr = a.lr_peak * step / a.warmup if step < a.warmup else a.lr_peak
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()
            d = min(EMA_DECAY, (1.0 + step) / (10.0 + step))  # step = EMA updates so far
            with torch.no_grad():
                torch._foreach_lerp_(ema_params, model_params, 1.0 - d)
            step += 1
            window.append(last_loss)
            now = time.perf_counter()
            if step % a.log_every == 0:
                ips = (step - last_log_step) * a.batch_size / (now - last_log_t)
                mean = sum(window) / len(window)
                losses.append(mean)
                print(f"step {step:6d}  epoch {epoch + index / per_epoch:6.2f}  loss {mean:.4f}  "
                      f"{ips:6.1f} img/s  ({now - start:7.1f} s)", flush=True)
                window, last_log_t, last_log_step = [], now, step
            if (a.steps is not None and step >= a.steps) or (
                    a.seconds is not None and now - start >= a.seconds):
                done = True
                break
        epoch += 1
    train_s = time.perf_counter() - start
    if window:
        losses.append(sum(window) / len(window))
    images_per_s = step * a.batch_size / train_s
    print(f"trained {step} steps ({step / per_epoch:.2f} epochs) in {train_s:.1f} s: "
          f"{images_per_s:.1f} img/s", flush=True)

    if a.load_params:
        load_deepgen_params(ema, a.load_params)
        print(f"sampling and testing deepgen's weights from {a.load_params}", flush=True)
    ema.eval()
    if a.save_ema:
        torch.save(ema.state_dict(), os.path.join(a.out, "ema.pt"))
    result = {
        "model": "ddpm_mnist", "framework": "pytorch", "torch": torch.__version__,
        "threads": a.threads, "parameters": params, "seed": a.seed,
        "train_s": round(train_s, 3), "steps": step, "epochs": round(step / per_epoch, 4),
        "images_per_s": round(images_per_s, 3), "final_loss": losses[-1] if losses else None,
        "last_step_loss": last_loss,
        # the process's peak resident set up to the end of training (before test loss/sampling)
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }

    if a.test_images > 0:
        t0 = time.perf_counter()
        n = min(a.test_images, test_u8.shape[0])
        g = torch.Generator().manual_seed(a.seed + 1)
        total = 0.0
        with torch.no_grad():
            for s in range(0, n, a.eval_batch):
                x0 = scaled(test_u8[s:min(s + a.eval_batch, n)])
                t = torch.randint(0, T, (x0.shape[0],), generator=g)
                noise = torch.randn(x0.shape, generator=g)
                total += float(loss_fn(ema, x0, t, noise, sqrt_ab, sqrt_1mab).double().sum())
        result["test_loss"] = total / n
        result["test_loss_s"] = round(time.perf_counter() - t0, 3)
        print(f"test loss (EMA, {n} test images): {result['test_loss']:.5f}", flush=True)
        if a.loss_by_t:
            result["test_loss_by_t"] = loss_by_t(ema, test_u8, sqrt_ab, sqrt_1mab, a.seed, n,
                                                 a.eval_batch)
            print("test loss by t range: " + ", ".join(
                f"{k} {v:.5f}" for k, v in result["test_loss_by_t"].items()), flush=True)

    sampling = {}
    for k in ddim_steps if a.samples > 0 else []:  # --samples 0: no sampling
        t0 = time.perf_counter()
        g = torch.Generator().manual_seed(a.seed + 2)  # the same x_T for every sampler
        chunks, non_finite = [], 0
        with torch.no_grad():
            left = a.samples
            while left > 0:
                m = min(left, a.eval_batch)
                x = ddim_sample(ema, torch.randn((m, 1, 28, 28), generator=g), alpha_bar, k)
                bad = ~torch.isfinite(x)
                non_finite += int(bad.sum())
                chunks.append(((x + 1.0) / 2.0).clamp(0.0, 1.0).masked_fill(bad, 0.0))
                left -= m
        samples = torch.cat(chunks).numpy().astype(np.float32)
        secs = time.perf_counter() - t0
        path = os.path.join(a.out, f"samples_ddim_{k}.npy")
        np.save(path, samples)
        sampling[f"ddim_{k}"] = {"seconds": round(secs, 3), "samples": a.samples,
                                 "non_finite": non_finite, "file": path}
        print(f"ddim_{k}: {a.samples} samples in {secs:.1f} s -> {path}", flush=True)
    result["sampling"] = sampling

    with open(os.path.join(a.out, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
