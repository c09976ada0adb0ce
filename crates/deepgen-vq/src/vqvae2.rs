//! VQ-VAE-2 (Razavi et al. 2019) on small images: two code levels, a global top map and a
//! bottom map conditioned on it.
//!
//! ```text
//! h_b = E_b(x)                         [C, H/2, W/2]   (MNIST: 14×14)
//! z_t = E_t(h_b) → top codes           [D_t, H/4, W/4] (7×7)
//! z_b = conv1×1(cat(h_b, G_t(e_t)))    → bottom codes  [D_b, H/2, W/2]
//! x̂  = G(cat(U(e_t), e_b))             U: upsample the top code vectors to the bottom size
//! loss = ‖x̂ − x‖²/σ² + Σ_{top, bottom} (‖sg[z] − e‖² + β‖z − sg[e]‖²)
//! ```
//!
//! As in the paper, the bottom encoder sees the decoded top codes, so bottom codes encode what
//! the top ones miss; the decoder sees both. Priors: a PixelCNN over top maps and one over
//! bottom maps conditioned on the top code vectors (see [`crate::tasks::vq_example`]).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use deepgen_nn::conv::{Conv2d, Conv2dConfig};
use deepgen_nn::{Upsample, UpsampleConfig};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

use crate::conv_stack::{ConvStackConfig, DecoderStack, EncoderStack, size_ladder};
use crate::quantizer::{VectorQuantizer, VectorQuantizerConfig};
use crate::vq_model::{VqForward, VqModel};

/// Configuration of a [`VqVae2`].
#[derive(Config, Debug)]
pub struct VqVae2Config {
    /// The top quantizer (7×7 on MNIST).
    pub top: VectorQuantizerConfig,
    /// The bottom quantizer (14×14 on MNIST).
    pub bottom: VectorQuantizerConfig,
    /// Image shape `[C, H, W]`.
    #[config(default = "[1, 28, 28]")]
    pub image_shape: [usize; 3],
    /// Working channels.
    #[config(default = 64)]
    pub channels: usize,
    /// Residual blocks per stack.
    #[config(default = 2)]
    pub res_blocks: usize,
    /// GroupNorm groups.
    #[config(default = 32)]
    pub groups: usize,
}

impl Validate for VqVae2Config {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "VqVae2Config";
        for (i, s) in self.image_shape.iter().enumerate() {
            positive(C, &format!("image_shape[{i}]"), *s)?;
        }
        self.top.validate()?;
        self.bottom.validate()?;
        self.stack(1, 1).validate()
    }
}

impl VqVae2Config {
    fn stack(&self, input: usize, output: usize) -> ConvStackConfig {
        ConvStackConfig::new(input, self.channels, output, 1)
            .with_res_blocks(self.res_blocks)
            .with_groups(self.groups)
    }

    /// Builds the model.
    ///
    /// # Errors
    /// The [`ConfigError`] of an invalid field.
    pub fn try_init(&self, device: &Device) -> Result<VqVae2, ConfigError> {
        self.validate()?;
        let [c, h, w] = self.image_shape;
        let (ch, dt, db) = (self.channels, self.top.code_dim, self.bottom.code_dim);
        Ok(VqVae2 {
            enc_bottom: self.stack(c, ch).try_init_encoder(device)?,
            enc_top: self.stack(ch, dt).try_init_encoder(device)?,
            top: self.top.try_init(device)?,
            dec_top: self.stack(dt, ch).try_init_decoder(device)?,
            pre_bottom: Conv2dConfig::new([2 * ch, db], [1, 1]).init(device),
            bottom: self.bottom.try_init(device)?,
            up_top: UpsampleConfig::new(dt).try_init(device)?,
            decoder: self.stack(dt + db, c).try_init_decoder(device)?,
            sizes: size_ladder([h, w], 2),
            image_shape: self.image_shape,
        })
    }

