//! Scaled dot-product attention `softmax(q kᵀ / √d) v`, with the batch cut into chunks that run
//! as rayon tasks on flex.
//!
//! [`scaled_dot_product_attention`] computes exactly what the Burn expression
//! `softmax(q.matmul(k.swap_dims(2, 3)) / √d, 3).matmul(v)` computes, **to the bit**, forward
//! and backward: each chunk of images goes through the same flex operations Burn runs for the
//! whole batch (on an autodiff device, the `max`/`sub`/`exp`/`sum`/`div` chain that Burn's
//! default softmax is made of, and the backward step of each of those operations in Burn's
//! order; without autodiff, flex's own softmax). Every one of them is per image (the matrix
//! products) or per row (the softmax's sums), so cutting the batch changes which thread computes
//! a number, never how. Why by hand: Burn runs these operations one after the other on the
//! calling thread, each too small to split (the U-Net's attention at 7 × 7 is `[64, 1, 49, 49]`
//! weights), and with the backward step the four attention blocks were ≈ 8 % of a U-Net training
//! step with the other core idle (AMD EPYC, 2026-12-06); chunked, a block is 1.2–1.4× faster
//! (docs/performance.md). Other backends and dtypes, and
//! `DEEPGEN_CONV=burn`, take Burn's expression.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ActivationOps, FloatTensorOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, Scalar, backend_extension};
use burn::tensor::activation::softmax;
use burn::tensor::{DType, Slice, Tensor};
use rayon::prelude::*;

use crate::flex_kernels::{self, contiguous, flex_tensor, values};

/// `1/√d` as Burn's `tensor / (d as f64).sqrt()` passes it to the backend.
fn scale(d: usize) -> Scalar {
    Scalar::new((d as f64).sqrt(), &DType::F32)
}

/// Images `lo..hi` of `t` (a view, no copy).
fn images(t: &FlexTensor, lo: usize, hi: usize) -> FlexTensor {
    let mut slices: Vec<Slice> = t
        .layout()
        .shape()
        .iter()
        .map(|&n| Slice::new(0, Some(n as isize), 1))
        .collect();
    slices[0] = Slice::new(lo as isize, Some(hi as isize), 1);
    burn::backend::flex::ops::slice::slice(t.clone(), &slices)
}

/// The chunks of a batch of `batch` images: about four per rayon thread, in order.
fn chunks(batch: usize) -> Vec<(usize, usize)> {
    let count = (4 * rayon::current_num_threads()).clamp(1, batch.max(1));
    let len = batch.div_ceil(count).max(1);
    (0..batch)
        .step_by(len)
        .map(|lo| (lo, (lo + len).min(batch)))
        .collect()
}

/// The chunks' contiguous tensors (each `[images, ...]`, made contiguous by their own tasks)
/// stacked along the first dimension into one contiguous tensor of `shape`, copied in parallel.
fn stack(parts: Vec<FlexTensor>, shape: Vec<usize>) -> FlexTensor {
    let len: usize = shape.iter().product();
    let mut out = vec![0.0f32; len];
    let mut rest = out.as_mut_slice();
    let mut slots = Vec::with_capacity(parts.len());
    for p in &parts {
        let (slot, tail) = rest.split_at_mut(values(p).len());
        slots.push(slot);
        rest = tail;
    }
    assert!(
        rest.is_empty(),
        "attention: chunks of {} elements for a tensor of {len}",
        len - rest.len()
    );
    slots
        .into_par_iter()
        .zip(&parts)
        .for_each(|(slot, p)| slot.copy_from_slice(values(p)));
    flex_tensor(out, shape)
}

/// What the backward step of one chunk needs (all views or shared buffers, never written to).
#[derive(Clone, Debug)]
struct Saved {
    q: FlexTensor,
    /// `kᵀ` (`[.., d, N]`, a view of `k`).
    k_t: FlexTensor,
    v: FlexTensor,
    /// `exp(scores − max)`: also what Burn's `exp` backward recomputes from its input.
    e: FlexTensor,
    /// `Σ e` over the keys (`[.., N, 1]`).
    sum: FlexTensor,
    /// The attention weights `e / Σ e`.
    y: FlexTensor,
}

