//! GroupNorm as one fused operation on flex: one pass (plus the statistics) forward, one backward.
//!
//! [`fused_group_norm`] computes what `burn::nn::GroupNorm::forward` computes, from the same
//! module. Burn composes GroupNorm from ten tensor operations (reshape, mean, subtract, square,
//! mean, add ε, square root, divide, scale, shift), each a full pass over the activations on one
//! core in flex, and the backward of each is more passes; in the DDPM U-Net every residual block
//! normalises twice. Here each `(sample, group)` block is normalised in one task on rayon:
//! statistics accumulated in f64 (two passes: mean, then the centred sum of squares, as Burn
//! does), then `y = γ_c·(x − μ)·r + β_c` with `r = 1/√(σ² + ε)`. The backward recomputes μ and
//! `r` from the saved input and gives, per block of `M` elements,
//! `dx = r·(g − mean(g) − x̂·mean(g·x̂))` with `g = γ_c·dy` and `x̂ = (x − μ)·r`, and per channel
//! `dγ_c = Σ dy·x̂`, `dβ_c = Σ dy` (summed over the batch in f64).
//!
//! It applies to `f32` tensors on flex with affine parameters; every other case (other
//! backends and dtypes, `affine = false`, `DEEPGEN_CONV=burn`) runs Burn's `GroupNorm::forward`.
//! Checked against Burn's GroupNorm on flex and ndarray (values and all three gradients) in
//! `deepgen-conformance`'s `group_norm_conformance`, and against f64 formulas and finite
//! differences in the unit tests below.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::nn::GroupNorm;
use burn::tensor::Tensor;
use rayon::prelude::*;

use crate::flex_kernels::{self, contiguous, flex_tensor, values, zeroed_chunks};

/// The shape of one GroupNorm: `n` samples of `c` channels of `s` positions, `groups` groups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Geometry {
    pub n: usize,
    pub c: usize,
    pub s: usize,
    pub groups: usize,
    pub eps: f64,
}

impl Geometry {
    /// Channels per group.
    fn cg(&self) -> usize {
        self.c / self.groups
    }

    /// Elements per `(sample, group)` block (contiguous in `[N, C, S]`).
    fn block(&self) -> usize {
        self.cg() * self.s
    }
}

/// Independent accumulators per sum: a single running f64 sum is a chain of dependent adds
/// (latency-bound, ~4 cycles an element); eight lanes let the compiler vectorise.
const LANES: usize = 8;

/// `Σ f(x_i)` in f64 over [`LANES`] accumulators.
#[inline(always)]
fn lane_sum(x: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    let mut acc = [0.0f64; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f64 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    acc.iter().sum::<f64>() + tail
}

// The loops below are compiled for AVX-512, AVX2 or the baseline and picked at run time
// (`simd_dispatch`): the library is built for baseline x86-64, where the f64 sums became scalar
// conversions and shuffles (the backward's sums were ≈ 3 % of a U-Net training step on the AMD
// EPYC, 2026-12-06). Every lane still adds in the same order, and nothing is contracted into
// FMAs, so the results are the same bits on every instruction set.

flex_kernels::simd_dispatch! {
    /// `(Σ a_i·b_i, Σ b_i)` in f64 over [`LANES`] accumulators, with `a_i = (x_i − μ)·r`.
    fn lane_sums_xhat_dy(x: &[f32], dy: &[f32], mean: f32, r: f32) -> (f64, f64) = xhat_dy_body;
}

flex_kernels::simd_dispatch! {
    /// Mean and `1/√(σ² + ε)` of a block, accumulated in f64.
    fn stats(x: &[f32], eps: f64) -> (f64, f64) = stats_body;
}

flex_kernels::simd_dispatch! {
    /// `u = x·a + b` elementwise.
    fn scale_shift(x: &[f32], a: f32, b: f32, u: &mut [f32]) = scale_shift_body;
}

/// The scalars of one channel's input gradient: the block's mean and `r = 1/√(σ² + ε)`, the
/// channel's γ, and the block means of `g = γ·dy` and of `g·x̂`.
#[derive(Clone, Copy)]
struct DxScalars {
    mean: f32,
    r: f32,
    gamma: f32,
    mean_g: f32,
    mean_gx: f32,
}

flex_kernels::simd_dispatch! {
    /// One channel of the input gradient: `dx = r·(γ·dy − mean(g) − x̂·mean(g·x̂))`.
    fn dx_channel(x: &[f32], dy: &[f32], k: DxScalars, dx: &mut [f32]) = dx_channel_body;
}

#[inline(always)]
fn scale_shift_body(x: &[f32], a: f32, b: f32, u: &mut [f32]) {
    for (u, &x) in u.iter_mut().zip(x) {
        *u = x * a + b;
    }
}

#[inline(always)]
fn dx_channel_body(x: &[f32], dy: &[f32], k: DxScalars, dx: &mut [f32]) {
    for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
        let xh = (x - k.mean) * k.r;
        *dx = k.r * (k.gamma * dy - k.mean_g - xh * k.mean_gx);
    }
}

