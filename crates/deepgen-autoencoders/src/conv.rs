//! Convolutional encoder and decoder for images of any shape `[C, H, W]`, and the
//! [`EncoderNetConfig`] / [`DecoderNetConfig`] enums that make MLP and convolutional nets
//! interchangeable on flattened data.
//!
//! # Shape arithmetic
//!
//! Every encoder block is a `kernel × kernel` convolution with stride 2 and symmetric padding
//! `p = ⌊(kernel − 1)/2⌋`, followed by the activation (ReLU by default). A side of length `n`
//! becomes
//!
//! ```text
//! n' = ⌊(n + 2p − kernel)/2⌋ + 1        (kernel 4: ⌊n/2⌋, kernel 3: ⌈n/2⌉)
//! ```
//!
//! so 28 → 14 → 7 with either kernel, 17 × 23 → 8 × 11 → 4 × 5 with kernel 4. The encoder
//! flattens the last feature map and maps it linearly to `d_output`.
//!
//! The decoder mirrors it: a linear layer (plus activation) to the last feature map, then one
//! stride-2 transposed convolution per encoder block, with the same kernel and padding and the
//! output padding
//!
//! ```text
//! op = (n + 2p − kernel) mod 2   ∈ {0, 1}
//! ```
//!
//! that makes `(n' − 1)·2 − 2p + kernel + op = n` exactly, for every side length `n` (odd or
//! even). The last transposed convolution has no activation: the decoder outputs unconstrained
//! values (logits or distribution parameters). The computed sizes are recorded in
//! [`ConvEncoder::sizes`], [`ConvDecoder::sizes`] and [`ConvDecoder::output_padding`].

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::{Activation, ActivationConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use crate::mlp::{Mlp, MlpConfig};

/// Why a network configuration cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetConfigError {
    /// A size that must be positive is zero.
    #[error("{net}: `{field}` must be positive")]
    Zero {
        /// The configuration type.
        net: &'static str,
        /// The offending field.
        field: &'static str,
    },
    /// A convolutional net without convolution blocks.
    #[error("{net}: `channels` is empty; give at least one block (e.g. [32, 64]) or use an MLP")]
    NoBlocks {
        /// The configuration type.
        net: &'static str,
    },
    /// The kernel is smaller than 2.
    #[error(
        "{net}: `kernel` is {kernel}; stride-2 blocks need a kernel of at least 2 (3 or 4 are usual)"
    )]
    Kernel {
        /// The configuration type.
        net: &'static str,
        /// The kernel given.
        kernel: usize,
    },
    /// The image is too small for the number of stride-2 blocks.
    #[error(
        "{net}: a {h}×{w} image is too small for {blocks} stride-2 blocks with kernel {kernel} \
         (the feature map after block {block} would be empty); use fewer `channels` or a larger image"
    )]
    Collapse {
        /// The configuration type.
        net: &'static str,
        /// Input height.
        h: usize,
        /// Input width.
        w: usize,
        /// Number of blocks requested.
        blocks: usize,
        /// Kernel size.
        kernel: usize,
        /// 1-based block at which a side reaches zero.
        block: usize,
    },
    /// A convolutional body whose image shape does not flatten to the model's input size.
    #[error(
        "conv body: image shape {shape:?} has {} values but `input_dim` is {input_dim}; \
         give the shape of your images ([C, H, W] with C·H·W = input_dim)",
        shape.iter().product::<usize>()
    )]
    ShapeMismatch {
        /// The `[C, H, W]` given.
        shape: [usize; 3],
        /// The model's flattened input size.
        input_dim: usize,
    },
}

/// Padding of a stride-2 block with this kernel: `⌊(kernel − 1)/2⌋`.
pub fn block_padding(kernel: usize) -> usize {
    kernel.saturating_sub(1) / 2
}

/// Side length after one stride-2 block: `⌊(n + 2p − kernel)/2⌋ + 1`, or `None` if the block
/// does not fit (`n + 2p < kernel`).
pub fn block_output_size(n: usize, kernel: usize) -> Option<usize> {
    let p = block_padding(kernel);
    (n + 2 * p)
        .checked_sub(kernel)
        .map(|r| r / 2 + 1)
        .filter(|&s| s > 0)
}

/// Output padding of the transposed convolution that maps the side `block_output_size(n)`
/// back to exactly `n`: `(n + 2p − kernel) mod 2`.
pub fn block_output_padding(n: usize, kernel: usize) -> usize {
    (n + 2 * block_padding(kernel) - kernel) % 2
}

