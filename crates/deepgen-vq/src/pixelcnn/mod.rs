//! The gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
//! Decoders") over maps of symbols: the autoregressive prior of VQ-VAE code maps, and a density
//! model of binarised MNIST (two symbols).
//!
//! ```text
//! x [B, H, W] ∈ 0..K ──Embedding(K, C)──▶ v = h = e [B, C, H, W]
//! layer 0 (mask A) ─▶ layer 1 … layer L (mask B, residual)   two stacks, see gated_layer
//! h ──ReLU──1×1 (C → head)──ReLU──1×1 (head → K)──▶ logits [B, K, H, W]
//! ```
//!
//! The vertical stack sees the rows above (and, inside the stack, the current row), the
//! horizontal stack the current row to the left; the vertical stack reaches the horizontal one
//! only through a one-row down-shift ([`causal`]), so there is no blind spot: with enough
//! layers the logits at `(i, j)` depend on **every** earlier position in raster order, and on
//! no later one. Optional conditioning, added to both stacks' pre-activations in every layer:
//! a class embedding (`num_classes > 0`), and a spatial map `[B, C_cond, H, W]` through a small
//! non-causal net ([`ConditioningNet`]) and a 1×1 projection per layer.
//!
//! - [`causal`]: the shifted/cropped convolutions;
//! - [`gated_layer`]: one layer of both stacks;
//! - [`conditioning`]: the spatial-conditioning net;
//! - [`sampling`]: ancestral sampling with temperature, host-drawn.

pub mod causal;
pub mod conditioning;
pub mod gated_layer;
pub mod sampling;

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig};
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::{Device, Int, Tensor};
use deepgen_nn::conv::Conv2d;
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

pub use conditioning::ConditioningNet;
pub use gated_layer::{GatedLayer, GatedLayerSpec, gate};

use causal::pointwise_conv;

/// Configuration of a [`GatedPixelCnn`].
#[derive(Config, Debug)]
pub struct GatedPixelCnnConfig {
    /// `K`, the alphabet: VQ codes, or 2 for binarised MNIST (at least 2).
    pub num_symbols: usize,
    /// Channels `C` of each stack.
    #[config(default = 64)]
    pub channels: usize,
    /// Gated layers after the first (mask-A) layer (at least 1).
    #[config(default = 8)]
    pub layers: usize,
    /// Kernel size `k` of both stacks (odd, at least 3): the vertical convolution is
    /// `(k/2 + 1) × k`, the horizontal one `1 × (k/2 + 1)`.
    #[config(default = 5)]
    pub kernel_size: usize,
    /// Classes of the class conditioning (0: none).
    #[config(default = 0)]
    pub num_classes: usize,
    /// Channels of a spatial conditioning map `[B, C_cond, H, W]` of the same height and width
    /// as the symbol maps (`None`: none).
    pub cond_channels: Option<usize>,
    /// Hidden width of the 1×1 output head.
    #[config(default = 256)]
    pub head_channels: usize,
}

impl Validate for GatedPixelCnnConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "GatedPixelCnnConfig";
        if self.num_symbols < 2 {
            return Err(ConfigError::new(
                C,
                "num_symbols",
                format!(
                    "must be at least 2 (an alphabet of one symbol has nothing to model), got {}",
                    self.num_symbols
                ),
            ));
        }
        positive(C, "channels", self.channels)?;
        positive(C, "layers", self.layers)?;
        if self.kernel_size < 3 || self.kernel_size.is_multiple_of(2) {
            return Err(ConfigError::new(
                C,
                "kernel_size",
                format!("must be odd and at least 3, got {}", self.kernel_size),
            ));
        }
        if self.num_classes == 1 {
            return Err(ConfigError::new(
                C,
                "num_classes",
                "must be 0 (no class conditioning) or at least 2, got 1",
            ));
        }
        if let Some(c) = self.cond_channels {
            positive(C, "cond_channels", c)?;
        }
        positive(C, "head_channels", self.head_channels)
    }
}

impl GatedPixelCnnConfig {
    /// Builds the model on `device`.
    ///
    /// # Errors
    /// The [`ConfigError`] of [`Validate::validate`], naming the field.
    pub fn try_init(&self, device: &Device) -> Result<GatedPixelCnn, ConfigError> {
        self.validate()?;
        let c = self.channels;
        let cond_net = self
            .cond_channels
            .map(|cc| ConditioningNet::new(cc, c, device));
        let layers = (0..=self.layers)
            .map(|l| {
                GatedLayerSpec {
                    channels: c,
                    kernel_size: self.kernel_size,
                    mask_a: l == 0,
                    num_classes: self.num_classes,
                    cond_features: self.cond_channels.map(|_| c),
                }
                .init(device)
            })
            .collect();
        Ok(GatedPixelCnn {
            embedding: EmbeddingConfig::new(self.num_symbols, c).init(device),
            layers,
            cond_net,
            head_hidden: pointwise_conv(c, self.head_channels, device),
            head_out: pointwise_conv(self.head_channels, self.num_symbols, device),
            num_symbols: self.num_symbols,
            num_classes: self.num_classes,
            cond_channels: self.cond_channels,
            channels: c,
        })
    }

