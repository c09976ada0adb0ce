//! The coupling layer on images `[B, C, H, W]` (RealNVP, Glow).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

use super::{ImageMask, couple, couple_split, split_blocks};
use crate::bijection::Bijection;
use crate::conditioner::{ImageConditioner, ImageConditionerKind};
use crate::elementwise::{CouplingBijection, ElementwiseBijection};

/// Configuration of an [`ImageCoupling`].
#[derive(Config, Debug)]
pub struct ImageCouplingConfig {
    /// `C`, the input channels.
    pub channels: usize,
    /// Hidden channels of the conditioner.
    #[config(default = 64)]
    pub hidden_channels: usize,
    /// The conditioner network (default: the 3-layer conv net).
    #[config(default = "ImageConditionerKind::Conv")]
    pub conditioner: ImageConditionerKind,
    /// The elementwise bijection.
    #[config(default = "CouplingBijection::realnvp()")]
    pub bijection: CouplingBijection,
    /// Checkerboard or channel-wise.
    #[config(default = "ImageMask::Checkerboard")]
    pub mask: ImageMask,
    /// Swap the transformed and conditioning positions.
    #[config(default = false)]
    pub reverse: bool,
    /// Width of the context (0 = unconditioned).
    #[config(default = 0)]
    pub context_dim: usize,
    /// Zero-initialise the conditioner's last convolution (the layer starts as the identity).
    #[config(default = true)]
    pub zero_init_output: bool,
}

impl Validate for ImageCouplingConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "ImageCouplingConfig";
        positive(C, "channels", self.channels)?;
        if self.mask == ImageMask::ChannelWise && self.channels < 2 {
            return Err(ConfigError::new(
                C,
                "channels",
                "a channel-wise mask needs at least 2 channels, got 1",
            ));
        }
        positive(C, "hidden_channels", self.hidden_channels)?;
        self.bijection
            .validate()
            .map_err(|e| e.within(C, "bijection"))
    }
}

impl ImageCouplingConfig {
    /// Validates the config, then builds the layer on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<ImageCoupling, ConfigError> {
        self.validate()?;
        // A channel-wise split feeds the conditioner the conditioning channels only and asks it
        // for the transformed channels' parameters only (see the module docs).
        let (inputs, transformed) = match self.mask {
            ImageMask::ChannelWise => {
                let ((_, kept), (_, changed)) = split_blocks(self.channels, self.reverse);
                (kept, changed)
            }
            ImageMask::Checkerboard => (self.channels, self.channels),
        };
        let conditioner = self.conditioner.try_init(
            inputs,
            self.bijection.num_params() * transformed,
            self.hidden_channels,
            self.context_dim,
            self.zero_init_output,
            device,
        )?;
        Ok(ImageCoupling {
            conditioner,
            bijection: self.bijection.clone(),
            mask: self.mask.clone(),
            reverse: self.reverse,
            channels: self.channels,
        })
    }

    /// Builds the layer on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`ImageCouplingConfig::try_init`]).
    pub fn init(&self, device: &Device) -> ImageCoupling {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A coupling layer on `[B, C, H, W]`; see the [coupling module docs](crate::coupling).
#[derive(Module, Debug)]
pub struct ImageCoupling {
    /// Channel-wise: `[x_cond | context planes] → [B, P·C_t, H, W]` (`x_cond` the
    /// conditioning channels, `C_t` the number of transformed ones); checkerboard:
    /// `[x ⊙ (1 − m) | context planes] → [B, P·C, H, W]`.
    pub conditioner: ImageConditioner,
    /// The elementwise bijection (configuration, not recorded).
    #[module(skip)]
    pub bijection: CouplingBijection,
    /// The mask kind (configuration, not recorded).
    #[module(skip)]
    pub mask: ImageMask,
    /// Whether the mask is reversed.
    pub reverse: bool,
    /// `C`.
    pub channels: usize,
}

impl ImageCoupling {
    fn apply(
        &self,
        x: Tensor<4>,
        context: Option<&Tensor<2>>,
        inverse: bool,
    ) -> (Tensor<4>, Tensor<1>) {
        let dims = x.dims();
        let [_, c, h, w] = dims;
        assert!(
            c == self.channels,
            "ImageCoupling: input has {c} channels, the layer {}",
            self.channels
        );
        if self.mask == ImageMask::ChannelWise {
            return couple_split(
                x,
                self.reverse,
                |kept| self.conditioner.forward(kept, context),
                &self.bijection,
                inverse,
            );
        }
        let transformed = self
            .mask
            .transformed([c, h, w], self.reverse, &x.device())
            .expand(dims);
        let params = self
            .conditioner
            .forward(x.clone().mask_fill(transformed.clone(), 0.0), context);
        couple(x, transformed, params, &self.bijection, inverse)
    }
}

impl Bijection<4> for ImageCoupling {
    fn forward_and_ladj(
        &self,
        x: Tensor<4>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<4>, Tensor<1>) {
        self.apply(x, context, false)
    }

    fn inverse_and_ladj(
        &self,
        z: Tensor<4>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<4>, Tensor<1>) {
        self.apply(z, context, true)
    }
}
