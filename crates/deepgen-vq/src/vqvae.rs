//! VQ-VAE (van den Oord et al. 2017): a convolutional encoder, a [`VectorQuantizer`] on every
//! position of its output map, and a decoder from the code vectors back to the image.
//!
//! ```text
//! z_e = E(x) ∈ R^{D×h×w} → codes k = argmin ‖z_e − e‖² per position → z_q = e_k → x̂ = G(z_q)
//! loss = ‖x̂ − x‖² / σ²_data  +  ‖sg[z_e] − e‖²  +  β ‖z_e − sg[e]‖²
//! ```
//!
//! The reconstruction term is the mean squared error per pixel divided by the data variance
//! (Sonnet's VQ-VAE example), so its scale is independent of the image range; `recon_scale`
//! is that 1/σ². With `downsamples = 2` a 28×28 MNIST image becomes a 7×7 map of codes, with 1 a
//! 14×14 map. Generating needs a prior over code maps: [`crate::pixelcnn`].

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

use crate::conv_stack::{ConvStackConfig, DecoderStack, EncoderStack, size_ladder};
use crate::quantizer::{VectorQuantizer, VectorQuantizerConfig};
use crate::vq_model::{VqForward, VqModel};

/// Configuration of a [`VqVae`].
#[derive(Config, Debug)]
pub struct VqVaeConfig {
    /// The quantizer (its `code_dim` is the encoder's output channels).
    pub quantizer: VectorQuantizerConfig,
    /// Image shape `[C, H, W]`.
    #[config(default = "[1, 28, 28]")]
    pub image_shape: [usize; 3],
    /// Working channels of encoder and decoder.
    #[config(default = 64)]
    pub channels: usize,
    /// Stride-2 downsamplings (MNIST: 2 → 7×7 codes, 1 → 14×14).
    #[config(default = 2)]
    pub downsamples: usize,
    /// Residual blocks at the code resolution, in encoder and decoder each.
    #[config(default = 2)]
    pub res_blocks: usize,
    /// GroupNorm groups.
    #[config(default = 32)]
    pub groups: usize,
}

impl Validate for VqVaeConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "VqVaeConfig";
        for (i, s) in self.image_shape.iter().enumerate() {
            positive(C, &format!("image_shape[{i}]"), *s)?;
        }
        positive(C, "downsamples", self.downsamples)?;
        self.quantizer.validate()?;
        self.stack(0, 0).validate()
    }
}

impl VqVaeConfig {
    fn stack(&self, input: usize, output: usize) -> ConvStackConfig {
        ConvStackConfig::new(input.max(1), self.channels, output.max(1), self.downsamples)
            .with_res_blocks(self.res_blocks)
            .with_groups(self.groups)
    }

    /// Builds the model.
    ///
    /// # Errors
    /// The [`ConfigError`] of an invalid field.
    pub fn try_init(&self, device: &Device) -> Result<VqVae, ConfigError> {
        self.validate()?;
        let [c, h, w] = self.image_shape;
        let d = self.quantizer.code_dim;
        Ok(VqVae {
            encoder: self.stack(c, d).try_init_encoder(device)?,
            quantizer: self.quantizer.try_init(device)?,
            decoder: self.stack(d, c).try_init_decoder(device)?,
            sizes: size_ladder([h, w], self.downsamples),
            image_shape: self.image_shape,
        })
    }

    /// As [`try_init`](Self::try_init), panicking with the config error.
    pub fn init(&self, device: &Device) -> VqVae {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A VQ-VAE; see the [module docs](self).
#[derive(Module, Debug)]
pub struct VqVae {
    /// Image → `z_e`.
    pub encoder: EncoderStack,
    /// The codebook.
    pub quantizer: VectorQuantizer,
    /// Code vectors → image.
    pub decoder: DecoderStack,
    /// Spatial sizes from the image down to the code map.
    #[module(skip)]
    pub sizes: Vec<[usize; 2]>,
    /// Image shape `[C, H, W]`.
    #[module(skip)]
    pub image_shape: [usize; 3],
}

impl VqVae {
    /// The code map size `[h, w]`.
    pub fn code_size(&self) -> [usize; 2] {
        *self.sizes.last().expect("non-empty ladder")
    }

    /// Codebook size K.
    pub fn num_codes(&self) -> usize {
        self.quantizer.num_codes()
    }

    fn up_sizes(&self) -> Vec<[usize; 2]> {
        self.sizes.iter().rev().skip(1).copied().collect()
    }

    /// The encoder's continuous output `z_e`.
    ///
    /// # Shapes
    /// - x: `[B, C, H, W]`
    /// - output: `[B, D, h, w]`
    pub fn encode(&self, x: Tensor<4>) -> Tensor<4> {
        self.encoder.forward(x)
    }

    /// The code map of each image.
    ///
    /// # Shapes
    /// - x: `[B, C, H, W]`
    /// - output: `[B, h, w]`
    pub fn encode_codes(&self, x: Tensor<4>) -> Tensor<3, Int> {
        let z = self.encode(x);
        let [b, d, h, w] = z.dims();
        let flat = z.permute([0, 2, 3, 1]).reshape([b * h * w, d]);
        self.quantizer.nearest(flat).reshape([b, h, w])
    }

    /// Decodes quantized vectors (unclamped output).
    ///
    /// # Shapes
    /// - z_q: `[B, D, h, w]`
    /// - output: `[B, C, H, W]`
    pub fn decode(&self, z_q: Tensor<4>) -> Tensor<4> {
        self.decoder.forward_to(z_q, &self.up_sizes())
    }

    /// Images from code maps (a prior's samples), clamped to `[0, 1]`.
    ///
    /// # Shapes
    /// - codes: `[B, h, w]`
    /// - output: `[B, C, H, W]`
    pub fn decode_codes(&self, codes: Tensor<3, Int>) -> Tensor<4> {
        self.decode(self.quantizer.lookup_map(codes))
            .clamp(0.0, 1.0)
    }
}

impl VqModel for VqVae {
    fn level_names(&self) -> Vec<&'static str> {
        vec!["codes"]
    }

    fn vq_forward(&self, x: Tensor<4>) -> VqForward {
        let z = self.encode(x.clone());
        let (quantizer, z_q, codes) = self.quantizer.quantize_map(z);
        let reconstruction = self.decode(z_q);
        let recon_mse = (reconstruction.clone() - x).powi_scalar(2).mean();
        VqForward {
            reconstruction,
            recon_mse,
            levels: vec![quantizer],
            codes: vec![codes],
        }
    }

    fn encode_levels(&self, x: Tensor<4>) -> Vec<Tensor<3, Int>> {
        vec![self.encode_codes(x)]
    }

    fn quantizer(&self, level: usize) -> &VectorQuantizer {
        assert_eq!(level, 0, "VqVae has one code level");
        &self.quantizer
    }

    fn map_quantizer(
        mut self,
        level: usize,
        f: &mut dyn FnMut(VectorQuantizer) -> VectorQuantizer,
    ) -> Self {
        assert_eq!(level, 0, "VqVae has one code level");
        self.quantizer = f(self.quantizer);
        self
    }

    fn image_shape(&self) -> [usize; 3] {
        self.image_shape
    }
}
