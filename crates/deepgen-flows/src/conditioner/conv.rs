//! The convolutional conditioner of image coupling layers (RealNVP's and Glow's `NN()`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use deepgen_nn::conv::{Conv2d, Conv2dConfig};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

use crate::bijection::check_context;

/// Configuration of a [`ConvConditioner`]:
/// `3×3 conv (in + context → hidden) → ReLU → 1×1 conv (hidden → hidden) → ReLU →
/// 3×3 conv (hidden → out)`, "same" padding throughout.
#[derive(Config, Debug)]
pub struct ConvConditionerConfig {
    /// Input channels (the masked input of a coupling layer).
    pub in_channels: usize,
    /// Output channels (`P·C` for a coupling layer).
    pub out_channels: usize,
    /// Width of the hidden layers.
    #[config(default = 64)]
    pub hidden_channels: usize,
    /// Width of the context, broadcast over `H × W` as extra input channels (0 = none).
    #[config(default = 0)]
    pub context_dim: usize,
    /// Zero-initialise the last convolution (Glow), so a coupling starts as the identity.
    #[config(default = true)]
    pub zero_init_output: bool,
}

impl Validate for ConvConditionerConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "ConvConditionerConfig";
        positive(C, "in_channels", self.in_channels)?;
        positive(C, "out_channels", self.out_channels)?;
        positive(C, "hidden_channels", self.hidden_channels)
    }
}

impl ConvConditionerConfig {
    /// Validates the config, then builds the conditioner on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<ConvConditioner, ConfigError> {
        self.validate()?;
        let hid = self.hidden_channels;
        let conv_in = Conv2dConfig::new([self.in_channels + self.context_dim, hid], [3, 3])
            .with_padding(PaddingConfig2d::Same)
            .init(device);
        let conv_mid = Conv2dConfig::new([hid, hid], [1, 1]).init(device);
        let mut out =
            Conv2dConfig::new([hid, self.out_channels], [3, 3]).with_padding(PaddingConfig2d::Same);
        if self.zero_init_output {
            out = out.with_initializer(Initializer::Zeros);
        }
        Ok(ConvConditioner {
            conv_in,
            conv_mid,
            conv_out: out.init(device),
            in_channels: self.in_channels,
            context_dim: self.context_dim,
        })
    }

    /// Builds the conditioner on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`ConvConditionerConfig::try_init`]).
    pub fn init(&self, device: &Device) -> ConvConditioner {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A three-layer conv net; see [`ConvConditionerConfig`].
#[derive(Module, Debug)]
pub struct ConvConditioner {
    /// 3×3, `in + context → hidden`.
    pub conv_in: Conv2d,
    /// 1×1, `hidden → hidden`.
    pub conv_mid: Conv2d,
    /// 3×3, `hidden → out` (zero-initialised by default).
    pub conv_out: Conv2d,
    /// Input channels (without the context).
    pub in_channels: usize,
    /// Width of the context (0 = unconditioned).
    pub context_dim: usize,
}

impl ConvConditioner {
    /// The parameters for `x`.
    ///
    /// # Shapes
    /// - x: `[batch, in_channels, H, W]`
    /// - context: `[batch, context_dim]` (`None` when `context_dim = 0`)
    /// - output: `[batch, out_channels, H, W]`
    pub fn forward(&self, x: Tensor<4>, context: Option<&Tensor<2>>) -> Tensor<4> {
        let [b, c, _, _] = x.dims();
        assert!(
            c == self.in_channels,
            "ConvConditioner: input has {c} channels, expected {}",
            self.in_channels
        );
        check_context("ConvConditioner", context, self.context_dim, b);
        let input = with_context_channels(x, context);
        let h = relu(self.conv_in.forward(input));
        let h = relu(self.conv_mid.forward(h));
        self.conv_out.forward(h)
    }
}

/// `x` with the context `[B, k]` appended as `k` constant channels (`[B, C + k, H, W]`).
pub(crate) fn with_context_channels(x: Tensor<4>, context: Option<&Tensor<2>>) -> Tensor<4> {
    match context {
        None => x,
        Some(h) => {
            let [b, _, height, width] = x.dims();
            let k = h.dims()[1];
            let planes = h
                .clone()
                .reshape([b, k, 1, 1])
                .expand([b, k, height, width]);
            Tensor::cat(vec![x, planes], 1)
        }
    }
}
