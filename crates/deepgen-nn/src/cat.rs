//! Concatenation of two tensors along one dimension, copied in parallel on flex.
//!
//! [`cat`] is `Tensor::cat` with the same signature and result (the same elements in the same
//! places: a copy, so the same bits). Burn's flex `cat` copies on the calling thread, one
//! `memcpy` per outer index and input, while the other workers wait: the U-Net's skip
//! concatenations were ≈ 2.5 % of its training step with one of the two cores idle (perf, AMD
//! EPYC, 2026-12-06). Here each task copies a block of outer indices (whole images for the
//! U-Net's channel concatenation) straight into the output. The backward step is Burn's: each
//! input's gradient is a view (`slice`) of the output gradient, which the convolutions read in
//! place. Other backends, dtypes, `DEEPGEN_CONV=burn`, and lists of other than two tensors use
//! `Tensor::cat`.

use std::mem::MaybeUninit;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Slice, Tensor};
use rayon::prelude::*;

use crate::flex_kernels::{self, contiguous, flex_tensor, leaf_len, values};

/// `[a, b]` concatenated along `dim`: for every outer index (the dimensions before `dim`), `a`'s
/// block of `a_block` elements, then `b`'s of `b_block`.
fn cat_values(a: &[f32], b: &[f32], outer: usize, a_block: usize, b_block: usize) -> Vec<f32> {
    assert!(
        a.len() == outer * a_block && b.len() == outer * b_block,
        "cat: {} and {} elements for {outer} blocks of {a_block} and {b_block}",
        a.len(),
        b.len()
    );
    let block = a_block + b_block;
    let len = outer * block;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let copy = |i: usize, dst: &mut [MaybeUninit<f32>]| {
        let (da, db) = dst.split_at_mut(a_block);
        for (d, s) in da.iter_mut().zip(&a[i * a_block..(i + 1) * a_block]) {
            d.write(*s);
        }
        for (d, s) in db.iter_mut().zip(&b[i * b_block..(i + 1) * b_block]) {
            d.write(*s);
        }
    };
    if block > 0 {
        // Leaves of whole outer blocks worth `LEAF_MIN` elements: one leaf (this thread, no
        // task) for a small output.
        let leaf = leaf_len(block);
        out.spare_capacity_mut()[..len]
            .par_chunks_mut(block)
            .with_min_len(leaf)
            .with_max_len(leaf)
            .enumerate()
            .for_each(|(i, dst)| copy(i, dst));
    }
    // SAFETY: the `outer` blocks of `block` elements cover `0..len`, and `copy` writes every
    // element of its block (`a_block` from `a`, then `b_block` from `b`).
    unsafe { out.set_len(len) };
    out
}

/// The output shape, the number of outer indices, and the per-outer-index block lengths of `a`
/// and `b` along `dim`.
///
/// # Panics
/// As `Tensor::cat`: different ranks, or sizes that differ outside `dim`.
fn cat_shape(a: &[usize], b: &[usize], dim: usize) -> (Vec<usize>, usize, usize, usize) {
    assert!(
        a.len() == b.len() && dim < a.len(),
        "cat: tensors of shapes {a:?} and {b:?} along dimension {dim}"
    );
    for (d, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            d == dim || x == y,
            "cat: shapes {a:?} and {b:?} differ in dimension {d}, not only in {dim}"
        );
    }
    let inner: usize = a[dim + 1..].iter().product();
    let mut out = a.to_vec();
    out[dim] += b[dim];
    let outer = a[..dim].iter().product();
    (out, outer, a[dim] * inner, b[dim] * inner)
}

fn flex_cat(a: FlexTensor, b: FlexTensor, dim: usize) -> FlexTensor {
    let (a, b) = (contiguous(a), contiguous(b));
    let (shape, outer, ab, bb) = cat_shape(a.layout().shape(), b.layout().shape(), dim);
    flex_tensor(cat_values(values(&a), values(&b), outer, ab, bb), shape)
}

/// The parallel concatenation as a backend operation (see the module docs).
#[backend_extension(Flex, Autodiff)]
pub trait CpuCat: Backend {
    /// `a` and `b` concatenated along `dim`.
    fn deepgen_cat2(a: FloatTensor<Self>, b: FloatTensor<Self>, dim: usize) -> FloatTensor<Self>;
}

impl CpuCat for Flex {
    fn deepgen_cat2(a: FlexTensor, b: FlexTensor, dim: usize) -> FlexTensor {
        flex_cat(a, b, dim)
    }
}