/// One chunk's forward pass as Burn's autodiff backend runs it (its default softmax: a detached
/// max, `sub`, `exp`, `sum_dim`, `div`), and what its backward step needs.
fn forward_composed(q: FlexTensor, k: FlexTensor, v: FlexTensor, d: usize) -> (FlexTensor, Saved) {
    let k_t = Flex::float_swap_dims(k, 2, 3);
    let scores = Flex::float_div_scalar(Flex::float_matmul(q.clone(), k_t.clone()), scale(d));
    let max = Flex::float_max_dim(scores.clone(), 3);
    let e = Flex::float_exp(Flex::float_sub(scores, max));
    let sum = Flex::float_sum_dim(e.clone(), 3);
    let y = Flex::float_div(e.clone(), sum.clone());
    let out = Flex::float_matmul(y.clone(), v.clone());
    (
        out,
        Saved {
            q,
            k_t,
            v,
            e,
            sum,
            y,
        },
    )
}

/// One chunk's gradients `(dq, dk, dv)` from the output gradient `grad`: the backward steps of
/// Burn's autodiff operations above, in its order, with its operand order.
fn backward_composed(s: &Saved, grad: FlexTensor, d: usize) -> [FlexTensor; 3] {
    // out = y · v
    let dy = Flex::float_matmul(grad.clone(), Flex::float_transpose(s.v.clone()));
    let dv = Flex::float_matmul(Flex::float_transpose(s.y.clone()), grad);
    // y = e / sum: the lhs gradient, and the rhs one summed over the broadcast key dimension
    let de_div = Flex::float_mul(dy.clone(), Flex::float_recip(s.sum.clone()));
    let value = Flex::float_div(
        Flex::float_neg(s.e.clone()),
        Flex::float_powi_scalar(s.sum.clone(), Scalar::from(2i32)),
    );
    let dsum = Flex::float_sum_dim(Flex::float_mul(dy, value), 3);
    // sum = Σ e: ones · the gradient summed over its (size-1) dimension
    let ones = Flex::float_ones(
        s.e.layout().shape().clone(),
        &Default::default(),
        DType::F32.into(),
    );
    let de_sum = Flex::float_mul(ones, Flex::float_sum_dim(dsum, 3));
    // Burn registers e's second gradient onto the first: `add(new, old)`.
    let de = Flex::float_add(de_sum, de_div);
    // e = exp(scores − max), the max detached: d scores = de · exp(·)
    let dscores = Flex::float_mul(de, s.e.clone());
    // scores = (q · kᵀ) / √d: Burn multiplies by the f32 reciprocal of the divisor
    let inv: f32 = 1.0 / scale(d).elem::<f32>();
    let dprod = Flex::float_mul_scalar(dscores, Scalar::from(inv));
    let dq = Flex::float_matmul(dprod.clone(), Flex::float_transpose(s.k_t.clone()));
    let dk_t = Flex::float_matmul(Flex::float_transpose(s.q.clone()), dprod);
    // `dk` is a transposed view: copied out here, in the chunk's task, for `stack`.
    [dq, Flex::float_swap_dims(dk_t, 2, 3), dv].map(contiguous)
}

/// Without autodiff: flex's own softmax, as Burn's expression runs on a plain flex device.
fn forward_inference(q: FlexTensor, k: FlexTensor, v: FlexTensor, d: usize) -> FlexTensor {
    let k_t = Flex::float_swap_dims(k, 2, 3);
    let scores = Flex::float_div_scalar(Flex::float_matmul(q, k_t), scale(d));
    Flex::float_matmul(Flex::softmax(scores, 3), v)
}

/// Checks the shapes and returns `(batch, d, the output shape)`.
fn shapes(q: &FlexTensor, k: &FlexTensor, v: &FlexTensor) -> (usize, usize, Vec<usize>) {
    let (qs, ks, vs) = (
        q.layout().shape().to_vec(),
        k.layout().shape().to_vec(),
        v.layout().shape().to_vec(),
    );
    assert!(
        qs.len() == 4 && ks.len() == 4 && vs.len() == 4,
        "attention: q, k, v must be [batch, heads, N, d], got {qs:?}, {ks:?}, {vs:?}"
    );
    assert!(
        qs[..2] == ks[..2] && ks[..3] == vs[..3] && qs[3] == ks[3],
        "attention: q [B, h, Nq, d], k [B, h, N, d] and v [B, h, N, dv] must agree, got \
         {qs:?}, {ks:?}, {vs:?}"
    );
    (qs[0], qs[3], vec![qs[0], qs[1], qs[2], vs[3]])
}

/// One chunk's image range and saved state.
type Chunk = ((usize, usize), Saved);
/// Every chunk's.
type Chunks = Vec<Chunk>;