#[inline(always)]
fn xhat_dy_body(x: &[f32], dy: &[f32], mean: f32, r: f32) -> (f64, f64) {
    let mut ab = [0.0f64; LANES];
    let mut bb = [0.0f64; LANES];
    let (xc, dc) = (x.chunks_exact(LANES), dy.chunks_exact(LANES));
    let (mut t_ab, mut t_b) = (0.0f64, 0.0f64);
    for (&x, &d) in xc.remainder().iter().zip(dc.remainder()) {
        t_ab += (((x - mean) * r) * d) as f64;
        t_b += d as f64;
    }
    for (xs, ds) in xc.zip(dc) {
        for l in 0..LANES {
            ab[l] += (((xs[l] - mean) * r) * ds[l]) as f64;
            bb[l] += ds[l] as f64;
        }
    }
    (ab.iter().sum::<f64>() + t_ab, bb.iter().sum::<f64>() + t_b)
}

#[inline(always)]
fn stats_body(x: &[f32], eps: f64) -> (f64, f64) {
    let m = x.len() as f64;
    let mean = lane_sum(x, |v| v as f64) / m;
    let var = lane_sum(x, |v| {
        let d = v as f64 - mean;
        d * d
    }) / m;
    (mean, 1.0 / (var + eps).sqrt())
}

/// `u = γ_c·(x − μ)·r + β_c` of one block into `u`, given the block's [`stats`] as `f32` (the
/// block's first channel is `c0`).
#[inline]
fn normalise_block(
    g: &Geometry,
    xb: &[f32],
    (mean, r): (f32, f32),
    gamma: &[f32],
    beta: &[f32],
    c0: usize,
    u: &mut [f32],
) {
    let (cg, s) = (g.cg(), g.s);
    for k in 0..cg {
        let (ga, be) = (gamma[c0 + k] * r, beta[c0 + k]);
        let shift = be - mean * ga;
        scale_shift(
            &xb[k * s..(k + 1) * s],
            ga,
            shift,
            &mut u[k * s..(k + 1) * s],
        );
    }
}

/// `y = γ_c·(x − μ)·r + β_c` over `[N, C, S]`, followed by `y·σ(y)` when `silu`.
pub(crate) fn forward(
    g: &Geometry,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    silu: bool,
) -> Vec<f32> {
    let m = g.block();
    zeroed_chunks(x.len(), m, true, |b, yb| {
        let xb = &x[b * m..(b + 1) * m];
        let c0 = (b % g.groups) * g.cg();
        let (mean, r) = stats(xb, g.eps);
        let st = (mean as f32, r as f32);
        if silu {
            let mut u = vec![0.0f32; m];
            normalise_block(g, xb, st, gamma, beta, c0, &mut u);
            crate::silu::silu_slice(&u, yb);
        } else {
            normalise_block(g, xb, st, gamma, beta, c0, yb);
        }
    })
    .0
}

/// Gradients of `Σ dy·y` with respect to x, γ and β (each only if asked).
pub(crate) struct Grads {
    pub x: Option<Vec<f32>>,
    pub gamma: Option<Vec<f32>>,
    pub beta: Option<Vec<f32>>,
}

/// One block's first channel and its per-channel `Σ dy·x̂` and `Σ dy`.
type BlockSums = (usize, Vec<f64>, Vec<f64>);

