//! The linear map `y = x·W + b` with deepgen's own GEMM calls on flex (forward and backward).
//!
//! [`linear`] is `burn::tensor::module::linear` with the same signature and result, and
//! [`forward_linear`] is `burn::nn::Linear::forward` through it (Burn's layer, record and
//! initialisation unchanged). The difference is where the work runs: for `f32` on a flex
//! device, in one Burn backend extension with its own backward step.
//!
//! Why: Burn 0.22.1's flex matmul allocates its output with `FlexTensor::empty`, which
//! zero-fills a byte vector and then copies it into a 16-byte-aligned buffer — two full passes
//! over the output before the GEMM overwrites it — and Burn's `linear` adds the bias as a
//! separate broadcast operation whose gradient is another reduction. A `perf` profile of the
//! RealNVP 2-D step (16 couplings of 1-128-128-2 MLPs, batch 512) had 14 % of its samples in
//! that `memset` + `memcpy` (docs/performance.md). Here the forward writes the bias into the
//! output rows and accumulates one GEMM into them; the backward runs `dX = dY·Wᵀ` and
//! `dW = Xᵀ·dY` as GEMMs on strided views (no transposed copies) into buffers the GEMM writes
//! once, and `db` as a column sum of `dY`. The `gemm` crate is the one flex itself uses, with
//! flex's threshold for multi-threading (`m·n·k ≥ 192³`); products with a dimension of 1–4
//! (a toy coupling's first and last layers) run as the plain loops of
//! `small_gemm.rs` instead.
//!
//! Other backends, other dtypes, `DEEPGEN_CONV=burn` (the switch shared with the
//! convolutions and [`silu`](crate::silu())) and `DEEPGEN_LINEAR=burn` (this kernel and [`tanh`](crate::tanh()) only) use
//! Burn's `linear`. The results are the same to rounding (~1e-7 relative), not bit for bit, so a
//! training run's trajectory differs at that level: numbers in docs/results.md measured before
//! this kernel reproduce exactly with `DEEPGEN_LINEAR=burn`. The conformance test
//! (`tests/conformance/linear_conformance.rs`) checks values and every gradient against Burn's
//! on flex and ndarray.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::nn::Linear;
use burn::tensor::{DType, Tensor};
use gemm::Parallelism;

use crate::flex_kernels::Operand;
use crate::flex_kernels::{self, contiguous, flex_tensor, values};
use crate::small_gemm::small_gemm;

/// Products with at least this many multiply-adds use every rayon thread (flex's threshold).
const PARALLEL_OPS: usize = 192 * 192 * 192;

fn parallelism(m: usize, n: usize, k: usize) -> Parallelism {
    if m.saturating_mul(n).saturating_mul(k) >= PARALLEL_OPS && rayon::current_num_threads() > 1 {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    }
}

/// `lhs [m, k] · rhs [k, n]` as a new row-major vector: the [small-matrix loops](small_gemm)
/// when a dimension is tiny, else written once by the blocked GEMM.
fn gemm_new(m: usize, n: usize, k: usize, lhs: Operand<'_>, rhs: Operand<'_>) -> Vec<f32> {
    if let Some(out) = small_gemm(m, n, k, lhs, rhs, None) {
        return out;
    }
    let len = m * n;
    if k == 0 {
        return vec![0.0; len];
    }
    let mut out = Vec::<f32>::with_capacity(len);
    // SAFETY: `out` has capacity for `m·n` elements; with `accumulate = false` the GEMM writes
    // every one of them without reading any (`gemm_writes_every_element` below checks this on
    // NaN-filled buffers for the shapes the layers use), so all `len` elements are initialised
    // before `set_len`. The operands are checked by the callers' shapes.
    unsafe {
        flex_kernels::gemm_raw(
            m,
            n,
            k,
            out.as_mut_ptr(),
            false,
            lhs,
            rhs,
            parallelism(m, n, k),
        );
        out.set_len(len);
    }
    out
}

/// `y [m, n] = x [m, k] · w [k, n] + b` (row-major; `b` broadcast over the rows), followed by
/// `max(y, 0)` when `relu` (NaN stays NaN).
pub(crate) fn linear_forward(
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    [m, k, n]: [usize; 3],
    relu: bool,
) -> Vec<f32> {
    let mut y = affine(x, w, b, [m, k, n]);
    if relu {
        // An unconditional store of a select (not `if v < 0 { v = 0 }`): the compiler turns it
        // into a vector compare + blend; the conditional store compiled to a branch per element
        // that mispredicts on ReLU's random signs (13 % of a RealNVP 2-D step in a profile).
        for v in &mut y {
            *v = if *v < 0.0 { 0.0 } else { *v };
        }
    }
    y
}

