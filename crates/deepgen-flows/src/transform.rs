//! The [`Transform`] trait every flow step implements.
//!
//! # Sign conventions
//!
//! A transform is a bijection `f: ℝᴰ → ℝᴰ` applied row by row to a batch `[B, D]`,
//! optionally conditioned on a context `h` (`[B, context_dim]`, one row per batch row).
//!
//! - [`Transform::forward_and_ladj`]`(x, h)` returns `(y, ladj)` with `y = f(x; h)` and
//!   `ladj[b] = ln |det ∂y_b/∂x_b|` — the log-absolute-determinant of the Jacobian of the map
//!   that was just applied, **evaluated at the input `x`**.
//! - [`Transform::inverse_and_ladj`]`(y, h)` returns `(x, ladj)` with `x = f⁻¹(y; h)` and
//!   `ladj[b] = ln |det ∂x_b/∂y_b|`, again of the map just applied. Therefore
//!   `inverse_and_ladj(y).1 == −forward_and_ladj(x).1` at corresponding points `y = f(x)`.
//!
//! Change of variables, in the two ways the VAE family uses it:
//!
//! - *Density direction* (MAF, the autoregressive-flow prior): `u = f(z)` with `u ~ N(0, I)`
//!   gives `ln p(z) = ln N(u) + forward ladj`.
//! - *Sampling direction* (IAF posterior): `z_T = f(z_0)` with `z_0 ~ q_0` gives
//!   `ln q(z_T) = ln q_0(z_0) − forward ladj` (see [`crate::Flow::push_forward`]).
//!
//! # Which direction is cheap
//!
//! In this crate, `forward` is always the direction in which the autoregressive network reads
//! the *input* of the map, so it costs one network pass; `inverse` must recover the input
//! dimension by dimension and costs `D` passes (see each step's docs). For IAF the cheap
//! direction is sampling (`ε → z`); for MAF it is density evaluation (`x → u`).
//!
//! # Context
//!
//! Every call takes `context: Option<&Tensor<2>>`: `None` for unconditioned transforms,
//! `Some(h)` for transforms built with `context_dim > 0`. A mismatch (context given to an
//! unconditioned step, missing for a conditioned one, or with the wrong shape) panics with a
//! message naming the step; transforms without a conditioner (permutations) ignore it.

use burn::tensor::Tensor;

/// A batched, optionally conditioned bijection `ℝᴰ → ℝᴰ` with its log-determinant.
///
/// See the [module docs](self) for the sign conventions.
pub trait Transform {
    /// The event dimension `D`.
    fn dim(&self) -> usize;

    /// `(y, ln|det ∂y/∂x|)`.
    ///
    /// # Shapes
    /// - x: `[batch, D]`
    /// - context: `[batch, context_dim]` (`None` when unconditioned)
    /// - output: `y` `[batch, D]` and the ladj `[batch]`
    fn forward_and_ladj(&self, x: Tensor<2>, context: Option<&Tensor<2>>)
    -> (Tensor<2>, Tensor<1>);

    /// `(x, ln|det ∂x/∂y|)`; the ladj is minus the forward one.
    ///
    /// # Shapes
    /// - y: `[batch, D]`
    /// - context: `[batch, context_dim]` (`None` when unconditioned)
    /// - output: `x` `[batch, D]` and the ladj `[batch]`
    fn inverse_and_ladj(&self, y: Tensor<2>, context: Option<&Tensor<2>>)
    -> (Tensor<2>, Tensor<1>);

    /// `f(x)` without the log-determinant.
    ///
    /// # Shapes
    /// - x: `[batch, D]`, context as in [`Transform::forward_and_ladj`]
    /// - output: `[batch, D]`
    fn forward(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Tensor<2> {
        self.forward_and_ladj(x, context).0
    }

    /// `f⁻¹(y)` without the log-determinant.
    ///
    /// # Shapes
    /// - y: `[batch, D]`, context as in [`Transform::inverse_and_ladj`]
    /// - output: `[batch, D]`
    fn inverse(&self, y: Tensor<2>, context: Option<&Tensor<2>>) -> Tensor<2> {
        self.inverse_and_ladj(y, context).0
    }
}

/// Panics unless `x` is `[B, dim]`; returns `B`.
pub(crate) fn check_input(step: &str, x: &Tensor<2>, dim: usize) -> usize {
    let [b, d] = x.dims();
    assert!(
        d == dim,
        "{step}: input has {d} columns, the transform has dimension {dim}"
    );
    b
}

/// `[B]` zeros on `x`'s device: the ladj of a volume-preserving map.
pub(crate) fn zero_ladj(x: &Tensor<2>) -> Tensor<1> {
    Tensor::zeros([x.dims()[0]], &x.device())
}

/// Sums `[B, D]` over `D`: `[B]`.
pub(crate) fn sum_rows(t: Tensor<2>) -> Tensor<1> {
    t.sum_dim(1).squeeze_dim(1)
}