/// The backward step, as Burn's `cat`: each tracked input gets its slice of the gradient.
#[derive(Debug)]
struct CatBackward;

impl Backward<Flex, 2> for CatBackward {
    /// `(dim, a's size along it)`.
    type State = (usize, usize);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (dim, a_size) = ops.state;
        let grad = grads.consume::<Flex>(&ops.node);
        let full: Vec<Slice> = grad
            .layout()
            .shape()
            .iter()
            .map(|&n| Slice::new(0, Some(n as isize), 1))
            .collect();
        let total = grad.layout().shape()[dim];
        for (parent, (start, end)) in ops.parents.into_iter().zip([(0, a_size), (a_size, total)]) {
            if let Some(node) = parent {
                let mut slices = full.clone();
                slices[dim] = Slice::new(start as isize, Some(end as isize), 1);
                let part = burn::backend::flex::ops::slice::slice(grad.clone(), &slices);
                grads.register::<Flex>(node.id, part);
            }
        }
    }
}

impl<C: CheckpointStrategy> CpuCat for Autodiff<Flex, C> {
    fn deepgen_cat2(a: FloatTensor<Self>, b: FloatTensor<Self>, dim: usize) -> FloatTensor<Self> {
        let a_size = a.primitive().layout().shape()[dim];
        match CatBackward
            .prepare::<C>([a.node(), b.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = flex_cat(a.into_primitive(), b.into_primitive(), dim);
                prep.finish((dim, a_size), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(flex_cat(a.into_primitive(), b.into_primitive(), dim))
            }
        }
    }
}

/// `Tensor::cat(tensors, dim)`, with two flex `f32` tensors copied in parallel (see the
/// module docs).
///
/// # Shapes
/// - inputs: equal except along `dim`
/// - output: their sizes along `dim` added
///
/// # Panics
/// As `Tensor::cat`: an empty list, or shapes that differ outside `dim`.
pub fn cat<const D: usize>(tensors: Vec<Tensor<D>>, dim: usize) -> Tensor<D> {
    if tensors.len() != 2 || !tensors.iter().all(flex_kernels::applies) {
        return Tensor::cat(tensors, dim);
    }
    let mut it = tensors.into_iter();
    let (a, b) = (it.next().expect("two"), it.next().expect("two"));
    Tensor::from_dispatch(<Dispatch as CpuCat>::deepgen_cat2(
        a.into_dispatch(),
        b.into_dispatch(),
        dim,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flex_kernels::LEAF_MIN;

    #[test]
    fn blocks_interleave_per_outer_index() {
        // [2, 2] ++ [2, 3] along dimension 1.
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        let (shape, outer, ab, bb) = cat_shape(&[2, 2], &[2, 3], 1);
        assert_eq!((shape, outer, ab, bb), (vec![2, 5], 2, 2, 3));
        assert_eq!(
            cat_values(&a, &b, outer, ab, bb),
            [1.0, 2.0, 5.0, 6.0, 7.0, 3.0, 4.0, 8.0, 9.0, 10.0]
        );
    }

    #[test]
    fn the_parallel_copy_matches_the_serial_one() {
        // 67 images of 16 + 8 channels of 7x7: several leaves, the last one partial.
        let (outer, ab, bb) = (67, 16 * 49, 8 * 49);
        let a: Vec<f32> = (0..outer * ab).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..outer * bb).map(|i| -(i as f32)).collect();
        let got = cat_values(&a, &b, outer, ab, bb);
        let want: Vec<f32> = (0..outer)
            .flat_map(|i| {
                a[i * ab..(i + 1) * ab]
                    .iter()
                    .chain(&b[i * bb..(i + 1) * bb])
                    .copied()
            })
            .collect();
        assert!(got.len() >= 2 * LEAF_MIN);
        assert_eq!(got, want);
    }

    #[test]
    fn empty_parts_are_allowed() {
        assert_eq!(cat_values(&[], &[1.0, 2.0], 2, 0, 1), [1.0, 2.0]);
        assert_eq!(cat_values(&[1.0, 2.0], &[], 1, 2, 0), [1.0, 2.0]);
        assert_eq!(cat_values(&[], &[], 0, 3, 4), [] as [f32; 0]);
    }

    #[test]
    #[should_panic(expected = "differ in dimension 0")]
    fn other_dimensions_must_match() {
        cat_shape(&[2, 3], &[3, 3], 1);
    }
}
