//! Glow's invertible 1×1 convolution (Kingma & Dhariwal 2018), plain and LU-decomposed: a
//! learned `C × C` matrix `W` applied to the channel vector of every pixel.
//!
//! ```text
//! y[:, :, h, w] = W · x[:, :, h, w]             (forward, data → latent)
//! ln|det ∂y/∂x| = M · ln|det W|                  (M = H·W; 1 for vectors)
//! ```
//!
//! - [`InvConv1x1`] (plain): `W` is trained directly, initialised to a random orthogonal
//!   matrix. `ln|det W|` and `W⁻¹` are computed **on the host in f64 via LU** at every call
//!   (`C ≤` a few hundred, so this is cheap), which keeps both accurate.
//! - [`InvConv1x1Lu`] (LU): `W = P·L·(U + diag(sign · exp(log|s|)))` with `P` a fixed
//!   permutation, `L` unit lower triangular and `U` strictly upper triangular, all from the LU
//!   factorisation of the random orthogonal initial matrix. Then
//!   `ln|det W| = Σ log|s|` on the device, with no decomposition at all in the forward
//!   direction; the inverse weight is computed on the host in f64.
//!
//! # Gradients through host computations
//!
//! A value computed on the host has no autodiff graph, so it is attached with an exact
//! first-order surrogate: with `W₀` the current weight's value (a detached copy) and `Δ = W − W₀`
//! (exactly zero in value, but carrying `W`'s graph),
//!
//! ```text
//! ln|det W|  ≈ ln|det W₀| + ⟨Δ, W₀⁻ᵀ⟩            (value exact, gradient W⁻ᵀ exact)
//! W⁻¹        ≈ W₀⁻¹ − W₀⁻¹ Δ W₀⁻¹                 (value exact, first derivative exact)
//! ```
//!
//! so training through the plain layer's log-determinant and reparameterised sampling through
//! either layer's inverse get the true gradients.
//!
//! Both layers work on any rank ≥ 2 with channels on axis 1: on vectors `[B, D]` they are a
//! learned invertible linear map (a generalised permutation between couplings).

use burn::config::Config;
use burn::module::{Module, Param, ParamId};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

use crate::bijection::Bijection;
use crate::linalg::{Lu, from_host, orthogonal_from_normal, to_host, transpose};

/// Configuration of the invertible 1×1 convolutions: [`InvConv1x1Config::init`] builds the
/// plain [`InvConv1x1`], [`InvConv1x1Config::init_lu`] the [`InvConv1x1Lu`]. Weights are drawn
/// from Burn's device RNG (seed with `device.seed`).
#[derive(Config, Debug)]
pub struct InvConv1x1Config {
    /// `C`, the channels.
    pub channels: usize,
}

impl Validate for InvConv1x1Config {
    fn validate(&self) -> Result<(), ConfigError> {
        positive("InvConv1x1Config", "channels", self.channels)
    }
}

impl InvConv1x1Config {
    /// The random orthogonal initial matrix (row-major, f64).
    fn orthogonal(&self, device: &Device) -> Vec<f64> {
        let c = self.channels;
        let g = Tensor::<2>::random([c, c], Distribution::Normal(0.0, 1.0), device);
        orthogonal_from_normal(&to_host(&g), c)
    }