/// Spatial sizes `[H, W]` before the first and after every stride-2 block (`blocks + 1`
/// entries, the first being `[h, w]`).
///
/// # Errors
/// [`NetConfigError::Kernel`] for a kernel below 2, [`NetConfigError::Collapse`] when a side
/// reaches zero.
pub fn block_sizes(
    net: &'static str,
    h: usize,
    w: usize,
    blocks: usize,
    kernel: usize,
) -> Result<Vec<[usize; 2]>, NetConfigError> {
    if kernel < 2 {
        return Err(NetConfigError::Kernel { net, kernel });
    }
    let mut sizes = vec![[h, w]];
    for block in 1..=blocks {
        let [a, b] = sizes[block - 1];
        match (block_output_size(a, kernel), block_output_size(b, kernel)) {
            (Some(a), Some(b)) => sizes.push([a, b]),
            _ => {
                return Err(NetConfigError::Collapse {
                    net,
                    h,
                    w,
                    blocks,
                    kernel,
                    block,
                });
            }
        }
    }
    Ok(sizes)
}

fn positive(net: &'static str, field: &'static str, v: usize) -> Result<(), NetConfigError> {
    if v == 0 {
        Err(NetConfigError::Zero { net, field })
    } else {
        Ok(())
    }
}

fn check_conv(
    net: &'static str,
    shape: [usize; 3],
    channels: &[usize],
    kernel: usize,
    d: (&'static str, usize),
) -> Result<Vec<[usize; 2]>, NetConfigError> {
    let [c, h, w] = shape;
    positive(net, "C", c)?;
    positive(net, "H", h)?;
    positive(net, "W", w)?;
    positive(net, d.0, d.1)?;
    if channels.is_empty() {
        return Err(NetConfigError::NoBlocks { net });
    }
    if channels.contains(&0) {
        return Err(NetConfigError::Zero {
            net,
            field: "channels",
        });
    }
    block_sizes(net, h, w, channels.len(), kernel)
}

/// Configuration of a [`ConvEncoder`]: `[C, H, W]` → stride-2 conv blocks with `channels`
/// output channels each → flatten → linear to `d_output` (no activation after it).
#[derive(Config, Debug)]
pub struct ConvEncoderConfig {
    /// Input shape `[C, H, W]` (any positive sizes that survive the blocks).
    pub input: [usize; 3],
    /// Output channels of each stride-2 block, e.g. `[32, 64]`.
    pub channels: Vec<usize>,
    /// Output features of the final linear layer.
    pub d_output: usize,
    /// Square kernel size of every block (4 or 3 are usual; at least 2).
    #[config(default = 4)]
    pub kernel: usize,
    /// Activation after every block.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
}

impl ConvEncoderConfig {
    /// Checks the configuration and returns the spatial sizes (see [`block_sizes`]).
    ///
    /// # Errors
    /// A [`NetConfigError`] naming the field.
    pub fn spatial_sizes(&self) -> Result<Vec<[usize; 2]>, NetConfigError> {
        check_conv(
            "ConvEncoderConfig",
            self.input,
            &self.channels,
            self.kernel,
            ("d_output", self.d_output),
        )
    }

    /// Flattened input size `C·H·W`.
    pub fn d_input(&self) -> usize {
        self.input.iter().product()
    }

    /// Initialises the encoder on `device`.
    ///
    /// # Panics
    /// With the [`NetConfigError`] message if the configuration is invalid (call
    /// [`spatial_sizes`](Self::spatial_sizes) first to get it as an error).
    pub fn init(&self, device: &Device) -> ConvEncoder {
        let sizes = self.spatial_sizes().unwrap_or_else(|e| panic!("{e}"));
        let p = block_padding(self.kernel);
        let mut c_in = self.input[0];
        let mut convs = Vec::with_capacity(self.channels.len());
        for &c_out in &self.channels {
            convs.push(
                Conv2dConfig::new([c_in, c_out], [self.kernel, self.kernel])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                    .init(device),
            );
            c_in = c_out;
        }
        let [h, w] = *sizes.last().expect("at least the input size");
        let linear = LinearConfig::new(c_in * h * w, self.d_output).init(device);
        ConvEncoder {
            convs,
            activation: self.activation.init(device),
            linear,
            input: self.input,
            sizes,
        }
    }

    /// The decoder that mirrors this encoder, from `d_input` features back to `[C, H, W]`.
    pub fn mirrored_decoder(&self, d_input: usize) -> ConvDecoderConfig {
        ConvDecoderConfig::new(self.input, self.channels.clone(), d_input)
            .with_kernel(self.kernel)
            .with_activation(self.activation.clone())
    }
}

/// Convolutional encoder. Input `[B, C, H, W]` (or `[B, C·H·W]` via
/// [`forward_flat`](Self::forward_flat)), output `[B, d_output]`.
#[derive(Module, Debug)]
pub struct ConvEncoder {
    /// The stride-2 convolutions in order.
    pub convs: Vec<Conv2d>,
    /// The activation after every convolution.
    pub activation: Activation,
    /// Flattened last feature map → `d_output`.
    pub linear: Linear,
    /// Input shape `[C, H, W]`.
    #[module(skip)]
    pub input: [usize; 3],
    /// Spatial sizes `[H, W]` of the input and after every block.
    #[module(skip)]
    pub sizes: Vec<[usize; 2]>,
}

impl ConvEncoder {
    /// `[B, C, H, W]` → `[B, d_output]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut h = x;
        for conv in &self.convs {
            h = self.activation.forward(conv.forward(h));
        }
        let [b, c, hh, ww] = h.dims();
        self.linear.forward(h.reshape([b, c * hh * ww]))
    }

    /// `[B, C·H·W]` (row-major `[C, H, W]` per example) → `[B, d_output]`.
    pub fn forward_flat(&self, x: Tensor<2>) -> Tensor<2> {
        let [b, _] = x.dims();
        let [c, h, w] = self.input;
        self.forward(x.reshape([b, c, h, w]))
    }
}

