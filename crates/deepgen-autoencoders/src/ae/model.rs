//! The deterministic autoencoder shared by every kind: an encoder net, a code activation and a
//! decoder net producing Bernoulli logits.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::nn::activation::{Activation, ActivationConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};
use deepgen_nn::{DecoderNet, DecoderNetConfig, EncoderNet, EncoderNetConfig};
use deepgen_tensor::Validate;

use super::error::AeError;

/// The nonlinearity applied to the encoder output to give the code.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum CodeActivation {
    /// The code is the encoder output.
    Identity,
    /// h = σ(encoder output) ∈ (0, 1).
    Sigmoid,
    /// h = max(0, encoder output).
    Relu,
}

impl std::str::FromStr for CodeActivation {
    type Err = AeError;

    /// `identity`, `sigmoid` or `relu` (ASCII case ignored).
    fn from_str(s: &str) -> Result<Self, AeError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "identity" | "linear" => Ok(Self::Identity),
            "sigmoid" => Ok(Self::Sigmoid),
            "relu" => Ok(Self::Relu),
            _ => Err(AeError::Task {
                name: "code activation",
                reason: format!("`{s}` is not one of identity, sigmoid, relu"),
            }),
        }
    }
}

impl CodeActivation {
    /// The command-line name (`identity`, `sigmoid`, `relu`); parses back with `FromStr`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Sigmoid => "sigmoid",
            Self::Relu => "relu",
        }
    }

    /// Applies the activation.
    pub fn apply(&self, t: Tensor<2>) -> Tensor<2> {
        match self {
            CodeActivation::Identity => t,
            CodeActivation::Sigmoid => sigmoid(t),
            CodeActivation::Relu => relu(t),
        }
    }
}

/// Configuration of an [`Autoencoder`].
#[derive(Config, Debug)]
pub struct AutoencoderConfig {
    /// x (`[B, D]`) → pre-activation code `[B, code_dim]`.
    pub encoder: EncoderNetConfig,
    /// code → logits `[B, D]`.
    pub decoder: DecoderNetConfig,
    /// The activation giving the code (see [`AeKind::code_activation`](super::AeKind)).
    #[config(default = "CodeActivation::Identity")]
    pub code_activation: CodeActivation,
}

impl AutoencoderConfig {
    /// MLP encoder `input_dim → hidden… → code_dim` and the mirrored decoder, ReLU between
    /// hidden layers. `hidden` may be empty: one linear layer each way.
    pub fn mlp(input_dim: usize, hidden: Vec<usize>, code_dim: usize) -> Self {
        let encoder = EncoderNetConfig::mlp(input_dim, hidden, code_dim);
        let decoder = encoder.mirrored_decoder(code_dim);
        Self::new(encoder, decoder)
    }

    /// Convolutional encoder on `[C, H, W]` with stride-2 blocks of `channels` (kernel 4, ReLU)
    /// to `code_dim`, and the mirrored transposed-convolution decoder.
    pub fn conv(input: [usize; 3], channels: Vec<usize>, code_dim: usize) -> Self {
        let encoder = EncoderNetConfig::conv(input, channels, code_dim);
        let decoder = encoder.mirrored_decoder(code_dim);
        Self::new(encoder, decoder)
    }

    /// Sets the activation between hidden layers of both nets (MLP or conv).
    pub fn with_hidden_activation(mut self, activation: ActivationConfig) -> Self {
        match &mut self.encoder {
            EncoderNetConfig::Mlp(c) => c.activation = activation.clone(),
            EncoderNetConfig::Conv(c) => c.activation = activation.clone(),
        }
        match &mut self.decoder {
            DecoderNetConfig::Mlp(c) => c.activation = activation,
            DecoderNetConfig::Conv(c) => c.activation = activation,
        }
        self
    }

    /// Code dimensionality (the encoder's output).
    pub fn code_dim(&self) -> usize {
        self.encoder.output_dim()
    }

    /// Flattened input size.
    pub fn input_dim(&self) -> usize {
        self.encoder.input_dim()
    }

    /// Checks both nets and that their sizes connect.
    ///
    /// # Errors
    /// [`AeError::Net`] or [`AeError::Mismatch`].
    pub fn check(&self) -> Result<(), AeError> {
        self.encoder.validate()?;
        self.decoder.validate()?;
        if self.encoder.output_dim() != self.decoder.input_dim() {
            return Err(AeError::Mismatch {
                what: "encoder output (code) vs decoder input",
                left: self.encoder.output_dim(),
                right: self.decoder.input_dim(),
            });
        }
        if self.encoder.input_dim() != self.decoder.output_dim() {
            return Err(AeError::Mismatch {
                what: "encoder input vs decoder output",
                left: self.encoder.input_dim(),
                right: self.decoder.output_dim(),
            });
        }
        Ok(())
    }