    /// Validates the config, then builds a plain layer on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<InvConv1x1, ConfigError> {
        self.validate()?;
        let c = self.channels;
        Ok(InvConv1x1 {
            weight: Param::from_tensor(from_host(self.orthogonal(device), c, c, device)),
            channels: c,
        })
    }

    /// Builds a plain layer on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`InvConv1x1Config::try_init`]).
    pub fn init(&self, device: &Device) -> InvConv1x1 {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Validates the config, then builds an LU-decomposed layer on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init_lu(&self, device: &Device) -> Result<InvConv1x1Lu, ConfigError> {
        self.validate()?;
        let c = self.channels;
        let lu = Lu::new(&self.orthogonal(device), c);
        // P·W = L·U with (P·W)[i] = W[piv[i]], so W = (L·U).select(0, inv_piv).
        let mut inv_piv = vec![0i64; c];
        for (i, &p) in lu.piv.iter().enumerate() {
            inv_piv[p] = i as i64;
        }
        let mut lower = vec![0.0; c * c];
        let mut upper = vec![0.0; c * c];
        let mut log_s = vec![0.0; c];
        let mut sign = vec![0i64; c];
        for i in 0..c {
            for j in 0..c {
                let v = lu.lu[i * c + j];
                if j < i {
                    lower[i * c + j] = v;
                } else if j > i {
                    upper[i * c + j] = v;
                } else {
                    log_s[i] = v.abs().ln();
                    sign[i] = if v < 0.0 { -1 } else { 1 };
                }
            }
        }
        let int = |v: Vec<i64>| {
            Param::initialized(
                ParamId::new(),
                Tensor::<1, Int>::from_data(TensorData::new(v, [c]), device),
            )
        };
        Ok(InvConv1x1Lu {
            perm: int(inv_piv),
            lower: Param::from_tensor(from_host(lower, c, c, device)),
            upper: Param::from_tensor(from_host(upper, c, c, device)),
            log_s: Param::from_tensor(Tensor::from_data(TensorData::new(log_s, [c]), device)),
            sign_s: int(sign),
            channels: c,
        })
    }

    /// Builds an LU-decomposed layer on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`InvConv1x1Config::try_init_lu`]).
    pub fn init_lu(&self, device: &Device) -> InvConv1x1Lu {
        self.try_init_lu(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Applies `w` (`[C, C]`) to the channel vector of every position of `x` (`[B, C, ...]`).
fn mix_channels<const R: usize>(x: Tensor<R>, w: Tensor<2>) -> Tensor<R> {
    let dims = x.dims();
    let (b, c) = (dims[0], dims[1]);
    let m = dims.iter().product::<usize>() / (b * c);
    let w = w.unsqueeze_dim::<3>(0).expand([b, c, c]);
    w.matmul(x.reshape([b, c, m])).reshape(dims)
}

fn check_channels<const R: usize>(layer: &str, x: &Tensor<R>, channels: usize) -> (usize, usize) {
    assert!(R >= 2, "{layer}: input must have rank ≥ 2");
    let dims = x.dims();
    assert!(
        dims[1] == channels,
        "{layer}: input has {} channels, the layer {channels}",
        dims[1]
    );
    let m = dims.iter().product::<usize>() / (dims[0] * dims[1]);
    (dims[0], m)
}

/// `W⁻¹` from the host (f64 LU) with the exact first-order surrogate of the module docs.
fn inverse_with_grad(w: Tensor<2>, c: usize) -> Tensor<2> {
    let device = w.device();
    let inv0 = from_host(Lu::new(&to_host(&w), c).inverse(), c, c, &device);
    let delta = w.clone() - w.detach();
    inv0.clone() - inv0.clone().matmul(delta).matmul(inv0)
}

/// The plain invertible 1×1 convolution; see the [module docs](self).
#[derive(Module, Debug)]
pub struct InvConv1x1 {
    /// `W`, `[C, C]`.
    pub weight: Param<Tensor<2>>,
    /// `C`.
    pub channels: usize,
}

impl InvConv1x1 {
    /// `ln|det W|` (host f64 LU, with the gradient `W⁻ᵀ` attached), `[1]`.
    pub fn log_abs_det(&self) -> Tensor<1> {
        let w = self.weight.val();
        let c = self.channels;
        let lu = Lu::new(&to_host(&w), c);
        let grad = from_host(transpose(&lu.inverse(), c), c, c, &w.device());
        ((w.clone() - w.detach()) * grad)
            .sum()
            .add_scalar(lu.ln_abs_det())
    }
}

impl<const R: usize> Bijection<R> for InvConv1x1 {
    fn forward_and_ladj(
        &self,
        x: Tensor<R>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        let (b, m) = check_channels("InvConv1x1", &x, self.channels);
        let ladj = self.log_abs_det().mul_scalar(m as f64).expand([b]);
        (mix_channels(x, self.weight.val()), ladj)
    }

    fn inverse_and_ladj(
        &self,
        z: Tensor<R>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        let (b, m) = check_channels("InvConv1x1", &z, self.channels);
        let ladj = self.log_abs_det().mul_scalar(-(m as f64)).expand([b]);
        let inv = inverse_with_grad(self.weight.val(), self.channels);
        (mix_channels(z, inv), ladj)
    }
}

/// The LU-decomposed invertible 1×1 convolution; see the [module docs](self).
#[derive(Module, Debug)]
pub struct InvConv1x1Lu {
    /// Row permutation: `W = (L·U).select(0, perm)` (recorded, never trained).
    pub perm: Param<Tensor<1, Int>>,
    /// `L` below its diagonal (the rest is ignored; the diagonal is 1), `[C, C]`.
    pub lower: Param<Tensor<2>>,
    /// `U` above its diagonal (the rest is ignored), `[C, C]`.
    pub upper: Param<Tensor<2>>,
    /// `log|s|`, the log-magnitudes of `U`'s diagonal, `[C]`.
    pub log_s: Param<Tensor<1>>,
    /// `sign(s)`, ±1 (recorded, never trained).
    pub sign_s: Param<Tensor<1, Int>>,
    /// `C`.
    pub channels: usize,
}

impl InvConv1x1Lu {
    /// The composed weight `W = P·L·(U + diag(sign·exp(log|s|)))`, `[C, C]`.
    pub fn weight(&self) -> Tensor<2> {
        let c = self.channels;
        let device = self.log_s.val().device();
        let eye = Tensor::<2>::eye(c, &device);
        let l = self.lower.val().tril(-1) + eye.clone();
        let s = self.sign_s.val().float() * self.log_s.val().exp();
        let u = self.upper.val().triu(1) + eye * s.unsqueeze_dim::<2>(0);
        l.matmul(u).select(0, self.perm.val())
    }

    fn ladj<const R: usize>(&self, x: &Tensor<R>, sign: f64) -> Tensor<1> {
        let (b, m) = check_channels("InvConv1x1Lu", x, self.channels);
        self.log_s
            .val()
            .sum()
            .mul_scalar(sign * m as f64)
            .expand([b])
    }
}

impl<const R: usize> Bijection<R> for InvConv1x1Lu {
    fn forward_and_ladj(
        &self,
        x: Tensor<R>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        let ladj = self.ladj(&x, 1.0);
        (mix_channels(x, self.weight()), ladj)
    }

    fn inverse_and_ladj(
        &self,
        z: Tensor<R>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        let ladj = self.ladj(&z, -1.0);
        let inv = inverse_with_grad(self.weight(), self.channels);
        (mix_channels(z, inv), ladj)
    }
}