/// Configuration of a [`ConvDecoder`]: `d_input` → linear (+ activation) → the smallest
/// feature map of the mirrored encoder → stride-2 transposed convolutions back to exactly
/// `[C, H, W]`, no activation after the last one.
#[derive(Config, Debug)]
pub struct ConvDecoderConfig {
    /// Output shape `[C, H, W]`.
    pub output: [usize; 3],
    /// Channels of the mirrored **encoder**, in encoder order (e.g. `[32, 64]`: the decoder
    /// goes 64 → 32 → C).
    pub channels: Vec<usize>,
    /// Input features.
    pub d_input: usize,
    /// Square kernel size (must match the mirrored encoder's).
    #[config(default = 4)]
    pub kernel: usize,
    /// Activation after the linear layer and every transposed convolution but the last.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
}

impl ConvDecoderConfig {
    /// Checks the configuration and returns the spatial sizes from the output `[H, W]` down to
    /// the smallest feature map (the mirrored encoder's sizes).
    ///
    /// # Errors
    /// A [`NetConfigError`] naming the field.
    pub fn spatial_sizes(&self) -> Result<Vec<[usize; 2]>, NetConfigError> {
        check_conv(
            "ConvDecoderConfig",
            self.output,
            &self.channels,
            self.kernel,
            ("d_input", self.d_input),
        )
    }

    /// Flattened output size `C·H·W`.
    pub fn d_output(&self) -> usize {
        self.output.iter().product()
    }

    /// Initialises the decoder on `device`.
    ///
    /// # Panics
    /// With the [`NetConfigError`] message if the configuration is invalid (call
    /// [`spatial_sizes`](Self::spatial_sizes) first to get it as an error).
    pub fn init(&self, device: &Device) -> ConvDecoder {
        let sizes = self.spatial_sizes().unwrap_or_else(|e| panic!("{e}"));
        let p = block_padding(self.kernel);
        let n = self.channels.len();
        let [h0, w0] = sizes[n];
        let linear = LinearConfig::new(self.d_input, self.channels[n - 1] * h0 * w0).init(device);
        let mut deconvs = Vec::with_capacity(n);
        let mut output_padding = Vec::with_capacity(n);
        // Block i of the decoder undoes encoder block n − i: sizes[n − i] → sizes[n − i − 1].
        for i in 0..n {
            let enc = n - 1 - i;
            let c_in = self.channels[enc];
            let c_out = if enc == 0 {
                self.output[0]
            } else {
                self.channels[enc - 1]
            };
            let [th, tw] = sizes[enc];
            let op = [
                block_output_padding(th, self.kernel),
                block_output_padding(tw, self.kernel),
            ];
            deconvs.push(
                ConvTranspose2dConfig::new([c_in, c_out], [self.kernel, self.kernel])
                    .with_stride([2, 2])
                    .with_padding([p, p])
                    .with_padding_out(op)
                    .init(device),
            );
            output_padding.push(op);
        }
        ConvDecoder {
            linear,
            deconvs,
            activation: self.activation.init(device),
            output: self.output,
            sizes: sizes.into_iter().rev().collect(),
            output_padding,
        }
    }
}

