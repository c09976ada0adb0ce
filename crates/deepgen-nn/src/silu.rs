//! SiLU, `x · σ(x)`, as one fused, vectorised operation on flex (forward and backward).
//!
//! [`silu`] is `burn::tensor::activation::silu` with the same signature and result. Burn composes
//! it as `x * sigmoid(x)`: on flex that is a scalar libm `expf` per element behind a branch, then
//! a product, and five full passes more in the backward (the product's two gradients, σ's
//! gradient, their sum). The DDPM U-Net's profile had `expf` alone at 8.7 % of the step. Here the
//! forward is one pass and the backward one pass (`dx = dy · σ · (1 + x(1 − σ))`, σ recomputed
//! from the saved input), with a branch-free exponential (Cephes' `expf` polynomial, within
//! 2 ulp) that the compiler vectorises (AVX2 + FMA when the CPU has them, chosen at run time),
//! split over rayon above 64 Ki elements. Other backends, dtypes, and `DEEPGEN_CONV=burn` (the
//! same switch as the convolutions) use Burn's `silu`.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::Tensor;

use crate::flex_kernels::{self, contiguous, flex_apply, par_map, par_map2, values};

/// `e^t` for `t ≤ 0` (clamped at −87, where it is ~1.6e−38), branch-free (Cephes `expf`).
#[inline(always)]
pub(crate) fn exp_nonpositive(t: f32) -> f32 {
    let t = t.max(-87.0);
    // n = round(t / ln 2) through the 1.5·2²³ trick (vectorisable, no `floor` call).
    const MAGIC: f32 = 12_582_912.0;
    let shifted = t * std::f32::consts::LOG2_E + MAGIC;
    let n = shifted - MAGIC;
    let r = t - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5; // Cephes: 5.0000001201e-1, which is 0.5 in f32
    let e = p * r * r + r + 1.0;
    // 2ⁿ from the integer in `shifted`'s low mantissa bits (an ulp of 1.5·2²³ is 1, and
    // n ∈ [−126, 0]). Not `n as i32`: Rust's saturating, NaN-checking float-to-int conversion
    // does not vectorise, and LLVM split every vector into 16 scalar conversions (the SiLU
    // kernels spent most of their time there in a U-Net profile). Same bits as that conversion.
    let n_int = shifted.to_bits().wrapping_sub(MAGIC.to_bits());
    let scale = f32::from_bits(n_int.wrapping_add(127) << 23);
    e * scale
}

/// σ(x), stable for both signs, branch-free.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    let s = 1.0 / (1.0 + e);
    if x >= 0.0 { s } else { e * s }
}

#[inline(always)]
fn forward_slice(x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = x * sigmoid(x);
    }
}

#[inline(always)]
fn backward_slice(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
        let s = sigmoid(x);
        *dx = dy * s * (1.0 + x * (1.0 - s));
    }
}

flex_kernels::simd_dispatch! {
    fn forward_chunk(x: &[f32], y: &mut [f32]) = forward_slice;
}

flex_kernels::simd_dispatch! {
    fn backward_chunk(x: &[f32], dy: &[f32], dx: &mut [f32]) = backward_slice;
}

/// `y = x · σ(x)` on this thread (the fused GroupNorm + SiLU applies it per block).
pub(crate) fn silu_slice(x: &[f32], y: &mut [f32]) {
    forward_chunk(x, y)
}

/// `dx = dy · σ(x)·(1 + x·(1 − σ(x)))` on this thread (see [`silu_slice`]).
pub(crate) fn silu_backward_slice(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    backward_chunk(x, dy, dx)
}

/// `y = x · σ(x)` over a slice (rayon above 64 Ki elements).
pub(crate) fn silu_forward(x: &[f32]) -> Vec<f32> {
    par_map(x, forward_chunk)
}

/// `dx = dy · σ(x) · (1 + x(1 − σ(x)))`.
pub(crate) fn silu_backward(x: &[f32], dy: &[f32]) -> Vec<f32> {
    par_map2(x, dy, backward_chunk)
}

/// The fused SiLU as a backend operation (see the module docs).
#[backend_extension(Flex, Autodiff)]
pub trait CpuSilu: Backend {
    /// `x · σ(x)`, element-wise, any shape.
    fn deepgen_silu(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl CpuSilu for Flex {
    fn deepgen_silu(x: FlexTensor) -> FlexTensor {
        flex_apply(&x, silu_forward)
    }
}

#[derive(Debug)]
struct SiluBackward;

impl Backward<Flex, 1> for SiluBackward {
    type State = NodeId;

    fn backward(self, ops: Ops<NodeId, 1>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [parent] = ops.parents;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let x = checkpointer.retrieve_node_output::<FlexTensor>(ops.state);
        if let Some(node) = parent {
            let dy_values = values(&dy);
            let dx = flex_apply(&x, |xs| silu_backward(xs, dy_values));
            grads.register::<Flex>(node.id, dx);
        }
    }
}

impl<C: CheckpointStrategy> CpuSilu for Autodiff<Flex, C> {
    fn deepgen_silu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match SiluBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = prep.checkpoint(&x);
                let y = flex_apply(x.primitive(), silu_forward);
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_apply(x.primitive(), silu_forward)),
        }
    }
}