/// `x [m, k] · w [k, n] + b`.
fn affine(x: &[f32], w: &[f32], b: Option<&[f32]>, [m, k, n]: [usize; 3]) -> Vec<f32> {
    assert!(
        x.len() == m * k && w.len() == k * n,
        "linear: operand sizes"
    );
    let (lhs, rhs) = ((x, 1, k as isize), (w, 1, n as isize));
    let Some(b) = b else {
        return gemm_new(m, n, k, lhs, rhs);
    };
    assert_eq!(b.len(), n, "linear: bias size");
    if let Some(y) = small_gemm(m, n, k, lhs, rhs, Some(b)) {
        return y;
    }
    let mut y = Vec::with_capacity(m * n);
    for _ in 0..m {
        y.extend_from_slice(b);
    }
    if k > 0 {
        // SAFETY: `y` holds `m·n` initialised elements; the operands are `m×k` and `k×n`.
        unsafe {
            flex_kernels::gemm_raw(
                m,
                n,
                k,
                y.as_mut_ptr(),
                true,
                lhs,
                rhs,
                parallelism(m, n, k),
            )
        };
    }
    y
}

/// The gradients of [`linear_forward`] for the output gradient `dy [m, n]`, each computed only
/// when `want` asks for it: `dx = dz·wᵀ [m, k]`, `dw = xᵀ·dz [k, n]`, `db = Σ_rows dz [n]`,
/// where `dz = dy` or, after a ReLU with output `relu_out`, `dz = dy ⊙ [relu_out > 0]` (the
/// gradient kept where the output is NaN, as Burn's `relu_backward` on flex).
pub(crate) fn linear_backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    relu_out: Option<&[f32]>,
    [m, k, n]: [usize; 3],
    want: [bool; 3],
) -> [Option<Vec<f32>>; 3] {
    assert!(
        x.len() == m * k && w.len() == k * n && dy.len() == m * n,
        "linear backward: operand sizes"
    );
    let masked: Vec<f32>;
    let dy = match relu_out {
        Some(y) => {
            assert_eq!(y.len(), m * n, "linear backward: ReLU output size");
            masked = dy
                .iter()
                .zip(y)
                .map(|(&g, &y)| if y > 0.0 || y.is_nan() { g } else { 0.0 })
                .collect();
            &masked[..]
        }
        None => dy,
    };
    let (ku, nu) = (k as isize, n as isize);
    // dx [m, k] = dy [m, n] · wᵀ [n, k]; wᵀ(j, i) = w[i·n + j]: column stride n, row stride 1.
    let dx = want[0].then(|| gemm_new(m, k, n, (dy, 1, nu), (w, nu, 1)));
    // dw [k, n] = xᵀ [k, m] · dy [m, n]; xᵀ(i, r) = x[r·k + i]: column stride k, row stride 1.
    let dw = want[1].then(|| gemm_new(k, n, m, (x, ku, 1), (dy, 1, nu)));
    let db = want[2].then(|| {
        let mut db = vec![0.0f32; n];
        for row in dy.chunks_exact(n.max(1)) {
            for (acc, &g) in db.iter_mut().zip(row) {
                *acc += g;
            }
        }
        db
    });
    [dx, dw, db]
}

/// The linear map as a backend operation (see the module docs).
#[backend_extension(Flex, Autodiff)]
pub trait CpuLinear: Backend {
    /// `x [m, k] · weight [k, n] + bias [n]`, then a ReLU when `relu`.
    fn deepgen_linear_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self>;

    /// `x [m, k] · weight [k, n]`, then a ReLU when `relu`.
    fn deepgen_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self>;
}

fn dims2(t: &FlexTensor) -> [usize; 2] {
    let s = t.layout().shape();
    [s[0], s[1]]
}

fn flex_forward(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    relu: bool,
) -> FlexTensor {
    let (x, weight) = (contiguous(x), contiguous(weight));
    let bias = bias.map(contiguous);
    let ([m, k], [_, n]) = (dims2(&x), dims2(&weight));
    let y = linear_forward(
        values(&x),
        values(&weight),
        bias.as_ref().map(values),
        [m, k, n],
        relu,
    );
    flex_tensor(y, [m, n])
}