/// The backward step (see the module docs); `want` = which of x, γ, β to return.
///
/// With `silu = Some(β)`, `dy` is the gradient of `SiLU(GroupNorm(x))`: each block's norm output
/// is recomputed exactly as [`forward`] computed it and `dy` is taken through SiLU's derivative
/// first (the same kernels as the two separate operations, so the same bits).
pub(crate) fn backward(
    g: &Geometry,
    x: &[f32],
    gamma: &[f32],
    silu: Option<&[f32]>,
    dy: &[f32],
    want: [bool; 3],
) -> Grads {
    let (cg, s, m) = (g.cg(), g.s, g.block());
    let block_grads = |b: usize, xb: &[f32], dyb: &[f32], dxb: Option<&mut [f32]>| {
        let (mean, r) = stats(xb, g.eps);
        let (mean, r) = (mean as f32, r as f32);
        let dz = silu.map(|beta| {
            let mut u = vec![0.0f32; m];
            normalise_block(g, xb, (mean, r), gamma, beta, (b % g.groups) * cg, &mut u);
            let mut dz = vec![0.0f32; m];
            crate::silu::silu_backward_slice(&u, dyb, &mut dz);
            dz
        });
        let dyb = dz.as_deref().unwrap_or(dyb);
        let c0 = (b % g.groups) * cg;
        // Per-channel Σ dy·x̂ and Σ dy of this block; block sums of g and g·x̂.
        let mut dgamma = vec![0.0f64; cg];
        let mut dbeta = vec![0.0f64; cg];
        let (mut sum_g, mut sum_gx) = (0.0f64, 0.0f64);
        for k in 0..cg {
            let ga = gamma[c0 + k] as f64;
            let range = k * s..(k + 1) * s;
            let (a, bsum) = lane_sums_xhat_dy(&xb[range.clone()], &dyb[range], mean, r);
            dgamma[k] = a;
            dbeta[k] = bsum;
            sum_g += ga * bsum;
            sum_gx += ga * a;
        }
        if let Some(dxb) = dxb {
            let (mg, mgx) = ((sum_g / m as f64) as f32, (sum_gx / m as f64) as f32);
            for k in 0..cg {
                let range = k * s..(k + 1) * s;
                let (x, dy) = (&xb[range.clone()], &dyb[range.clone()]);
                let scalars = DxScalars {
                    mean,
                    r,
                    gamma: gamma[c0 + k],
                    mean_g: mg,
                    mean_gx: mgx,
                };
                dx_channel(x, dy, scalars, &mut dxb[range]);
            }
        }
        (c0, dgamma, dbeta)
    };
    let (dx, partial): (Vec<f32>, Vec<BlockSums>) = if want[0] {
        zeroed_chunks(x.len(), m, true, |b, dxb| {
            let r = b * m..(b + 1) * m;
            block_grads(b, &x[r.clone()], &dy[r], Some(dxb))
        })
    } else {
        let partial = x
            .par_chunks(m)
            .zip(dy.par_chunks(m))
            .with_max_len(crate::flex_kernels::leaf_len(m))
            .enumerate()
            .map(|(b, (xb, dyb))| block_grads(b, xb, dyb, None))
            .collect();
        (Vec::new(), partial)
    };
    let mut dgamma = vec![0.0f64; g.c];
    let mut dbeta = vec![0.0f64; g.c];
    for (c0, a, b) in partial {
        for k in 0..cg {
            dgamma[c0 + k] += a[k];
            dbeta[c0 + k] += b[k];
        }
    }
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
    Grads {
        x: want[0].then_some(dx),
        gamma: want[1].then(|| to_f32(dgamma)),
        beta: want[2].then(|| to_f32(dbeta)),
    }
}

/// The fused GroupNorm as a backend operation (see the module docs).
#[backend_extension(Flex, Autodiff)]
pub trait CpuGroupNorm: Backend {
    /// GroupNorm of `x` `[N, C, S]` with `groups` groups and per-channel `gamma`, `beta` `[C]`,
    /// followed by SiLU when `silu`.
    fn deepgen_group_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        groups: usize,
        eps: f64,
        silu: bool,
    ) -> FloatTensor<Self>;
}

fn geometry(x: &FlexTensor, groups: usize, eps: f64) -> Geometry {
    let d = x.layout().shape();
    Geometry {
        n: d[0],
        c: d[1],
        s: d[2],
        groups,
        eps,
    }
}

fn flex_forward(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    groups: usize,
    eps: f64,
    silu: bool,
) -> FlexTensor {
    let (x, gamma, beta) = (contiguous(x), contiguous(gamma), contiguous(beta));
    let g = geometry(&x, groups, eps);
    let y = forward(&g, values(&x), values(&gamma), values(&beta), silu);
    flex_tensor(y, x.layout().shape().to_vec())
}

impl CpuGroupNorm for Flex {
    fn deepgen_group_norm(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        groups: usize,
        eps: f64,
        silu: bool,
    ) -> FlexTensor {
        flex_forward(x, gamma, beta, groups, eps, silu)
    }
}

#[derive(Debug)]
struct GroupNormBackward;

