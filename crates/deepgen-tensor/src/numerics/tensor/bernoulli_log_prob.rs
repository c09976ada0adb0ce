//! `x·ℓ − softplus(ℓ)`, the Bernoulli log-likelihood of `x` under logits `ℓ`, as one operation.
//!
//! [`bernoulli_log_prob`] is [`bernoulli_log_prob_composed`] — [`softplus`] and the product
//! composed from Burn operations — with **the same bits**, values and gradients, on every
//! backend. On flex (f32, equal shapes) it is one backend operation instead of eight: in a
//! `perf` profile of the IWAE paper's VAE step (784-200-200-50 tanh, batch 100; the `iwae_net`
//! workload, 2026-12-06) its libm `expf` and `log1pf` calls alone took 13 % of the step, in
//! eight serial passes on the calling thread forward and backward (`expf` twice). Here
//! the forward is one pass over rayon's pool (`expf` and `log1pf` once per element, the same libm
//! calls Burn makes, in the same order) that keeps `e^{min(ℓ, 36)}` for the backward, and the
//! backward is one pass that repeats the composition's chain rule operation for operation:
//! `dℓ = (g·x + [ℓ > 36 ? −g : ((−g)·(1/(e + 1)))·e]) + 0` (the `+ 0` is the zero that Burn's
//! masked branches add, which turns a `−0` sum into `+0` as theirs does) and `dx = g·ℓ`. That
//! the two agree bit for bit is this module's test, on values spanning both branches.
//!
//! Written by hand because fusing across Burn's operations is only possible through a backend
//! extension; the other backends (and other dtypes or shapes) run the composition, and so does
//! flex when the environment variable [`COMPOSED_ENV`] is `composed` (the same bits either way:
//! the switch exists to time one against the other with the same binary).

use burn::tensor::Tensor;

use super::softplus::{LINEAR_FROM, softplus};

/// `DEEPGEN_BERNOULLI=composed` runs [`bernoulli_log_prob_composed`] on flex too (read once per
/// process).
pub const COMPOSED_ENV: &str = "DEEPGEN_BERNOULLI";

/// `x·ℓ − softplus(ℓ)` from Burn operations: the reference [`bernoulli_log_prob`] reproduces,
/// and what it runs where the fused operation does not apply.
///
/// # Shapes
/// - logits, x and output: any, the same
pub fn bernoulli_log_prob_composed<const D: usize>(logits: Tensor<D>, x: Tensor<D>) -> Tensor<D> {
    x * logits.clone() - softplus(logits)
}

/// `x·ℓ − softplus(ℓ)` element-wise (`= x·ln σ(ℓ) + (1 − x)·ln σ(−ℓ)`): the log-probability of
/// bits `x` (or the negated binary cross-entropy with logits of grey levels `x ∈ [0, 1]`).
/// Differentiable in both arguments; one fused operation on flex (see the module docs), the
/// same bits as [`bernoulli_log_prob_composed`] everywhere.
///
/// # Shapes
/// - logits, x and output: any, the same
pub fn bernoulli_log_prob<const D: usize>(logits: Tensor<D>, x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if flex_op::applies(&logits, &x) {
        return flex_op::run(logits, x);
    }
    bernoulli_log_prob_composed(logits, x)
}

#[cfg(feature = "flex")]
mod flex_op {
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::flex::FlexTensor;
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
    use burn::tensor::Tensor;
    use rayon::prelude::*;
    use std::sync::OnceLock;

    use super::{COMPOSED_ENV, LINEAR_FROM};
    use crate::flex::{contiguous, flex_tensor, is_flex_f32, values};

    fn composed_forced() -> bool {
        static FORCED: OnceLock<bool> = OnceLock::new();
        *FORCED.get_or_init(|| {
            std::env::var(COMPOSED_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("composed"))
        })
    }

    /// Elements per rayon task: two libm calls per element make ~8 K elements ≈ 0.2 ms, so a
    /// 100 × 784 batch spreads over both cores of a laptop in ten tasks.
    const CHUNK: usize = 1 << 13;

    /// f32 tensors of one shape on flex (with or without autodiff).
    pub(super) fn applies<const D: usize>(logits: &Tensor<D>, x: &Tensor<D>) -> bool {
        is_flex_f32(logits) && is_flex_f32(x) && logits.shape() == x.shape() && !composed_forced()
    }

    pub(super) fn run<const D: usize>(logits: Tensor<D>, x: Tensor<D>) -> Tensor<D> {
        Tensor::from_dispatch(
            <Dispatch as CpuBernoulliLogProb>::deepgen_bernoulli_log_prob(
                logits.into_dispatch(),
                x.into_dispatch(),
            ),
        )
    }