/// Whether [`silu`] runs the fused kernel for `x` (else Burn's `silu`).
pub fn uses_fused_silu<const D: usize>(x: &Tensor<D>) -> bool {
    flex_kernels::applies(x)
}

/// SiLU (swish), `x · σ(x)`: Burn's `burn::tensor::activation::silu`, fused on flex.
///
/// # Shapes
/// - input and output: any, the same
pub fn silu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !uses_fused_silu(&x) {
        return burn::tensor::activation::silu(x);
    }
    Tensor::from_dispatch(<Dispatch as CpuSilu>::deepgen_silu(x.into_dispatch()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<f32> {
        let mut v: Vec<f32> = (-4000..=4000).map(|i| i as f32 / 40.0).collect();
        v.extend([
            -1e4, -200.0, -88.5, -87.0, -1e-30, 0.0, 1e-30, 88.5, 200.0, 1e4,
        ]);
        v
    }

    #[test]
    fn forward_matches_f64_silu() {
        let x = grid();
        let y = silu_forward(&x);
        for (&x, &y) in x.iter().zip(&y) {
            let want = x as f64 / (1.0 + (-(x as f64)).exp());
            let err = (y as f64 - want).abs();
            assert!(
                err <= 4e-7 * want.abs() + 1e-30,
                "silu({x}) = {y}, want {want}"
            );
        }
    }

    #[test]
    fn backward_matches_f64_derivative() {
        let x = grid();
        let dy: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, _)| 1.0 + (i % 7) as f32 / 7.0)
            .collect();
        let dx = silu_backward(&x, &dy);
        for ((&x, &dy), &dx) in x.iter().zip(&dy).zip(&dx) {
            let (x, dy) = (x as f64, dy as f64);
            let s = 1.0 / (1.0 + (-x).exp());
            let want = dy * s * (1.0 + x * (1.0 - s));
            let err = (dx as f64 - want).abs();
            // Absolute in units of dy: 1 + x(1 − σ) cancels near x ≈ −1.28, where the derivative is 0.
            assert!(
                err <= 1e-6 * (want.abs() + dy.abs()),
                "silu'({x}) · {dy} = {dx}, want {want}"
            );
        }
    }

    /// The exponent taken from the mantissa bits equals the float-to-int conversion it replaced,
    /// so the kernels' results did not change (every `f32` in [−100, 0] at a 2⁻¹⁰ step, the
    /// clamp's edge and the ends of each octave of the reduction).
    #[test]
    fn exponent_from_the_bits_equals_the_conversion() {
        let reference = |t: f32| {
            let t = t.max(-87.0);
            const MAGIC: f32 = 12_582_912.0;
            let n = (t * std::f32::consts::LOG2_E + MAGIC) - MAGIC;
            let r = t - n * 0.693_359_4 + n * 2.121_944_4e-4;
            let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r
                + 4.166_579_6e-2)
                * r
                + 1.666_666_5e-1)
                * r
                + 0.5;
            let e = p * r * r + r + 1.0;
            e * f32::from_bits(((n as i32 + 127) as u32) << 23)
        };
        let grid = (0..=102_400).map(|i| -(i as f32) / 1024.0);
        let edges = (0..=126).flat_map(|k| {
            let t = -(k as f32) * std::f32::consts::LN_2;
            [
                t,
                t - 0.5 * std::f32::consts::LN_2,
                f32::from_bits(t.to_bits() + 1),
            ]
        });
        for t in grid
            .chain(edges)
            .chain([-87.0, -87.5, -1e30, -0.0, f32::NAN])
        {
            let (got, want) = (exp_nonpositive(t), reference(t));
            assert_eq!(got.to_bits(), want.to_bits(), "t = {t}: {got} vs {want}");
        }
    }

    #[test]
    fn exponential_is_accurate_across_its_range() {
        let mut worst = 0.0f64;
        for i in 0..=87_000 {
            let t = -(i as f32) / 1000.0;
            let got = exp_nonpositive(t) as f64;
            let want = (t as f64).exp();
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
    }

    /// Whatever vector width `simd()` picks on this machine (AVX-512 where the CPU has it),
    /// the dispatched kernels give the plain loops' bits.
    #[test]
    fn every_simd_level_gives_the_baseline_bits() {
        flex_kernels::assert_simd_matches_baseline(
            &grid(),
            (forward_chunk, backward_chunk),
            (forward_slice, backward_slice),
        );
    }
}