impl Backward<Flex, 3> for GroupNormBackward {
    /// The input and γ (checkpointed), β (checkpointed when SiLU follows), the groups and ε.
    type State = (NodeId, NodeId, Option<NodeId>, usize, f64);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let (x_id, gamma_id, beta_id, groups, eps) = ops.state;
        let x = contiguous(checkpointer.retrieve_node_output::<FlexTensor>(x_id));
        let gamma = contiguous(checkpointer.retrieve_node_output::<FlexTensor>(gamma_id));
        let beta =
            beta_id.map(|id| contiguous(checkpointer.retrieve_node_output::<FlexTensor>(id)));
        let g = geometry(&x, groups, eps);
        let want = [0, 1, 2].map(|i| ops.parents[i].is_some());
        let silu = beta.as_ref().map(values);
        let out = backward(&g, values(&x), values(&gamma), silu, values(&dy), want);
        let shapes = [x.layout().shape().to_vec(), vec![g.c], vec![g.c]];
        for ((parent, grad), shape) in ops
            .parents
            .into_iter()
            .zip([out.x, out.gamma, out.beta])
            .zip(shapes)
        {
            if let (Some(node), Some(grad)) = (parent, grad) {
                grads.register::<Flex>(node.id, flex_tensor(grad, shape));
            }
        }
    }
}

impl<C: CheckpointStrategy> CpuGroupNorm for Autodiff<Flex, C> {
    fn deepgen_group_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        groups: usize,
        eps: f64,
        silu: bool,
    ) -> FloatTensor<Self> {
        match GroupNormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (
                    prep.checkpoint(&x),
                    prep.checkpoint(&gamma),
                    silu.then(|| prep.checkpoint(&beta)),
                    groups,
                    eps,
                );
                let y = flex_forward(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    groups,
                    eps,
                    silu,
                );
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_forward(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
                groups,
                eps,
                silu,
            )),
        }
    }
}

/// Whether [`fused_group_norm`] runs the fused kernel for `norm` on `x` (else Burn's
/// `GroupNorm::forward`).
pub fn uses_fused_group_norm<const D: usize>(norm: &GroupNorm, x: &Tensor<D>) -> bool {
    D >= 3
        && x.shape().num_elements() > 0
        && norm.affine
        && norm.gamma.is_some()
        && norm.beta.is_some()
        && flex_kernels::applies(x)
}

/// `norm.forward(x)`, fused on flex (see the module docs).
///
/// # Shapes
/// - x: `[batch, channels, …]` (rank ≥ 3)
/// - output: the same
///
/// # Panics
/// As `GroupNorm::forward`: if `channels` differs from the module's.
pub fn fused_group_norm<const D: usize>(norm: &GroupNorm, x: Tensor<D>) -> Tensor<D> {
    if !uses_fused_group_norm(norm, &x) {
        return norm.forward(x);
    }
    run_fused(norm, x, false)
}

/// `silu(norm.forward(x))` — the pre-activation of every residual block and head of the U-Net —
/// as one operation on flex: the norm's output is never stored (forward: normalised and
/// activated block by block; backward: recomputed per block from the saved input and taken
/// through SiLU's derivative), which saves a full write and read of the activations each way
/// and the memory SiLU kept for its backward. Same bits as
/// [`silu`](crate::silu())`(`[`fused_group_norm`]`(norm, x))`, values and gradients (the same
/// per-block kernels in the same order). Elsewhere (other backends, non-affine norms) it is
/// exactly those two calls.
///
/// # Shapes
/// - x: `[batch, channels, …]` (rank ≥ 3)
/// - output: the same
///
/// # Panics
/// As `GroupNorm::forward`: if `channels` differs from the module's.
pub fn fused_group_norm_silu<const D: usize>(norm: &GroupNorm, x: Tensor<D>) -> Tensor<D> {
    if !uses_fused_group_norm(norm, &x) {
        return crate::silu(norm.forward(x));
    }
    run_fused(norm, x, true)
}