    /// The fused operation as a backend extension (see the module docs).
    #[backend_extension(Flex, Autodiff)]
    pub trait CpuBernoulliLogProb: Backend {
        /// `x·ℓ − softplus(ℓ)` element-wise, `logits` and `x` of one shape.
        fn deepgen_bernoulli_log_prob(
            logits: FloatTensor<Self>,
            x: FloatTensor<Self>,
        ) -> FloatTensor<Self>;
    }

    /// One element of the forward: the output and `e = e^{min(ℓ, 36)}` (NaN stays NaN).
    #[inline(always)]
    fn forward_one(l: f32, x: f32) -> (f32, f32) {
        let linear = l > LINEAR_FROM as f32;
        // Burn's `clamp_max` on autodiff: `mask_fill(ℓ, ℓ > 36, 36)`.
        let c = if linear { LINEAR_FROM as f32 } else { l };
        let e = c.exp();
        let softplus = if linear { l } else { e.ln_1p() };
        (x * l - softplus, e)
    }

    /// dℓ of one element for the upstream gradient `g`.
    #[inline(always)]
    fn dlogit(l: f32, x: f32, e: f32, g: f32) -> f32 {
        let s = -g;
        let through_softplus = if l > LINEAR_FROM as f32 {
            s
        } else {
            (s * (1.0 / (e + 1.0))) * e
        };
        (g * x + through_softplus) + 0.0
    }

    /// A flex tensor of `like`'s shape holding `data`.
    fn shaped(data: Vec<f32>, like: &FlexTensor) -> FlexTensor {
        flex_tensor(data, like.layout().shape().to_vec())
    }

    /// The output and `e`, computed chunk by chunk on rayon.
    fn forward(logits: &FlexTensor, x: &FlexTensor) -> (FlexTensor, FlexTensor) {
        let (l, xs) = (values(logits), values(x));
        let mut out = vec![0.0f32; l.len()];
        let mut e = vec![0.0f32; l.len()];
        out.par_chunks_mut(CHUNK)
            .zip(e.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(i, (out, e))| {
                let r = i * CHUNK..i * CHUNK + out.len();
                for (((o, e), &l), &x) in out.iter_mut().zip(e).zip(&l[r.clone()]).zip(&xs[r]) {
                    (*o, *e) = forward_one(l, x);
                }
            });
        (shaped(out, logits), shaped(e, logits))
    }

    impl CpuBernoulliLogProb for Flex {
        fn deepgen_bernoulli_log_prob(logits: FlexTensor, x: FlexTensor) -> FlexTensor {
            forward(&contiguous(logits), &contiguous(x)).0
        }
    }

    #[derive(Debug)]
    struct BernoulliLogProbBackward;

    impl Backward<Flex, 2> for BernoulliLogProbBackward {
        /// The logits, `x` and `e^{min(ℓ, 36)}`, contiguous.
        type State = (FlexTensor, FlexTensor, FlexTensor);

        fn backward(
            self,
            ops: Ops<Self::State, 2>,
            grads: &mut Gradients,
            _checkpointer: &mut Checkpointer,
        ) {
            let g = contiguous(grads.consume::<Flex>(&ops.node));
            let (logits, x, e) = ops.state;
            let [dl_node, dx_node] = ops.parents;
            let (l, xs, es, gs) = (values(&logits), values(&x), values(&e), values(&g));
            if let Some(node) = dl_node {
                let mut dl = vec![0.0f32; l.len()];
                dl.par_chunks_mut(CHUNK).enumerate().for_each(|(i, dl)| {
                    let o = i * CHUNK;
                    for (j, d) in dl.iter_mut().enumerate() {
                        *d = dlogit(l[o + j], xs[o + j], es[o + j], gs[o + j]);
                    }
                });
                grads.register::<Flex>(node.id, shaped(dl, &logits));
            }
            if let Some(node) = dx_node {
                // The product's gradient: `g·ℓ`.
                let dx: Vec<f32> = gs.par_iter().zip(l).map(|(&g, &l)| g * l).collect();
                grads.register::<Flex>(node.id, shaped(dx, &logits));
            }
        }
    }