    /// [`try_init`](Self::try_init), panicking with the error's message.
    ///
    /// # Panics
    /// If the configuration is invalid.
    pub fn init(&self, device: &Device) -> GatedPixelCnn {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The gated PixelCNN (see the [module docs](self) and [`GatedPixelCnnConfig`]).
#[derive(Module, Debug)]
pub struct GatedPixelCnn {
    /// Symbol → `C` features, the input of both stacks.
    pub embedding: Embedding,
    /// The mask-A layer followed by `layers` mask-B layers.
    pub layers: Vec<GatedLayer>,
    /// The spatial-conditioning net, if spatially conditioned.
    pub cond_net: Option<ConditioningNet>,
    /// Head: 1×1 convolution `C → head_channels` (after a ReLU).
    pub head_hidden: Conv2d,
    /// Head: 1×1 convolution `head_channels → K` (after a ReLU).
    pub head_out: Conv2d,
    num_symbols: usize,
    num_classes: usize,
    cond_channels: Option<usize>,
    channels: usize,
}

impl GatedPixelCnn {
    /// `K`, the number of symbols.
    pub fn num_symbols(&self) -> usize {
        self.num_symbols
    }

    /// Classes of the class conditioning (0: unconditional).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Channels of the spatial conditioning map, if spatially conditioned.
    pub fn cond_channels(&self) -> Option<usize> {
        self.cond_channels
    }

    /// Logits of every position given the symbols before it.
    ///
    /// The logits at `(i, j)` depend only on `x` at positions before `(i, j)` in raster order,
    /// on the class and on the whole conditioning map.
    ///
    /// # Shapes
    /// - x: `[B, H, W]` symbols in `0..K`
    /// - class: `[B]` classes in `0..num_classes`, exactly when the model is class-conditional
    /// - cond: `[B, C_cond, H, W]`, exactly when the model is spatially conditioned
    /// - output: `[B, K, H, W]`
    ///
    /// # Panics
    /// If `class` or `cond` is given to a model without that conditioning or missing for one
    /// with it, or if the shapes disagree.
    pub fn forward(
        &self,
        x: Tensor<3, Int>,
        class: Option<Tensor<1, Int>>,
        cond: Option<Tensor<4>>,
    ) -> Tensor<4> {
        let features = self.condition(&x, class.as_ref(), cond);
        self.head(self.trunk(x, class.as_ref(), features.as_ref()))
    }

    /// `ln p(x | class, cond)` of every map, in nats: the sum over positions of the
    /// log-softmax of the logits picked at `x`.
    ///
    /// # Shapes
    /// - x, class, cond: as in [`forward`](Self::forward)
    /// - output: `[B]`
    ///
    /// # Panics
    /// As [`forward`](Self::forward).
    pub fn log_prob(
        &self,
        x: Tensor<3, Int>,
        class: Option<Tensor<1, Int>>,
        cond: Option<Tensor<4>>,
    ) -> Tensor<1> {
        let [b, h, w] = x.dims();
        let logits = self.forward(x.clone(), class, cond);
        log_softmax(logits, 1)
            .gather(1, x.unsqueeze_dim::<4>(1))
            .reshape([b, h * w])
            .sum_dim(1)
            .reshape([b])
    }

    /// Checks the conditioning arguments and runs the conditioning net.
    ///
    /// # Shapes
    /// - output: `[B, C, H, W]` features, when spatially conditioned
    pub(crate) fn condition(
        &self,
        x: &Tensor<3, Int>,
        class: Option<&Tensor<1, Int>>,
        cond: Option<Tensor<4>>,
    ) -> Option<Tensor<4>> {
        let [b, h, w] = x.dims();
        match (self.num_classes, class) {
            (0, Some(_)) => panic!("GatedPixelCnn: a class was given to a model without classes"),
            (k, None) if k > 0 => panic!(
                "GatedPixelCnn: the model is class-conditional ({k} classes) but no class was given"
            ),
            (_, Some(c)) => assert_eq!(c.dims(), [b], "GatedPixelCnn: one class per map expected"),
            _ => {}
        }
        match (&self.cond_net, cond) {
            (None, Some(_)) => {
                panic!("GatedPixelCnn: a conditioning map was given to an unconditioned model")
            }
            (Some(_), None) => panic!(
                "GatedPixelCnn: the model is spatially conditioned ({} channels) but no map was given",
                self.cond_channels.unwrap_or(0)
            ),
            (Some(net), Some(c)) => {
                let expected = [b, self.cond_channels.unwrap_or(0), h, w];
                assert_eq!(
                    c.dims(),
                    expected,
                    "GatedPixelCnn: the conditioning map must be [B, C_cond, H, W]"
                );
                Some(net.forward(c))
            }
            (None, None) => None,
        }
    }

    /// Embedding and both stacks; returns the horizontal stack's output.
    ///
    /// # Shapes
    /// - x: `[B, H, W]`; class: `[B]`; features: `[B, C, H, W]`
    /// - output: `[B, C, H, W]`
    pub(crate) fn trunk(
        &self,
        x: Tensor<3, Int>,
        class: Option<&Tensor<1, Int>>,
        features: Option<&Tensor<4>>,
    ) -> Tensor<4> {
        let [b, h, w] = x.dims();
        let e = self
            .embedding
            .forward(x.reshape([b, h * w]))
            .swap_dims(1, 2)
            .reshape([b, self.channels, h, w]);
        let (mut v, mut hs) = (e.clone(), e);
        for layer in &self.layers {
            (v, hs) = layer.forward(v, hs, class, features);
        }
        hs
    }

    /// The 1×1 output head: ReLU → `C → head` → ReLU → `head → K`.
    ///
    /// # Shapes
    /// - h: `[B, C, H, W]`
    /// - output: `[B, K, H, W]`
    pub(crate) fn head(&self, h: Tensor<4>) -> Tensor<4> {
        self.head_out
            .forward(relu(self.head_hidden.forward(relu(h))))
    }
}