fn run_fused<const D: usize>(norm: &GroupNorm, x: Tensor<D>, silu: bool) -> Tensor<D> {
    let shape = x.dims();
    assert_eq!(
        shape[1], norm.num_channels,
        "GroupNorm over {} channels got an input with {} channels",
        norm.num_channels, shape[1]
    );
    let s: usize = shape[2..].iter().product();
    let x3: Tensor<3> = x.reshape([shape[0], shape[1], s]);
    let gamma = norm.gamma.as_ref().expect("checked above").val();
    let beta = norm.beta.as_ref().expect("checked above").val();
    let y = <Dispatch as CpuGroupNorm>::deepgen_group_norm(
        x3.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        norm.num_groups,
        norm.epsilon,
        silu,
    );
    Tensor::<3>::from_dispatch(y).reshape(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test values with an offset every 7 elements (so groups have different means).
    fn data(len: usize, seed: u32) -> Vec<f32> {
        let mut v = crate::flex_kernels::test_values(len, seed);
        for (i, x) in v.iter_mut().enumerate() {
            *x += (i / 7 % 3) as f32;
        }
        v
    }

    /// The GroupNorm in f64, straight from its definition.
    fn reference(g: &Geometry, x: &[f64], gamma: &[f64], beta: &[f64]) -> Vec<f64> {
        let mut y = vec![0.0; x.len()];
        for b in 0..g.n * g.groups {
            let block = &x[b * g.block()..(b + 1) * g.block()];
            let m = block.len() as f64;
            let mean = block.iter().sum::<f64>() / m;
            let var = block.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / m;
            for (i, &v) in block.iter().enumerate() {
                let c = (b % g.groups) * g.cg() + i / g.s;
                y[b * g.block() + i] = gamma[c] * (v - mean) / (var + g.eps).sqrt() + beta[c];
            }
        }
        y
    }

    fn geometries() -> Vec<Geometry> {
        vec![
            Geometry {
                n: 2,
                c: 4,
                s: 9,
                groups: 2,
                eps: 1e-5,
            },
            Geometry {
                n: 3,
                c: 6,
                s: 5,
                groups: 3,
                eps: 1e-5,
            },
            Geometry {
                n: 1,
                c: 8,
                s: 16,
                groups: 8,
                eps: 1e-3,
            },
            Geometry {
                n: 2,
                c: 4,
                s: 1,
                groups: 1,
                eps: 1e-5,
            },
        ]
    }

    #[test]
    fn forward_matches_the_f64_definition() {
        for g in geometries() {
            let x = data(g.n * g.c * g.s, 1);
            let gamma = data(g.c, 2);
            let beta = data(g.c, 3);
            let y = forward(&g, &x, &gamma, &beta, false);
            let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
            let want = reference(&g, &f64s(&x), &f64s(&gamma), &f64s(&beta));
            for (i, (&y, &w)) in y.iter().zip(&want).enumerate() {
                assert!(
                    (y as f64 - w).abs() < 2e-5 * (1.0 + w.abs()),
                    "{g:?} [{i}]: {y} vs {w}"
                );
            }
        }
    }

    #[test]
    fn gradients_match_central_differences_in_f64() {
        for g in geometries() {
            let x = data(g.n * g.c * g.s, 4);
            let gamma = data(g.c, 5);
            let beta = data(g.c, 6);
            let dy = data(x.len(), 7);
            let out = backward(&g, &x, &gamma, None, &dy, [true, true, true]);
            let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
            let (x64, ga64, be64, dy64) = (f64s(&x), f64s(&gamma), f64s(&beta), f64s(&dy));
            // L = Σ dy·y; the derivative in each input by a central difference.
            let loss = |x: &[f64], ga: &[f64], be: &[f64]| -> f64 {
                reference(&g, x, ga, be)
                    .iter()
                    .zip(&dy64)
                    .map(|(y, d)| y * d)
                    .sum()
            };
            let h = 1e-6;
            let check = |got: &[f32], which: usize| {
                let n = [x64.len(), ga64.len(), be64.len()][which];
                for i in 0..n {
                    let (mut a, mut b, mut c) = (x64.clone(), ga64.clone(), be64.clone());
                    let (mut a2, mut b2, mut c2) = (x64.clone(), ga64.clone(), be64.clone());
                    match which {
                        0 => (a[i] += h, a2[i] -= h),
                        1 => (b[i] += h, b2[i] -= h),
                        _ => (c[i] += h, c2[i] -= h),
                    };
                    let fd = (loss(&a, &b, &c) - loss(&a2, &b2, &c2)) / (2.0 * h);
                    let got = got[i] as f64;
                    assert!(
                        (got - fd).abs() < 1e-4 * (1.0 + fd.abs()),
                        "{g:?} input {which} [{i}]: {got} vs finite difference {fd}"
                    );
                }
            };
            check(out.x.as_ref().unwrap(), 0);
            check(out.gamma.as_ref().unwrap(), 1);
            check(out.beta.as_ref().unwrap(), 2);
            let only_gamma = backward(&g, &x, &gamma, None, &dy, [false, true, false]);
            assert!(only_gamma.x.is_none() && only_gamma.beta.is_none());
            assert_eq!(only_gamma.gamma, out.gamma);
        }
    }
}