    /// Initialises the model on `device`.
    ///
    /// # Panics
    /// With the [`AeError`] message if [`check`](Self::check) fails.
    pub fn init(&self, device: &Device) -> Autoencoder {
        self.check().unwrap_or_else(|e| panic!("{e}"));
        Autoencoder {
            encoder: self.encoder.init(device),
            decoder: self.decoder.init(device),
            code_activation: self.code_activation,
        }
    }
}

/// A deterministic autoencoder: code h = act(encoder(x)), Bernoulli logits ℓ = decoder(h).
/// Inputs are flattened images `[B, D]` (row-major `[C, H, W]` for a convolutional net).
#[derive(Module, Debug)]
pub struct Autoencoder {
    /// x → pre-activation code.
    pub encoder: EncoderNet,
    /// code → logits.
    pub decoder: DecoderNet,
    /// The code activation.
    #[module(skip)]
    pub code_activation: CodeActivation,
}

impl Autoencoder {
    /// Flattened input size D.
    pub fn input_dim(&self) -> usize {
        match &self.encoder {
            EncoderNet::Mlp(m) => m.layers[0].weight.val().dims()[0],
            EncoderNet::Conv(c) => c.input.iter().product(),
        }
    }

    /// Flattened output size (equal to [`input_dim`](Self::input_dim) for a valid config).
    pub fn output_dim(&self) -> usize {
        match &self.decoder {
            DecoderNet::Mlp(m) => m.layers[m.layers.len() - 1].weight.val().dims()[1],
            DecoderNet::Conv(c) => c.output.iter().product(),
        }
    }

    /// Code dimensionality.
    pub fn code_dim(&self) -> usize {
        match &self.encoder {
            EncoderNet::Mlp(m) => m.layers[m.layers.len() - 1].weight.val().dims()[1],
            EncoderNet::Conv(c) => c.linear.weight.val().dims()[1],
        }
    }

    /// The code h = act(encoder(x)), `[B, code_dim]`.
    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        self.code_activation.apply(self.encoder.forward(x))
    }

    /// Bernoulli logits of the reconstruction, `[B, D]`.
    pub fn decode(&self, code: Tensor<2>) -> Tensor<2> {
        self.decoder.forward(code)
    }

    /// Logits of the reconstruction of `x`, `[B, D]` (no top-k: see
    /// [`keep_top_k`](super::keep_top_k) for the k-sparse code).
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.decode(self.encode(x))
    }

    /// The first encoder layer, checked to be a sigmoid layer h₁ = σ(x W + b). This is the layer
    /// the contractive penalty acts on: the whole encoder when the encoder MLP has no hidden
    /// layer and the code activation is sigmoid, else the first hidden layer of an MLP with
    /// sigmoid activation.
    ///
    /// # Errors
    /// [`AeError::Model`] when the encoder is convolutional or its first layer is not sigmoid.
    pub fn first_sigmoid_layer(&self) -> Result<&Linear, AeError> {
        let err = |reason: &str| AeError::Model {
            kind: "contractive",
            reason: reason.to_string(),
        };
        let EncoderNet::Mlp(mlp) = &self.encoder else {
            return Err(err(
                "the analytic Jacobian needs an MLP encoder whose first layer is sigmoid, \
                 but the encoder is convolutional",
            ));
        };
        let is_sigmoid = if mlp.layers.len() == 1 {
            self.code_activation == CodeActivation::Sigmoid
        } else {
            matches!(mlp.activation, Activation::Sigmoid(_))
        };
        if !is_sigmoid {
            return Err(err(
                "the first encoder layer is not sigmoid: use a sigmoid code with a one-layer \
                 encoder, or ActivationConfig::Sigmoid for the hidden layers",
            ));
        }
        Ok(&mlp.layers[0])
    }

    /// `(h₁, W)` of the [first sigmoid layer](Self::first_sigmoid_layer) for inputs `x`:
    /// h₁ = σ(x W + b) `[B, m]` and `W` `[D, m]` (Burn's `Linear` layout).
    ///
    /// # Errors
    /// As [`first_sigmoid_layer`](Self::first_sigmoid_layer).
    pub fn sigmoid_first_layer(&self, x: Tensor<2>) -> Result<(Tensor<2>, Tensor<2>), AeError> {
        let first = self.first_sigmoid_layer()?;
        Ok((sigmoid(first.forward(x)), first.weight.val()))
    }
}