impl CpuLinear for Flex {
    fn deepgen_linear_bias(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        relu: bool,
    ) -> FlexTensor {
        flex_forward(x, weight, Some(bias), relu)
    }

    fn deepgen_linear(x: FlexTensor, weight: FlexTensor, relu: bool) -> FlexTensor {
        flex_forward(x, weight, None, relu)
    }
}

/// The backward step: `x` and `weight` are checkpointed, the bias is not needed; after a
/// fused ReLU its output (the op's own result) is kept for the mask.
#[derive(Debug)]
struct LinearBackward;

type State = (NodeId, NodeId, Option<FlexTensor>);

/// Computes the gradients the graph asks for (`parents`: x, weight, bias) and registers them.
fn run_backward<const N: usize>(
    ops: Ops<State, N>,
    grads: &mut Gradients,
    checkpointer: &mut Checkpointer,
) {
    let dy = contiguous(grads.consume::<Flex>(&ops.node));
    let (x_id, w_id, relu_out) = ops.state;
    let relu_out = relu_out.map(contiguous);
    let x = contiguous(checkpointer.retrieve_node_output::<FlexTensor>(x_id));
    let weight = contiguous(checkpointer.retrieve_node_output::<FlexTensor>(w_id));
    let ([m, k], [_, n]) = (dims2(&x), dims2(&weight));
    let parents = ops.parents;
    let want = [0, 1, 2].map(|i| parents.get(i).is_some_and(Option::is_some));
    let results = linear_backward(
        values(&x),
        values(&weight),
        values(&dy),
        relu_out.as_ref().map(values),
        [m, k, n],
        want,
    );
    let shapes = [vec![m, k], vec![k, n], vec![n]];
    for ((parent, grad), shape) in parents.into_iter().zip(results).zip(shapes) {
        if let (Some(node), Some(grad)) = (parent, grad) {
            grads.register::<Flex>(node.id, flex_tensor(grad, shape));
        }
    }
}

impl Backward<Flex, 3> for LinearBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        run_backward(ops, grads, checkpointer);
    }
}

impl Backward<Flex, 2> for LinearBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        run_backward(ops, grads, checkpointer);
    }
}

impl<C: CheckpointStrategy> CpuLinear for Autodiff<Flex, C> {
    fn deepgen_linear_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        match <LinearBackward as Backward<Flex, 3>>::prepare::<C>(
            LinearBackward,
            [x.node(), weight.node(), bias.node()],
        )
        .compute_bound()
        .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let (x_id, w_id) = (prep.checkpoint(&x), prep.checkpoint(&weight));
                let y = flex_forward(
                    x.into_primitive(),
                    weight.into_primitive(),
                    Some(bias.into_primitive()),
                    relu,
                );
                prep.finish((x_id, w_id, relu.then(|| y.clone())), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_forward(
                x.into_primitive(),
                weight.into_primitive(),
                Some(bias.into_primitive()),
                relu,
            )),
        }
    }

    fn deepgen_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        match <LinearBackward as Backward<Flex, 2>>::prepare::<C>(
            LinearBackward,
            [x.node(), weight.node()],
        )
        .compute_bound()
        .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let (x_id, w_id) = (prep.checkpoint(&x), prep.checkpoint(&weight));
                let y = flex_forward(x.into_primitive(), weight.into_primitive(), None, relu);
                prep.finish((x_id, w_id, relu.then(|| y.clone())), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_forward(
                x.into_primitive(),
                weight.into_primitive(),
                None,
                relu,
            )),
        }
    }
}

/// Whether [`linear`] runs deepgen's kernel for these operands (else Burn's `linear`): `f32`
/// input and weight on a flex device, input of rank ≥ 2, kernels not forced to Burn's
/// (`DEEPGEN_CONV=burn` or `DEEPGEN_LINEAR=burn`).
pub fn uses_deepgen_linear<const D: usize>(input: &Tensor<D>, weight: &Tensor<2>) -> bool {
    D >= 2
        && flex_kernels::applies(input)
        && weight.dtype() == DType::F32
        && !flex_kernels::burn_linear_forced()
}