/// Convolutional decoder. Input `[B, d_input]`, output `[B, C, H, W]` (or `[B, C·H·W]` via
/// [`forward_flat`](Self::forward_flat)), no final activation.
#[derive(Module, Debug)]
pub struct ConvDecoder {
    /// `d_input` → smallest feature map (flattened).
    pub linear: Linear,
    /// The stride-2 transposed convolutions in order.
    pub deconvs: Vec<ConvTranspose2d>,
    /// The activation after the linear layer and every transposed convolution but the last.
    pub activation: Activation,
    /// Output shape `[C, H, W]`.
    #[module(skip)]
    pub output: [usize; 3],
    /// Spatial sizes `[H, W]` from the smallest feature map up to the output.
    #[module(skip)]
    pub sizes: Vec<[usize; 2]>,
    /// Output padding `[h, w]` of each transposed convolution, in order.
    #[module(skip)]
    pub output_padding: Vec<[usize; 2]>,
}

impl ConvDecoder {
    /// `[B, d_input]` → `[B, C, H, W]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let [b, _] = z.dims();
        let [h0, w0] = self.sizes[0];
        let c0 = self.deconvs[0].channels[0];
        let mut h = self
            .activation
            .forward(self.linear.forward(z))
            .reshape([b, c0, h0, w0]);
        let last = self.deconvs.len() - 1;
        for (i, deconv) in self.deconvs.iter().enumerate() {
            h = deconv.forward(h);
            if i < last {
                h = self.activation.forward(h);
            }
        }
        h
    }

    /// `[B, d_input]` → `[B, C·H·W]` (row-major `[C, H, W]` per example).
    pub fn forward_flat(&self, z: Tensor<2>) -> Tensor<2> {
        let [b, _] = z.dims();
        self.forward(z)
            .reshape([b, self.output.iter().product::<usize>()])
    }
}

/// An encoder body on flattened data: an [`MlpConfig`] or a [`ConvEncoderConfig`].
#[derive(Config, Debug)]
pub enum EncoderNetConfig {
    /// A multi-layer perceptron `d_input → hidden… → d_output`.
    Mlp(MlpConfig),
    /// Stride-2 convolutions on `[C, H, W]` images, then a linear layer.
    Conv(ConvEncoderConfig),
}

impl EncoderNetConfig {
    /// An MLP encoder `d_input → hidden… → d_output` with ReLU.
    pub fn mlp(d_input: usize, hidden: Vec<usize>, d_output: usize) -> Self {
        Self::Mlp(MlpConfig::new(d_input, hidden, d_output))
    }

    /// A convolutional encoder on `[C, H, W]` with kernel 4 and ReLU.
    pub fn conv(input: [usize; 3], channels: Vec<usize>, d_output: usize) -> Self {
        Self::Conv(ConvEncoderConfig::new(input, channels, d_output))
    }

    /// Flattened input size.
    pub fn d_input(&self) -> usize {
        match self {
            Self::Mlp(c) => c.d_input,
            Self::Conv(c) => c.d_input(),
        }
    }

    /// Output features.
    pub fn d_output(&self) -> usize {
        match self {
            Self::Mlp(c) => c.d_output,
            Self::Conv(c) => c.d_output,
        }
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// A [`NetConfigError`] naming the field.
    pub fn check(&self) -> Result<(), NetConfigError> {
        match self {
            Self::Mlp(c) => check_mlp("MlpConfig", c),
            Self::Conv(c) => c.spatial_sizes().map(|_| ()),
        }
    }

    /// The decoder mirroring this encoder, from `d_input` features back to this encoder's
    /// input (reversed hidden widths, or transposed convolutions with the same kernel).
    pub fn mirrored_decoder(&self, d_input: usize) -> DecoderNetConfig {
        match self {
            Self::Mlp(c) => {
                let mut hidden = c.hidden.clone();
                hidden.reverse();
                DecoderNetConfig::Mlp(
                    MlpConfig::new(d_input, hidden, c.d_input)
                        .with_activation(c.activation.clone()),
                )
            }
            Self::Conv(c) => DecoderNetConfig::Conv(c.mirrored_decoder(d_input)),
        }
    }

    /// Initialises the encoder on `device`.
    ///
    /// # Panics
    /// With the [`NetConfigError`] message if the configuration is invalid (see
    /// [`check`](Self::check)).
    pub fn init(&self, device: &Device) -> EncoderNet {
        self.check().unwrap_or_else(|e| panic!("{e}"));
        match self {
            Self::Mlp(c) => EncoderNet::Mlp(c.init(device)),
            Self::Conv(c) => EncoderNet::Conv(c.init(device)),
        }
    }
}

fn check_mlp(net: &'static str, c: &MlpConfig) -> Result<(), NetConfigError> {
    positive(net, "d_input", c.d_input)?;
    positive(net, "d_output", c.d_output)?;
    if c.hidden.contains(&0) {
        return Err(NetConfigError::Zero {
            net,
            field: "hidden",
        });
    }
    Ok(())
}

/// An encoder body: [`Mlp`] or [`ConvEncoder`], both `[B, D]` → `[B, d_output]`.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum EncoderNet {
    /// A multi-layer perceptron.
    Mlp(Mlp),
    /// A convolutional encoder (input reshaped to `[B, C, H, W]`).
    Conv(ConvEncoder),
}