/// The chunked forward pass over `q`, `k`, `v`: Burn's autodiff composition and the state for
/// the backward step when `composed`, else flex's softmax and no state.
fn run(q: FlexTensor, k: FlexTensor, v: FlexTensor, composed: bool) -> (FlexTensor, Chunks) {
    let (batch, d, shape) = shapes(&q, &k, &v);
    let parts: Vec<(FlexTensor, Option<Chunk>)> = chunks(batch)
        .into_par_iter()
        .with_max_len(1)
        .map(|(lo, hi)| {
            let (qc, kc, vc) = (images(&q, lo, hi), images(&k, lo, hi), images(&v, lo, hi));
            if composed {
                let (out, saved) = forward_composed(qc, kc, vc, d);
                (contiguous(out), Some(((lo, hi), saved)))
            } else {
                (contiguous(forward_inference(qc, kc, vc, d)), None)
            }
        })
        .collect();
    let (outs, saved): (Vec<FlexTensor>, Vec<Option<_>>) = parts.into_iter().unzip();
    (stack(outs, shape), saved.into_iter().flatten().collect())
}

/// The chunked attention as a backend operation (see the module docs).
#[backend_extension(Flex, Autodiff)]
pub trait CpuAttention: Backend {
    /// `softmax(q kᵀ / √d) v` with the softmax over the last dimension.
    fn deepgen_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

impl CpuAttention for Flex {
    fn deepgen_attention(q: FlexTensor, k: FlexTensor, v: FlexTensor) -> FlexTensor {
        run(q, k, v, false).0
    }
}

/// The backward step: each chunk's Burn-ordered gradients, stacked.
#[derive(Debug)]
struct AttentionBackward;

/// `(each chunk's images and saved state, d, the shapes of q, k and v)`.
type AttentionState = (Chunks, usize, [Vec<usize>; 3]);

impl Backward<Flex, 3> for AttentionBackward {
    type State = AttentionState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (saved, d, shapes) = ops.state;
        let grad = grads.consume::<Flex>(&ops.node);
        let parts: Vec<[FlexTensor; 3]> = saved
            .par_iter()
            .with_max_len(1)
            .map(|&((lo, hi), ref s)| backward_composed(s, images(&grad, lo, hi), d))
            .collect();
        let mut per_input: [Vec<FlexTensor>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        for part in parts {
            for (list, g) in per_input.iter_mut().zip(part) {
                list.push(g);
            }
        }
        for ((parent, list), shape) in ops.parents.into_iter().zip(per_input).zip(shapes) {
            if let Some(node) = parent {
                grads.register::<Flex>(node.id, stack(list, shape));
            }
        }
    }
}

impl<C: CheckpointStrategy> CpuAttention for Autodiff<Flex, C> {
    fn deepgen_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let input_shapes = [
            q.primitive().layout().shape().to_vec(),
            k.primitive().layout().shape().to_vec(),
            v.primitive().layout().shape().to_vec(),
        ];
        let d = input_shapes[0][3];
        match AttentionBackward
            .prepare::<C>([q.node(), k.node(), v.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, saved) = run(
                    q.into_primitive(),
                    k.into_primitive(),
                    v.into_primitive(),
                    true,
                );
                prep.finish((saved, d, input_shapes), out)
            }
            // Burn's autodiff backend runs its composed softmax even when nothing is tracked.
            OpsKind::UnTracked(prep) => prep.finish(
                run(
                    q.into_primitive(),
                    k.into_primitive(),
                    v.into_primitive(),
                    true,
                )
                .0,
            ),
        }
    }
}

/// `softmax(q kᵀ / √d, 3) v`: attention of every query over the keys, per image and head, with
/// `d` the size of the last dimension of `q` and `k`. The same values, to the bit, as Burn's
/// `softmax(q.matmul(k.swap_dims(2, 3)) / (d as f64).sqrt(), 3).matmul(v)` (see the
/// [module docs](self) for how it is computed on flex).
///
/// # Shapes
/// - q: `[batch, heads, N_q, d]`
/// - k: `[batch, heads, N, d]`
/// - v: `[batch, heads, N, d_v]`
/// - output: `[batch, heads, N_q, d_v]`
///
/// # Panics
/// If the shapes do not agree as above.
pub fn scaled_dot_product_attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>) -> Tensor<4> {
    if !(flex_kernels::applies(&q) && flex_kernels::applies(&k) && flex_kernels::applies(&v)) {
        let d = q.dims()[3];
        let scores = q.matmul(k.swap_dims(2, 3)) / (d as f64).sqrt();
        return softmax(scores, 3).matmul(v);
    }
    Tensor::from_dispatch(<Dispatch as CpuAttention>::deepgen_attention(
        q.into_dispatch(),
        k.into_dispatch(),
        v.into_dispatch(),
    ))
}