fn run<const D: usize>(
    input: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
    relu: bool,
) -> Tensor<D> {
    let dims = input.dims();
    let [d_in, d_out] = weight.dims();
    assert_eq!(
        dims[D - 1],
        d_in,
        "linear: the input has {} features, the weight {d_in} rows",
        dims[D - 1]
    );
    let rows = dims[..D - 1].iter().product::<usize>();
    let x = input.reshape([rows, d_in]).into_dispatch();
    let w = weight.into_dispatch();
    let y = match bias {
        Some(b) => <Dispatch as CpuLinear>::deepgen_linear_bias(x, w, b.into_dispatch(), relu),
        None => <Dispatch as CpuLinear>::deepgen_linear(x, w, relu),
    };
    let mut out_dims = dims;
    out_dims[D - 1] = d_out;
    Tensor::<2>::from_dispatch(y).reshape(out_dims)
}

/// `input · weight + bias` over the last dimension: `burn::tensor::module::linear`, computed
/// by deepgen's kernel on flex (see the [module docs](self)).
///
/// # Shapes
/// - input: `[..., d_input]`
/// - weight: `[d_input, d_output]`
/// - bias: `[d_output]`
/// - output: `[..., d_output]`
pub fn linear<const D: usize>(
    input: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
) -> Tensor<D> {
    if !uses_deepgen_linear(&input, &weight) {
        return burn::tensor::module::linear(input, weight, bias);
    }
    run(input, weight, bias, false)
}

/// `relu(input · weight + bias)`: [`linear`] and Burn's `relu` in one operation on flex (the
/// ReLU applied in place on the product, its mask applied inside the linear backward step).
///
/// # Shapes
/// As [`linear`].
pub fn linear_relu<const D: usize>(
    input: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
) -> Tensor<D> {
    if !uses_deepgen_linear(&input, &weight) {
        return burn::tensor::activation::relu(burn::tensor::module::linear(input, weight, bias));
    }
    run(input, weight, bias, true)
}

/// `layer.forward(input)` (Burn's [`Linear`]) through [`linear`].
///
/// # Shapes
/// - input: `[..., d_input]`
/// - output: `[..., d_output]`
pub fn forward_linear<const D: usize>(layer: &Linear, input: Tensor<D>) -> Tensor<D> {
    linear(
        input,
        layer.weight.val(),
        layer.bias.as_ref().map(|b| b.val()),
    )
}

