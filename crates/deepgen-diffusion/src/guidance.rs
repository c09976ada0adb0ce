//! Classifier-free guidance (Ho & Salimans 2022, "Classifier-Free Diffusion Guidance"): one
//! network learns both the class-conditional and the unconditional prediction, and sampling
//! extrapolates from the second towards the first.
//!
//! **Training** ([`drop_labels`]): every label is replaced by the null label `∅` with
//! probability `p` (the paper's `p_uncond`; 0.1–0.2 in their experiments), so the network also
//! learns `ε(x_t, t, ∅)`, the unconditional prediction.
//!
//! **Sampling** ([`DiffusionModel::guided_forward`]): with guidance strength `w ≥ 0`,
//!
//! ```text
//! ε̃(x_t, t, c) = (1 + w) · ε(x_t, t, c) − w · ε(x_t, t, ∅)
//! ```
//!
//! This is the paper's `w` (their Eq. 6): `w = 0` is the plain conditional model, larger `w`
//! trades diversity for samples that look more like their class. diffusers' `guidance_scale`
//! `s` writes the same as `ε_u + s (ε_c − ε_u)`, so `s = 1 + w` (`s = 1`: no guidance).
//!
//! The combination is applied to the network's raw output whatever it predicts: `x̂_0` and `ε̂`
//! are affine in the output at a fixed `x_t` with coefficients that do not depend on the class,
//! so guiding an x₀- or v-output is the same as guiding `ε̂`. Every sampler then sees the
//! guided output as if it were the model's.

use burn::tensor::{Int, Tensor};
use deepgen_tensor::HostRng;

use crate::model::{DiffusionModel, timesteps_tensor};

/// `(1 + w) · cond − w · uncond`, the guided prediction of the [module docs](self).
///
/// # Shapes
/// - cond, uncond: `[B, …]`
/// - output: `[B, …]`
pub fn guide<const D: usize>(cond: Tensor<D>, uncond: Tensor<D>, w: f64) -> Tensor<D> {
    cond.mul_scalar(1.0 + w) - uncond.mul_scalar(w)
}

/// Label dropout for training a guided model: each label is replaced by `null` with
/// probability `p`, one `rng.uniform()` per label in order (`u < p` drops it). Returns the
/// labels and how many were dropped.
///
/// # Panics
/// If `p` is not in `[0, 1]`.
pub fn drop_labels(
    labels: &[usize],
    p: f64,
    null: usize,
    rng: &mut HostRng,
) -> (Vec<usize>, usize) {
    assert!(
        (0.0..=1.0).contains(&p),
        "drop_labels: the dropout probability must be in [0, 1], got {p}"
    );
    let mut dropped = 0;
    let out = labels
        .iter()
        .map(|&c| {
            if rng.uniform() < p {
                dropped += 1;
                null
            } else {
                c
            }
        })
        .collect();
    (out, dropped)
}

impl DiffusionModel {
    /// The guided raw output `(1 + w) · out(x_t, t, c) − w · out(x_t, t, ∅)` at per-sample
    /// timesteps and labels (see the [module docs](crate::guidance)). Both predictions come
    /// from one network pass over the batch stacked with itself (`[2B, …]`; every layer of the
    /// U-Net acts per sample). With `w = 0` only the conditional pass runs.
    ///
    /// # Shapes
    /// - x_t: `[B, C, H, W]`
    /// - t, class: `[B]`
    /// - output: `[B, C, H, W]`
    ///
    /// # Panics
    /// If the model is unconditional or `w` is negative or not finite.
    pub fn guided_forward(
        &self,
        x_t: Tensor<4>,
        t: Tensor<1, Int>,
        class: Tensor<1, Int>,
        w: f64,
    ) -> Tensor<4> {
        let null = self.null_class().expect(
            "DiffusionModel::guided_forward: the model is unconditional; build it with \
             DiffusionModelConfig::num_classes",
        );
        assert!(
            w.is_finite() && w >= 0.0,
            "DiffusionModel::guided_forward: the guidance strength must be finite and ≥ 0, got {w}"
        );
        if w == 0.0 {
            return self.forward_class(x_t, t, Some(class));
        }
        let b = x_t.dims()[0];
        let device = x_t.device();
        let nulls = timesteps_tensor(&vec![null; b], &device);
        let out = self.forward_class(
            Tensor::cat(vec![x_t.clone(), x_t], 0),
            Tensor::cat(vec![t.clone(), t], 0),
            Some(Tensor::cat(vec![class, nulls], 0)),
        );
        guide(out.clone().narrow(0, 0, b), out.narrow(0, b, b), w)
    }

    /// [`guided_forward`](Self::guided_forward) with every sample at timestep `t`: the model
    /// a sampler runs for guided samples.
    ///
    /// # Shapes
    /// - x_t: `[B, C, H, W]`
    /// - class: `[B]`
    /// - output: `[B, C, H, W]`
    pub fn guided_forward_at(
        &self,
        x_t: Tensor<4>,
        t: usize,
        class: Tensor<1, Int>,
        w: f64,
    ) -> Tensor<4> {
        let b = x_t.dims()[0];
        let device = x_t.device();
        self.guided_forward(x_t, timesteps_tensor(&vec![t; b], &device), class, w)
    }
}
