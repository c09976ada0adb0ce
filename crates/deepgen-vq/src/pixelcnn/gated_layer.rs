//! One gated layer of the two-stack PixelCNN (van den Oord et al. 2016, Figure 2), without the
//! blind spot:
//!
//! ```text
//! v_pre = vconv(v) + bias                        vconv: kernel (k/2+1, k), rows ≤ i
//! h_pre = hconv(h) + 1×1(shift_down(vconv(v))) + bias      hconv: kernel (1, k/2+1), columns ≤ j
//!                                                (mask A: columns < j)
//! v'    = tanh(v_pre[:C]) ⊙ σ(v_pre[C:])
//! h'    = h + 1×1(tanh(h_pre[:C]) ⊙ σ(h_pre[C:]))   (the first layer has no residual)
//! bias  = class embedding [2C] and/or 1×1(conditioning features) [2C, H, W]
//! ```
//!
//! Invariants (checked by the causality tests on every position): `v'` at row `i` depends on
//! the input symbols of rows `≤ i`; `h'` at `(i, j)` on symbols strictly before `(i, j)` in
//! raster order. See [`super::causal`] for the convolutions.

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Int, Tensor};
use deepgen_nn::conv::Conv2d;

use super::causal::{crop_width, horizontal_conv, pointwise_conv, shift_down, vertical_conv};

/// One gated layer (see the [module docs](self)).
#[derive(Module, Debug)]
pub struct GatedLayer {
    /// Vertical-stack convolution `C → 2C`.
    pub v_conv: Conv2d,
    /// Horizontal-stack convolution `C → 2C` (mask A in the first layer).
    pub h_conv: Conv2d,
    /// The 1×1 link from the (down-shifted) vertical pre-activation to the horizontal one,
    /// `2C → 2C`.
    pub v_to_h: Conv2d,
    /// The 1×1 residual projection of the horizontal stack `C → C`; `None` in the first layer.
    pub h_res: Option<Conv2d>,
    /// Class → `2C` bias of both stacks' pre-activations, if class-conditional.
    pub class_bias: Option<Embedding>,
    /// 1×1 projection of the conditioning features `C → 2C`, if spatially conditioned.
    pub cond_proj: Option<Conv2d>,
    /// Whether this is the first layer (mask A: the current position is excluded).
    pub mask_a: bool,
    /// `C`, the channels of each stack.
    pub channels: usize,
}

/// What a [`GatedLayer`] is built from.
#[derive(Debug, Clone, Copy)]
pub struct GatedLayerSpec {
    /// Channels `C` of each stack.
    pub channels: usize,
    /// Odd kernel size `k ≥ 3`.
    pub kernel_size: usize,
    /// First layer (mask A, no residual).
    pub mask_a: bool,
    /// Classes of the class bias (0: none).
    pub num_classes: usize,
    /// Channels of the conditioning features (`None`: not spatially conditioned).
    pub cond_features: Option<usize>,
}

impl GatedLayerSpec {
    /// Builds the layer on `device`.
    pub fn init(&self, device: &Device) -> GatedLayer {
        let c = self.channels;
        GatedLayer {
            v_conv: vertical_conv(c, 2 * c, self.kernel_size, device),
            h_conv: horizontal_conv(c, 2 * c, self.kernel_size, self.mask_a, device),
            v_to_h: pointwise_conv(2 * c, 2 * c, device),
            h_res: (!self.mask_a).then(|| pointwise_conv(c, c, device)),
            class_bias: (self.num_classes > 0)
                .then(|| EmbeddingConfig::new(self.num_classes, 2 * c).init(device)),
            cond_proj: self.cond_features.map(|f| pointwise_conv(f, 2 * c, device)),
            mask_a: self.mask_a,
            channels: c,
        }
    }
}

impl GatedLayer {
    /// One layer on both stacks.
    ///
    /// # Shapes
    /// - v, h: `[B, C, H, W]`
    /// - class: `[B]` class indices (used only if the layer has a class bias)
    /// - cond: `[B, F, H, W]` conditioning features (used only if the layer projects them)
    /// - output: `(v', h')`, both `[B, C, H, W]`
    pub fn forward(
        &self,
        v: Tensor<4>,
        h: Tensor<4>,
        class: Option<&Tensor<1, Int>>,
        cond: Option<&Tensor<4>>,
    ) -> (Tensor<4>, Tensor<4>) {
        let [b, _, _, width] = h.dims();
        let c2 = 2 * self.channels;
        let v_conv = self.v_conv.forward(v);
        let mut h_pre = self.h_conv.forward(h.clone());
        if self.mask_a {
            h_pre = crop_width(h_pre, width);
        }
        h_pre = h_pre + self.v_to_h.forward(shift_down(v_conv.clone()));
        let mut v_pre = v_conv;
        if let (Some(emb), Some(class)) = (&self.class_bias, class) {
            let bias = emb
                .forward(class.clone().reshape([b, 1]))
                .reshape([b, c2, 1, 1]);
            v_pre = v_pre + bias.clone();
            h_pre = h_pre + bias;
        }
        if let (Some(proj), Some(cond)) = (&self.cond_proj, cond) {
            let bias = proj.forward(cond.clone());
            v_pre = v_pre + bias.clone();
            h_pre = h_pre + bias;
        }
        let v_out = gate(v_pre, self.channels);
        let gated = gate(h_pre, self.channels);
        let h_out = match &self.h_res {
            Some(res) => h + res.forward(gated),
            None => gated,
        };
        (v_out, h_out)
    }
}

/// The gated activation `tanh(a) ⊙ σ(b)` of `[a; b]` split along the channels.
///
/// `tanh` is `deepgen_nn::tanh` (vectorised and split over threads on flex, within 2 ulp of
/// Burn's; `DEEPGEN_LINEAR=burn` restores Burn's): Burn's `tanh` calls glibc's scalar `tanhf`
/// per element, which took about a third of a VQ-VAE-2 prior's sampling time in a `perf`
/// profile (2026-12-06).
///
/// # Shapes
/// - x: `[B, 2C, H, W]`
/// - output: `[B, C, H, W]`
pub fn gate(x: Tensor<4>, channels: usize) -> Tensor<4> {
    let a = x.clone().narrow(1, 0, channels);
    let b = x.narrow(1, channels, channels);
    deepgen_nn::tanh(a) * sigmoid(b)
}
