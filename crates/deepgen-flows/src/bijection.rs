//! [`Bijection`]: the one transform concept of the coupling-flow library, for vectors
//! `[B, D]` (`Bijection<2>`) and images `[B, C, H, W]` (`Bijection<4>`).
//!
//! # Why one trait with a const-generic rank
//!
//! Every layer of a density flow does the same thing whatever the rank of its input: it maps a
//! batch to a batch of the same rank and returns, per batch row, `ln|det J|` of the map it
//! applied. Writing that once as `Bijection<const R: usize>` means
//!
//! - layers that do not care about the rank are written once and work on both (ActNorm, the
//!   invertible 1×1 convolution — a learned linear map of the channel/feature axis —, the logit
//!   and shift preprocessing, and the coupling arithmetic shared by vector and image couplings);
//! - the flow-level code ([`NormalizingFlow`](crate::NormalizingFlow): `log_prob`, sampling,
//!   temperature, the [`Distribution`](deepgen_distributions::Distribution) view) is written
//!   once for every rank;
//! - the compiler still keeps vectors and images apart: a `Bijection<4>` (a squeeze, an image
//!   coupling) cannot be put into a vector flow by mistake.
//!
//! Two separate traits would have duplicated all of the above; a rank-erased trait (dynamic
//! shapes) would have lost the compile-time check. Burn's own `Tensor<const D: usize>` makes the
//! const-generic version free.
//!
//! # Sign conventions (the same as [`Transform`](crate::Transform))
//!
//! For density flows, **forward is data → latent**:
//!
//! - `forward_and_ladj(x, ctx) -> (z, ladj)`, `ladj[b] = ln|det ∂z_b/∂x_b|` at `x`;
//! - `inverse_and_ladj(z, ctx) -> (x, ladj)`, `ladj[b] = ln|det ∂x_b/∂z_b|`, which equals
//!   minus the forward ladj at the corresponding point `x = f⁻¹(z)`;
//! - `ln p(x) = ln p_base(z) + forward ladj`.
//!
//! # Context
//!
//! `context` is `[B, context_dim]`, one row per batch row, or `None` for an unconditioned
//! layer. Vector conditioners concatenate it to their input; image conditioners broadcast it
//! over `H × W` as extra input channels. Layers without a conditioner ignore it. A layer built
//! with `context_dim > 0` panics without a context, and one built with `context_dim = 0` panics
//! when given one (a silent mismatch would train a model that ignores its condition).
//!
//! # The older `Transform` steps
//!
//! The MADE-based steps ([`IafStep`](crate::IafStep), [`MafStep`](crate::MafStep),
//! [`Permutation`](crate::Permutation), [`FlowStep`](crate::FlowStep), [`Flow`](crate::Flow))
//! implement the vector-only [`Transform`](crate::Transform) trait with the same sign
//! conventions; they also implement `Bijection<2>` (by delegation), so they can be used
//! wherever a vector bijection is wanted, e.g. as [`VectorStep::Maf`](crate::VectorStep::Maf).

use burn::tensor::Tensor;

use crate::transform::Transform;

/// A batched, optionally conditioned bijection on rank-`R` tensors with its log-determinant.
///
/// See the [module docs](self) for the direction and sign conventions.
pub trait Bijection<const R: usize> {
    /// `(z, ln|det ∂z/∂x|)`: the data → latent direction.
    ///
    /// # Shapes
    /// - x: `[batch, ...]` (`[batch, D]` for vectors, `[batch, C, H, W]` for images)
    /// - context: `[batch, context_dim]` (`None` when unconditioned)
    /// - output: `z` (same rank; same shape except for shape-changing layers such as
    ///   [`Squeeze`](crate::Squeeze)) and the ladj `[batch]`
    fn forward_and_ladj(&self, x: Tensor<R>, context: Option<&Tensor<2>>)
    -> (Tensor<R>, Tensor<1>);

    /// `(x, ln|det ∂x/∂z|)`: the latent → data direction; the ladj is minus the forward one.
    ///
    /// # Shapes
    /// - z: `[batch, ...]`
    /// - context: `[batch, context_dim]` (`None` when unconditioned)
    /// - output: `x` and the ladj `[batch]`
    fn inverse_and_ladj(&self, z: Tensor<R>, context: Option<&Tensor<2>>)
    -> (Tensor<R>, Tensor<1>);

    /// `f(x)` without the log-determinant.
    ///
    /// # Shapes
    /// - as in [`Bijection::forward_and_ladj`]
    fn forward(&self, x: Tensor<R>, context: Option<&Tensor<2>>) -> Tensor<R> {
        self.forward_and_ladj(x, context).0
    }

