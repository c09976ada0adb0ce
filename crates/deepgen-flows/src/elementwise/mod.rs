//! Elementwise bijections: the invertible scalar maps a conditioner parameterises.
//!
//! A coupling layer (and, in general, any conditioned layer) is *mask + conditioner +
//! elementwise bijection*: the conditioner (an MLP, a conv net, a MADE) reads the conditioning
//! part of the input and emits `P` unconstrained parameters per transformed element; the
//! elementwise bijection maps each element with its own parameters. Keeping the two apart lets
//! every conditioner drive every bijection:
//!
//! | bijection | `P` | map (forward = data → latent) | ln\|dy/dx\| |
//! |---|---|---|---|
//! | [`Additive`] (NICE) | 1 | `y = x + t` | 0 |
//! | [`Affine`] (RealNVP, Glow) | 2 | `y = x·σ(s) + t`, `σ` from [`AffineScale`] | `ln σ(s)` |
//! | [`SigmoidGated`] (IAF's update) | 2 | `y = g·x + (1 − g)·m`, `g = sigmoid(s + b)` | `ln g` |
//! | [`RationalQuadraticSpline`] (NSF) | 3K − 1 | monotone RQ spline on `[−B, B]`, identity outside | see the type |
//!
//! All of them work on flattened elements: `x` is `[N]` and the parameters `[N, P]`, row `n`
//! holding the parameters of element `n`; both directions return the value and the elementwise
//! `ln|derivative|` of the map just applied (`[N]`), so the inverse's is minus the forward's.
//! With all-zero parameters the additive map, the soft-clamped affine map and the spline (with
//! the derivative offset described on [`RationalQuadraticSpline`]) are the identity, so a
//! coupling whose conditioner's last layer is zero-initialised starts as the identity map; the
//! sigmoid-scaled ones (Glow's affine, the gated map) start as the scaling by
//! `sigmoid(2) ≈ 0.88`.

mod additive;
mod affine;
mod gated;
mod spline;

pub use additive::Additive;
pub use affine::{Affine, AffineScale};
pub use gated::SigmoidGated;
pub use spline::RationalQuadraticSpline;

use burn::config::Config;
use burn::tensor::Tensor;
use deepgen_tensor::{ConfigError, Validate};

/// An invertible scalar map applied to every element with its own parameters.
///
/// See the [module docs](self).
pub trait ElementwiseBijection {
    /// `P`, the number of unconstrained parameters per element.
    fn num_params(&self) -> usize;

    /// `(y, ln|dy/dx|)` elementwise.
    ///
    /// # Shapes
    /// - x: `[N]`
    /// - params: `[N, P]`
    /// - output: `y` `[N]` and `ln|dy/dx|` `[N]`
    fn forward(&self, x: Tensor<1>, params: Tensor<2>) -> (Tensor<1>, Tensor<1>);

    /// `(x, ln|dx/dy|)` elementwise; the inverse of [`ElementwiseBijection::forward`] for the
    /// same parameters.
    ///
    /// # Shapes
    /// - y: `[N]`
    /// - params: `[N, P]`
    /// - output: `x` `[N]` and `ln|dx/dy|` `[N]`
    fn inverse(&self, y: Tensor<1>, params: Tensor<2>) -> (Tensor<1>, Tensor<1>);
}

/// Which elementwise bijection a coupling layer uses (serialisable, part of the flow configs).
#[derive(Config, Debug)]
pub enum CouplingBijection {
    /// [`Additive`] (NICE).
    Additive,
    /// [`Affine`] (RealNVP with [`AffineScale::SoftClampedExp`], Glow with
    /// [`AffineScale::Sigmoid`]).
    Affine(Affine),
    /// [`RationalQuadraticSpline`] (Durkan et al. 2019).
    Spline(RationalQuadraticSpline),
    /// [`SigmoidGated`] (IAF's gated update).
    Gated(SigmoidGated),
}

impl CouplingBijection {
    /// RealNVP's affine coupling: `σ(s) = exp(3·tanh(s/3))`.
    pub fn realnvp() -> Self {
        Self::Affine(Affine::new())
    }

    /// Glow's affine coupling: `σ(s) = sigmoid(s + 2)`.
    pub fn glow() -> Self {
        Self::Affine(Affine::new().with_scale(AffineScale::Sigmoid))
    }

    /// A rational-quadratic spline with `bins` bins on `[−bound, bound]`.
    pub fn spline(bins: usize, bound: f64) -> Self {
        Self::Spline(
            RationalQuadraticSpline::new()
                .with_bins(bins)
                .with_bound(bound),
        )
    }
}

impl Validate for CouplingBijection {
    fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Additive => Ok(()),
            Self::Affine(a) => a.validate(),
            Self::Spline(s) => s.validate(),
            Self::Gated(g) => g.validate(),
        }
    }
}

impl ElementwiseBijection for CouplingBijection {
    fn num_params(&self) -> usize {
        match self {
            Self::Additive => Additive.num_params(),
            Self::Affine(a) => a.num_params(),
            Self::Spline(s) => s.num_params(),
            Self::Gated(g) => g.num_params(),
        }
    }

    fn forward(&self, x: Tensor<1>, params: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
        match self {
            Self::Additive => Additive.forward(x, params),
            Self::Affine(a) => a.forward(x, params),
            Self::Spline(s) => s.forward(x, params),
            Self::Gated(g) => g.forward(x, params),
        }
    }

    fn inverse(&self, y: Tensor<1>, params: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
        match self {
            Self::Additive => Additive.inverse(y, params),
            Self::Affine(a) => a.inverse(y, params),
            Self::Spline(s) => s.inverse(y, params),
            Self::Gated(g) => g.inverse(y, params),
        }
    }
}

/// Panics unless `params` is `[N, p]` for `x` of length `N`.
pub(crate) fn check_params(what: &str, x: &Tensor<1>, params: &Tensor<2>, p: usize) {
    let [n] = x.dims();
    let [pn, pp] = params.dims();
    assert!(
        pn == n && pp == p,
        "{what}: params are [{pn}, {pp}], expected [{n}, {p}]"
    );
}

/// Column `k` of `[N, P]` as `[N]`.
pub(crate) fn column(params: &Tensor<2>, k: usize) -> Tensor<1> {
    params.clone().narrow(1, k, 1).squeeze_dim(1)
}