impl EncoderNet {
    /// The MLP, if this encoder is one (e.g. to reach a layer's parameters).
    pub fn as_mlp(&self) -> Option<&Mlp> {
        match self {
            Self::Mlp(m) => Some(m),
            Self::Conv(_) => None,
        }
    }

    /// Mutable access to the MLP, if this encoder is one.
    pub fn as_mlp_mut(&mut self) -> Option<&mut Mlp> {
        match self {
            Self::Mlp(m) => Some(m),
            Self::Conv(_) => None,
        }
    }

    /// `[B, D]` → `[B, d_output]`; for a convolutional net `D = C·H·W`, row-major.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Mlp(m) => m.forward(x),
            Self::Conv(c) => c.forward_flat(x),
        }
    }
}

/// A decoder body on flattened data: an [`MlpConfig`] or a [`ConvDecoderConfig`].
#[derive(Config, Debug)]
pub enum DecoderNetConfig {
    /// A multi-layer perceptron `d_input → hidden… → d_output`.
    Mlp(MlpConfig),
    /// A linear layer and stride-2 transposed convolutions to `[C, H, W]`.
    Conv(ConvDecoderConfig),
}

impl DecoderNetConfig {
    /// An MLP decoder `d_input → hidden… → d_output` with ReLU.
    pub fn mlp(d_input: usize, hidden: Vec<usize>, d_output: usize) -> Self {
        Self::Mlp(MlpConfig::new(d_input, hidden, d_output))
    }

    /// A convolutional decoder to `[C, H, W]` mirroring an encoder with `channels`, kernel 4.
    pub fn conv(output: [usize; 3], channels: Vec<usize>, d_input: usize) -> Self {
        Self::Conv(ConvDecoderConfig::new(output, channels, d_input))
    }

    /// Input features.
    pub fn d_input(&self) -> usize {
        match self {
            Self::Mlp(c) => c.d_input,
            Self::Conv(c) => c.d_input,
        }
    }

    /// Flattened output size.
    pub fn d_output(&self) -> usize {
        match self {
            Self::Mlp(c) => c.d_output,
            Self::Conv(c) => c.d_output(),
        }
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// A [`NetConfigError`] naming the field.
    pub fn check(&self) -> Result<(), NetConfigError> {
        match self {
            Self::Mlp(c) => check_mlp("MlpConfig", c),
            Self::Conv(c) => c.spatial_sizes().map(|_| ()),
        }
    }

    /// Initialises the decoder on `device`.
    ///
    /// # Panics
    /// With the [`NetConfigError`] message if the configuration is invalid (see
    /// [`check`](Self::check)).
    pub fn init(&self, device: &Device) -> DecoderNet {
        self.check().unwrap_or_else(|e| panic!("{e}"));
        match self {
            Self::Mlp(c) => DecoderNet::Mlp(c.init(device)),
            Self::Conv(c) => DecoderNet::Conv(c.init(device)),
        }
    }
}

/// A decoder body: [`Mlp`] or [`ConvDecoder`], both `[B, d_input]` → `[B, D]`, no final
/// activation.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum DecoderNet {
    /// A multi-layer perceptron.
    Mlp(Mlp),
    /// A convolutional decoder (output flattened from `[B, C, H, W]`).
    Conv(ConvDecoder),
}

impl DecoderNet {
    /// The MLP, if this decoder is one (e.g. to reach a layer's parameters).
    pub fn as_mlp(&self) -> Option<&Mlp> {
        match self {
            Self::Mlp(m) => Some(m),
            Self::Conv(_) => None,
        }
    }

    /// Mutable access to the MLP, if this decoder is one.
    pub fn as_mlp_mut(&mut self) -> Option<&mut Mlp> {
        match self {
            Self::Mlp(m) => Some(m),
            Self::Conv(_) => None,
        }
    }

    /// `[B, d_input]` → `[B, D]`; for a convolutional net `D = C·H·W`, row-major.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Mlp(m) => m.forward(z),
            Self::Conv(c) => c.forward_flat(z),
        }
    }
}