    /// `f⁻¹(z)` without the log-determinant.
    ///
    /// # Shapes
    /// - as in [`Bijection::inverse_and_ladj`]
    fn inverse(&self, z: Tensor<R>, context: Option<&Tensor<2>>) -> Tensor<R> {
        self.inverse_and_ladj(z, context).0
    }
}

/// Every vector [`Transform`] step of the crate is a `Bijection<2>`, by delegation.
macro_rules! bijection_from_transform {
    ($($t:ty),*) => {$(
        impl Bijection<2> for $t {
            fn forward_and_ladj(
                &self,
                x: Tensor<2>,
                context: Option<&Tensor<2>>,
            ) -> (Tensor<2>, Tensor<1>) {
                Transform::forward_and_ladj(self, x, context)
            }

            fn inverse_and_ladj(
                &self,
                z: Tensor<2>,
                context: Option<&Tensor<2>>,
            ) -> (Tensor<2>, Tensor<1>) {
                Transform::inverse_and_ladj(self, z, context)
            }
        }
    )*};
}

bijection_from_transform!(
    crate::IafStep,
    crate::MafStep,
    crate::Permutation,
    crate::FlowStep,
    crate::Flow
);

/// `f⁻¹` as a bijection: swaps the two directions of `T` (the ladjs follow, so the sign
/// conventions hold for the inverted map).
///
/// Useful to turn a sampling-direction stack (e.g. an IAF posterior) into a density-direction
/// one or vice versa.
#[derive(Debug, Clone)]
pub struct Inverted<T>(pub T);

impl<const R: usize, T: Bijection<R>> Bijection<R> for Inverted<T> {
    fn forward_and_ladj(
        &self,
        x: Tensor<R>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        self.0.inverse_and_ladj(x, context)
    }

    fn inverse_and_ladj(
        &self,
        z: Tensor<R>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        self.0.forward_and_ladj(z, context)
    }
}

/// Applies `steps` in order (forward) and sums their ladjs.
pub(crate) fn chain_forward<const R: usize, S: Bijection<R>>(
    steps: &[S],
    x: Tensor<R>,
    context: Option<&Tensor<2>>,
) -> (Tensor<R>, Tensor<1>) {
    let mut ladj = zero_ladj(&x);
    let mut h = x;
    for step in steps {
        let (y, l) = step.forward_and_ladj(h, context);
        h = y;
        ladj = ladj + l;
    }
    (h, ladj)
}

/// Inverts `steps` in reverse order and sums their ladjs.
pub(crate) fn chain_inverse<const R: usize, S: Bijection<R>>(
    steps: &[S],
    z: Tensor<R>,
    context: Option<&Tensor<2>>,
) -> (Tensor<R>, Tensor<1>) {
    let mut ladj = zero_ladj(&z);
    let mut h = z;
    for step in steps.iter().rev() {
        let (x, l) = step.inverse_and_ladj(h, context);
        h = x;
        ladj = ladj + l;
    }
    (h, ladj)
}

/// `[B]` zeros on `x`'s device.
pub(crate) fn zero_ladj<const R: usize>(x: &Tensor<R>) -> Tensor<1> {
    Tensor::zeros([x.dims()[0]], &x.device())
}

/// `t` as `[B, numel/B]`.
pub(crate) fn flatten_rows<const R: usize>(t: Tensor<R>) -> Tensor<2> {
    let dims = t.dims();
    let b = dims[0];
    let m: usize = dims[1..].iter().product();
    t.reshape([b, m])
}

/// Sums every element of each batch row: `[B]`.
pub(crate) fn sum_per_row<const R: usize>(t: Tensor<R>) -> Tensor<1> {
    flatten_rows(t).sum_dim(1).squeeze_dim(1)
}

/// Panics unless `context` matches `context_dim` and the batch size `batch`.
pub(crate) fn check_context(
    layer: &str,
    context: Option<&Tensor<2>>,
    context_dim: usize,
    batch: usize,
) {
    match (context, context_dim) {
        (None, 0) => {}
        (Some(_), 0) => panic!("{layer}: got a context, but the layer has context_dim = 0"),
        (None, k) => panic!("{layer}: built with context_dim = {k}, but no context was given"),
        (Some(h), k) => {
            let [hb, hk] = h.dims();
            assert!(
                hb == batch && hk == k,
                "{layer}: context is [{hb}, {hk}], expected [{batch}, {k}]"
            );
        }
    }
}

/// `param` with a new value, keeping its id and its gradient requirement (a tensor made on an
/// autodiff device is not tracked until `require_grad`, and `require_grad` panics on a plain
/// device, so the old value's flag is carried over).
pub(crate) fn with_value<const D: usize>(
    param: burn::module::Param<Tensor<D>>,
    value: Tensor<D>,
) -> burn::module::Param<Tensor<D>> {
    param.map(|old| {
        let value = value.detach();
        if old.is_require_grad() {
            value.require_grad()
        } else {
            value
        }
    })
}