    impl<C: CheckpointStrategy> CpuBernoulliLogProb for Autodiff<Flex, C> {
        fn deepgen_bernoulli_log_prob(
            logits: FloatTensor<Self>,
            x: FloatTensor<Self>,
        ) -> FloatTensor<Self> {
            match BernoulliLogProbBackward
                .prepare::<C>([logits.node(), x.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let (l, xs) = (
                        contiguous(logits.primitive().clone()),
                        contiguous(x.primitive().clone()),
                    );
                    let (out, e) = forward(&l, &xs);
                    prep.finish((l, xs, e), out)
                }
                OpsKind::UnTracked(prep) => {
                    let (l, xs) = (
                        contiguous(logits.into_primitive()),
                        contiguous(x.into_primitive()),
                    );
                    prep.finish(forward(&l, &xs).0)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::host;
    use crate::numerics::tensor::test_support::{devices, to_vec};
    use burn::tensor::{Device, TensorData};

    /// Logits over both branches (ℓ ≤ 36 through `log1p(e^ℓ)`, ℓ > 36 linear), the branch
    /// point, `e^ℓ` underflowing to 0 and ±0; more than one rayon chunk.
    fn logits() -> Vec<f32> {
        let mut v: Vec<f32> = (0..20_000).map(|i| (i as f32 - 10_000.0) * 0.013).collect();
        v.extend([
            -120.0, -104.0, -88.0, -1e-30, -0.0, 0.0, 1e-30, 35.999_996, 36.0, 36.000_004, 88.0,
            1e30,
        ]);
        v
    }

    /// Bits, grey levels and values just off 0 and 1, cycling against the logits.
    fn targets(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| [0.0, 1.0, 0.5, 0.25, 1.0, 0.0, 0.999_9, 1e-4, 0.75][i % 9])
            .collect()
    }

    fn tensor(v: &[f32], device: &Device) -> Tensor<1> {
        Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
    }

    fn bits(t: Tensor<1>) -> Vec<u32> {
        t.into_data()
            .try_to_vec::<f32>()
            .expect("f32 tensor")
            .iter()
            .map(|v| v.to_bits())
            .collect()
    }

    /// Output, dℓ and dx (when `x_grad`) of `f` under upstream weights that vary per element
    /// and change sign (so `g`, `−g` and the products round differently).
    fn run(
        f: fn(Tensor<1>, Tensor<1>) -> Tensor<1>,
        x_grad: bool,
    ) -> (Vec<u32>, Vec<u32>, Option<Vec<u32>>) {
        let device = Device::flex().autodiff();
        let l = logits();
        let n = l.len();
        let l = tensor(&l, &device).require_grad();
        let mut x = tensor(&targets(n), &device);
        if x_grad {
            x = x.require_grad();
        }
        let w: Vec<f32> = (0..n).map(|i| (i % 13) as f32 * 0.37 - 2.1).collect();
        let y = f(l.clone(), x.clone());
        let values = bits(y.clone());
        let grads = (y * tensor(&w, &device)).sum().backward();
        let dl = l.grad(&grads).expect("logits require grad");
        let dx = x_grad.then(|| bits(x.grad(&grads).expect("x requires grad")));
        (values, bits(dl), dx)
    }

    #[test]
    fn fused_gives_the_compositions_bits_values_and_gradients() {
        assert!(flex_op::applies(
            &Tensor::<1>::zeros([2], &Device::flex().autodiff()),
            &Tensor::<1>::zeros([2], &Device::flex().autodiff()),
        ));
        for x_grad in [false, true] {
            let fused = run(bernoulli_log_prob::<1>, x_grad);
            let composed = run(bernoulli_log_prob_composed::<1>, x_grad);
            for (what, a, b) in [
                ("value", &fused.0, &composed.0),
                ("dℓ", &fused.1, &composed.1),
            ] {
                let diff = a.iter().zip(b).position(|(a, b)| a != b);
                assert_eq!(diff, None, "{what} differs (x_grad {x_grad}) at {diff:?}");
            }
            assert_eq!(fused.2, composed.2, "dx (x_grad {x_grad})");
        }
    }

    #[test]
    fn untracked_forward_gives_the_same_bits() {
        let device = Device::flex();
        let l = logits();
        let x = targets(l.len());
        let fused = bernoulli_log_prob(tensor(&l, &device), tensor(&x, &device));
        let composed = bernoulli_log_prob_composed(tensor(&l, &device), tensor(&x, &device));
        assert_eq!(bits(fused), bits(composed));
    }

    /// Against the f64 host formula, on flex (fused) and ndarray (composed).
    #[test]
    fn matches_x_logit_minus_host_softplus() {
        let l = logits();
        let x = targets(l.len());
        for device in devices() {
            let got = to_vec(bernoulli_log_prob(tensor(&l, &device), tensor(&x, &device)));
            for ((&l, &x), &g) in l.iter().zip(&x).zip(&got) {
                let (l, x) = (l as f64, x as f64);
                let want = x * l - host::softplus(l);
                // The f32 product and difference: a few ulps of the larger term.
                let tol = 4.0 * f32::EPSILON as f64 * (x * l).abs().max(host::softplus(l)) + 1e-38;
                assert!((g - want).abs() <= tol, "x {x}, ℓ {l}: {g} vs {want}");
            }
        }
    }
}
