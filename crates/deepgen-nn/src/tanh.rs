//! `tanh` as one vectorised operation on flex (forward and backward).
//!
//! [`tanh`] is `burn::tensor::activation::tanh` with the same signature and result (to 2 ulp). On
//! flex Burn's `tanh` calls glibc's scalar `tanhf` per element, which itself calls `expm1f`: in a
//! `perf` profile of the IWAE paper's tanh network (784-200-200-50, batch 100; the `iwae_net`
//! workload) the two took 29 % of the training step. Here the forward is a branch-free
//! evaluation the compiler vectorises (AVX2 + FMA when the CPU has them, chosen at run time):
//! Cephes' `tanhf` — the odd polynomial `x + x³·P(x²)` for |x| < 0.625 and
//! `1 − 2/(e^{2|x|} + 1)` (through the `silu` module's exponential) above, with the sign
//! restored; both within ~2 ulp of the exact value. The backward is Burn's `dx = dy·(1 − y²)`
//! from the saved output, one pass. Rayon splits both above 64 Ki elements. Other backends,
//! dtypes, `DEEPGEN_CONV=burn` (the switch shared with the other kernels) and
//! `DEEPGEN_LINEAR=burn` (the MLP kernels of 2026-12-05: linear layers and this) use Burn's
//! `tanh`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::Tensor;

use crate::flex_kernels::{self, contiguous, flex_apply, par_map, par_map2, values};
use crate::silu::exp_nonpositive;

/// tanh(x), branch-free (Cephes `tanhf`); NaN stays NaN, ±∞ give ±1.
#[inline(always)]
fn tanh_one(x: f32) -> f32 {
    let a = x.abs();
    // Small |x|: x + x³·P(x²) (Cephes' minimax coefficients).
    let z = x * x;
    let p = (((-5.704_988_7e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
        - 3.333_328e-1;
    // `copysign` keeps −0 (x + x·z·P rounds −0 to +0); |x·z·P| < |x|, so the sign is x's.
    let small = (p * z * x + x).copysign(x);
    // Large |x|: 1 − 2/(e^{2|x|} + 1) = (1 − t)/(1 + t) with t = e^{−2|x|} ≤ e^{−1.25}.
    let t = exp_nonpositive(-2.0 * a);
    let large = ((1.0 - t) / (1.0 + t)).copysign(x);
    // `a < 0.625` is false for NaN, and `large` is NaN for NaN input (t = e^{NaN}).
    if a < 0.625 {
        small
    } else if a >= 0.625 {
        large
    } else {
        x
    }
}

#[inline(always)]
fn forward_slice(x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = tanh_one(x);
    }
}

#[inline(always)]
fn backward_slice(y: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
        *dx = dy * (1.0 - y * y);
    }
}

flex_kernels::simd_dispatch! {
    fn forward_chunk(x: &[f32], y: &mut [f32]) = forward_slice;
}

flex_kernels::simd_dispatch! {
    fn backward_chunk(y: &[f32], dy: &[f32], dx: &mut [f32]) = backward_slice;
}

/// `tanh` over a slice (rayon above 64 Ki elements).
pub(crate) fn tanh_forward(x: &[f32]) -> Vec<f32> {
    par_map(x, forward_chunk)
}

/// `dx = dy · (1 − y²)` from the forward's output `y`.
pub(crate) fn tanh_backward(y: &[f32], dy: &[f32]) -> Vec<f32> {
    par_map2(y, dy, backward_chunk)
}

/// The vectorised `tanh` as a backend operation (see the module docs).
#[backend_extension(Flex, Autodiff)]
pub trait CpuTanh: Backend {
    /// `tanh(x)`, element-wise, any shape.
    fn deepgen_tanh(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl CpuTanh for Flex {
    fn deepgen_tanh(x: FlexTensor) -> FlexTensor {
        flex_apply(&x, tanh_forward)
    }
}

#[derive(Debug)]
struct TanhBackward;

impl Backward<Flex, 1> for TanhBackward {
    /// The forward's output.
    type State = FlexTensor;

    fn backward(
        self,
        ops: Ops<FlexTensor, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [parent] = ops.parents;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        if let Some(node) = parent {
            let dy_values = values(&dy);
            let dx = flex_apply(&ops.state, |ys| tanh_backward(ys, dy_values));
            grads.register::<Flex>(node.id, dx);
        }
    }
}

impl<C: CheckpointStrategy> CpuTanh for Autodiff<Flex, C> {
    fn deepgen_tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match TanhBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = flex_apply(x.primitive(), tanh_forward);
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_apply(x.primitive(), tanh_forward)),
        }
    }
}

/// Whether [`tanh`] runs the vectorised kernel for `x` (else Burn's `tanh`).
pub fn uses_fused_tanh<const D: usize>(x: &Tensor<D>) -> bool {
    flex_kernels::applies(x) && !flex_kernels::burn_linear_forced()
}

/// Hyperbolic tangent: Burn's `burn::tensor::activation::tanh`, vectorised on flex.
///
/// # Shapes
/// - input and output: any, the same
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !uses_fused_tanh(&x) {
        return burn::tensor::activation::tanh(x);
    }
    Tensor::from_dispatch(<Dispatch as CpuTanh>::deepgen_tanh(x.into_dispatch()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<f32> {
        let mut v: Vec<f32> = (-4000..=4000).map(|i| i as f32 / 200.0).collect();
        v.extend([
            -1e4,
            -90.0,
            -9.5,
            -0.625,
            -0.624_999_9,
            -1e-5,
            -1e-30,
            0.0,
            1e-30,
            1e-5,
            0.624_999_9,
            0.625,
            9.5,
            90.0,
            1e4,
        ]);
        v
    }

    #[test]
    fn forward_is_within_3_ulp_of_f64_tanh() {
        let x = grid();
        let y = tanh_forward(&x);
        for (&x, &y) in x.iter().zip(&y) {
            let want = (x as f64).tanh();
            let err = (y as f64 - want).abs();
            assert!(
                err <= 3.0 * f32::EPSILON as f64 * want.abs() + 1e-38,
                "tanh({x}) = {y}, want {want}"
            );
            assert_eq!(
                y.is_sign_negative(),
                x.is_sign_negative(),
                "sign of tanh({x})"
            );
        }
    }

    #[test]
    fn special_values_match_burn() {
        let y = tanh_forward(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0]);
        assert!(y[0].is_nan());
        assert_eq!(&y[1..3], &[1.0, -1.0]);
        assert!(y[3] == 0.0 && y[4] == 0.0 && y[4].is_sign_negative());
    }

    #[test]
    fn backward_is_dy_times_one_minus_y_squared() {
        let x = grid();
        let y = tanh_forward(&x);
        let dy: Vec<f32> = (0..x.len()).map(|i| 0.5 + (i % 5) as f32 / 5.0).collect();
        let dx = tanh_backward(&y, &dy);
        for ((&x, &dy), &dx) in x.iter().zip(&dy).zip(&dx) {
            let t = (x as f64).tanh();
            let want = dy as f64 * (1.0 - t * t);
            assert!(
                (dx as f64 - want).abs() <= 1e-6 * dy as f64,
                "tanh'({x}) · {dy} = {dx}, want {want}"
            );
        }
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