    /// As [`try_init`](Self::try_init), panicking with the config error.
    pub fn init(&self, device: &Device) -> VqVae2 {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A two-level VQ-VAE; see the [module docs](self).
#[derive(Module, Debug)]
pub struct VqVae2 {
    /// Image → bottom features `h_b`.
    pub enc_bottom: EncoderStack,
    /// `h_b` → top `z_t`.
    pub enc_top: EncoderStack,
    /// Top codebook.
    pub top: VectorQuantizer,
    /// Top code vectors → features at the bottom resolution.
    pub dec_top: DecoderStack,
    /// `cat(h_b, dec_top)` → bottom `z_b`.
    pub pre_bottom: Conv2d,
    /// Bottom codebook.
    pub bottom: VectorQuantizer,
    /// Top code vectors → bottom resolution, for the decoder.
    pub up_top: Upsample,
    /// `cat(up_top(e_t), e_b)` → image.
    pub decoder: DecoderStack,
    /// Sizes: image, bottom map, top map.
    #[module(skip)]
    pub sizes: Vec<[usize; 2]>,
    /// Image shape `[C, H, W]`.
    #[module(skip)]
    pub image_shape: [usize; 3],
}

impl VqVae2 {
    /// Top code map size (7×7 on MNIST).
    pub fn top_size(&self) -> [usize; 2] {
        self.sizes[2]
    }

    /// Bottom code map size (14×14 on MNIST).
    pub fn bottom_size(&self) -> [usize; 2] {
        self.sizes[1]
    }

    fn bottom_input(&self, h_b: Tensor<4>, e_t: Tensor<4>) -> Tensor<4> {
        let d_t = self.dec_top.forward_to(e_t, &[self.sizes[1]]);
        self.pre_bottom.forward(Tensor::cat(vec![h_b, d_t], 1))
    }

    /// Decodes quantized top and bottom maps (unclamped).
    ///
    /// # Shapes
    /// - e_t: `[B, D_t, h_t, w_t]`, e_b: `[B, D_b, h_b, w_b]`
    /// - output: `[B, C, H, W]`
    pub fn decode(&self, e_t: Tensor<4>, e_b: Tensor<4>) -> Tensor<4> {
        let up = self.up_top.forward_to(e_t, self.sizes[1]);
        self.decoder
            .forward_to(Tensor::cat(vec![up, e_b], 1), &[self.sizes[0]])
    }

    /// Images from top and bottom code maps (a prior's samples), clamped to `[0, 1]`.
    ///
    /// # Shapes
    /// - top: `[B, h_t, w_t]`, bottom: `[B, h_b, w_b]`
    /// - output: `[B, C, H, W]`
    pub fn decode_codes(&self, top: Tensor<3, Int>, bottom: Tensor<3, Int>) -> Tensor<4> {
        self.decode(self.top.lookup_map(top), self.bottom.lookup_map(bottom))
            .clamp(0.0, 1.0)
    }

    /// Top and bottom code maps of images.
    ///
    /// # Shapes
    /// - x: `[B, C, H, W]`
    /// - output: `([B, h_t, w_t], [B, h_b, w_b])`
    pub fn encode_codes(&self, x: Tensor<4>) -> (Tensor<3, Int>, Tensor<3, Int>) {
        let h_b = self.enc_bottom.forward(x);
        let z_t = self.enc_top.forward(h_b.clone());
        let (_, e_t, codes_t) = self.top.quantize_map(z_t);
        let (_, _, codes_b) = self.bottom.quantize_map(self.bottom_input(h_b, e_t));
        (codes_t, codes_b)
    }
}

impl VqModel for VqVae2 {
    fn level_names(&self) -> Vec<&'static str> {
        vec!["top", "bottom"]
    }

    fn vq_forward(&self, x: Tensor<4>) -> VqForward {
        let h_b = self.enc_bottom.forward(x.clone());
        let z_t = self.enc_top.forward(h_b.clone());
        let (q_t, e_t, codes_t) = self.top.quantize_map(z_t);
        let z_b = self.bottom_input(h_b, e_t.clone());
        let (q_b, e_b, codes_b) = self.bottom.quantize_map(z_b);
        let reconstruction = self.decode(e_t, e_b);
        let recon_mse = (reconstruction.clone() - x).powi_scalar(2).mean();
        VqForward {
            reconstruction,
            recon_mse,
            levels: vec![q_t, q_b],
            codes: vec![codes_t, codes_b],
        }
    }

    fn encode_levels(&self, x: Tensor<4>) -> Vec<Tensor<3, Int>> {
        let (top, bottom) = self.encode_codes(x);
        vec![top, bottom]
    }

    fn quantizer(&self, level: usize) -> &VectorQuantizer {
        match level {
            0 => &self.top,
            1 => &self.bottom,
            _ => panic!("VqVae2 has levels 0 (top) and 1 (bottom), not {level}"),
        }
    }

    fn map_quantizer(
        mut self,
        level: usize,
        f: &mut dyn FnMut(VectorQuantizer) -> VectorQuantizer,
    ) -> Self {
        match level {
            0 => self.top = f(self.top),
            1 => self.bottom = f(self.bottom),
            _ => panic!("VqVae2 has levels 0 (top) and 1 (bottom), not {level}"),
        }
        self
    }

    fn image_shape(&self) -> [usize; 3] {
        self.image_shape
    }
}