/// `relu(layer.forward(input))` through [`linear_relu`].
///
/// # Shapes
/// As [`forward_linear`].
pub fn forward_linear_relu<const D: usize>(layer: &Linear, input: Tensor<D>) -> Tensor<D> {
    linear_relu(
        input,
        layer.weight.val(),
        layer.bias.as_ref().map(|b| b.val()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flex_kernels::test_values;

    /// The shapes the layers use (1-wide inputs and 2-wide outputs of the toy couplings, a
    /// square hidden layer above the threading threshold, single rows and columns).
    const SHAPES: [[usize; 3]; 8] = [
        [512, 1, 128],
        [512, 128, 128],
        [512, 128, 2],
        [1, 7, 5],
        [9, 1, 1],
        [3, 300, 1],
        [200, 200, 200],
        [64, 784, 400],
    ];

    fn naive(x: &[f32], w: &[f32], [m, k, n]: [usize; 3]) -> Vec<f64> {
        let mut y = vec![0.0f64; m * n];
        for r in 0..m {
            for j in 0..n {
                y[r * n + j] = (0..k)
                    .map(|i| x[r * k + i] as f64 * w[i * n + j] as f64)
                    .sum();
            }
        }
        y
    }

    fn assert_close(got: &[f32], want: &[f64], what: &str, shape: [usize; 3]) {
        assert_eq!(got.len(), want.len(), "{what} {shape:?}: length");
        let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g as f64 - w).abs() <= 2e-6 * scale * (shape[0].max(shape[1]) as f64).sqrt(),
                "{what} {shape:?}[{i}]: {g} vs {w}"
            );
        }
    }

    #[test]
    fn gemm_writes_every_element() {
        for [m, k, n] in SHAPES {
            let (x, w) = (test_values(m * k, 1), test_values(k * n, 2));
            let mut dst = vec![f32::NAN; m * n];
            // SAFETY: `dst` holds m·n elements; x is m×k and w is k×n, row-major.
            unsafe {
                flex_kernels::gemm_raw(
                    m,
                    n,
                    k,
                    dst.as_mut_ptr(),
                    false,
                    (&x, 1, k as isize),
                    (&w, 1, n as isize),
                    parallelism(m, n, k),
                )
            };
            assert!(dst.iter().all(|v| v.is_finite()), "{:?}", [m, k, n]);
            assert_close(&dst, &naive(&x, &w, [m, k, n]), "x·w", [m, k, n]);
        }
    }

    #[test]
    fn the_fused_relu_zeroes_negatives_and_keeps_nan_like_burn() {
        // x [1, 1] = 1, w [1, 6]: y = w + b, then ReLU. NaN stays NaN (Burn's relu masks
        // `y <= 0`, which is false for NaN), −∞ and −0.5 become 0, +∞ and 2 stay.
        let w = [f32::NAN, f32::NEG_INFINITY, -0.5, 0.0, 2.0, f32::INFINITY];
        let b = [0.0f32; 6];
        for bias in [None, Some(&b[..])] {
            let y = linear_forward(&[1.0], &w, bias, [1, 1, 6], true);
            assert!(y[0].is_nan(), "{y:?}");
            assert_eq!(&y[1..], &[0.0, 0.0, 0.0, 2.0, f32::INFINITY], "{y:?}");
            // Long enough for the vectorised loop body (and its remainder): 37 rows of 6.
            let x = vec![1.0f32; 37];
            let y = linear_forward(&x, &w, bias, [37, 1, 6], true);
            for row in y.chunks(6) {
                assert!(row[0].is_nan() && row[1..] == [0.0, 0.0, 0.0, 2.0, f32::INFINITY]);
            }
        }
    }

    #[test]
    fn forward_matches_the_direct_sum() {
        for shape @ [m, k, n] in SHAPES {
            let (x, w, b) = (
                test_values(m * k, 3),
                test_values(k * n, 4),
                test_values(n, 5),
            );
            let mut want = naive(&x, &w, shape);
            assert_close(
                &linear_forward(&x, &w, None, shape, false),
                &want,
                "y",
                shape,
            );
            for (i, v) in want.iter_mut().enumerate() {
                *v += b[i % n] as f64;
            }
            assert_close(
                &linear_forward(&x, &w, Some(&b), shape, false),
                &want,
                "y + b",
                shape,
            );
            let relu: Vec<f64> = want.iter().map(|v| v.max(0.0)).collect();
            assert_close(
                &linear_forward(&x, &w, Some(&b), shape, true),
                &relu,
                "relu(y + b)",
                shape,
            );
        }
    }

    #[test]
    fn backward_matches_the_direct_gradients() {
        for shape @ [m, k, n] in SHAPES {
            let (x, w, dy) = (
                test_values(m * k, 6),
                test_values(k * n, 7),
                test_values(m * n, 8),
            );
            let [dx, dw, db] = linear_backward(&x, &w, &dy, None, shape, [true; 3]);
            // dx = dy · wᵀ: w transposed is [n, k].
            let wt: Vec<f32> = (0..n * k).map(|p| w[(p % k) * n + p / k]).collect();
            assert_close(&dx.unwrap(), &naive(&dy, &wt, [m, n, k]), "dx", shape);
            // dw = xᵀ · dy: x transposed is [k, m].
            let xt: Vec<f32> = (0..k * m).map(|p| x[(p % m) * k + p / m]).collect();
            assert_close(&dw.unwrap(), &naive(&xt, &dy, [k, m, n]), "dw", shape);
            let want_db: Vec<f64> = (0..n)
                .map(|j| (0..m).map(|r| dy[r * n + j] as f64).sum())
                .collect();
            assert_close(&db.unwrap(), &want_db, "db", shape);
            let none = linear_backward(&x, &w, &dy, None, shape, [false, true, false]);
            assert!(none[0].is_none() && none[1].is_some() && none[2].is_none());
            // After a fused ReLU: the gradients of the masked output gradient, to the bit.
            let y = test_values(m * n, 10);
            let masked: Vec<f32> = dy
                .iter()
                .zip(&y)
                .map(|(&g, &y)| if y > 0.0 || y.is_nan() { g } else { 0.0 })
                .collect();
            assert_eq!(
                linear_backward(&x, &w, &dy, Some(&y), shape, [true; 3]),
                linear_backward(&x, &w, &masked, None, shape, [true; 3]),
                "{shape:?}"
            );
        }
    }
}
