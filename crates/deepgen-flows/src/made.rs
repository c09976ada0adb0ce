//! MADE: Masked Autoencoder for Distribution Estimation (Germain et al. 2015), the
//! autoregressive conditioner of the IAF and MAF steps.
//!
//! # Degrees and masks
//!
//! Every unit gets a *degree*; a connection is kept when the degrees allow it.
//!
//! - **Inputs.** The [`MadeOrder`] lists the input variables in autoregressive order:
//!   `order[k]` is the `k`-th variable, and gets degree `k + 1 ∈ 1..=D`.
//! - **Hidden units** (the paper's deterministic variant, not its random one): unit `k` of every
//!   hidden layer gets degree `1 + (k mod (D − 1))`, cycling through `1..=D−1` (all degree 1
//!   when `D = 1`). With a context (`context_dim > 0`) the cycle is `k mod D`, i.e. `0..=D−1`:
//!   degree-0 units see only the context, so the outputs of the *first* variable can depend on
//!   the context too (with degrees starting at 1 they would be constants).
//! - **Outputs.** Output `p·D + i` (parameter `p` of variable `i`, `p < outputs_per_dim`) has
//!   the degree of input `i`.
//! - **Masks.** Input→hidden and hidden→hidden: keep when `deg(out) ≥ deg(in)`;
//!   hidden→output (or input→output when there are no hidden layers): keep when
//!   `deg(out) > deg(in)`. Hence output `(p, i)` depends exactly on the variables before `i` in
//!   the order (and on the context), never on `i` itself or later ones.
//! - **Context** is connected to every unit of the first layer through an unmasked weight
//!   matrix (to the outputs directly when there are no hidden layers).
//!
//! # Masks are constants that persist
//!
//! The masks are `Param<Tensor<2, Bool>>` and the input degrees a `Param<Tensor<1, Int>>`.
//! Burn's record visits bool and int parameters (`visit_bool`/`visit_int`), so they are saved
//! and loaded with the weights — a model loaded from a record has the record's masks and order,
//! whatever the skeleton it was loaded into — while optimizers and `GradientsParams` only see
//! float parameters, so masks are never trained. (A plain `Tensor` field would be a constant
//! that Burn does *not* record; a float `Param` would be trained.) The masked weight is
//! `W.mask_fill(!M, 0)` at every forward, so the raw weights behind a mask get zero gradient
//! and never matter.
//!
//! # Initialisation
//!
//! Weights are drawn from Burn's device RNG (seed with `device.seed`, as for `Linear`):
//! `U(−k, k)` with `k = 1/√fan_in`, where `fan_in` counts the *unmasked* inputs of the unit
//! (plus the context for the first layer). Hidden biases use the same law; output biases start
//! at 0, or at a per-channel value ([`MadeConfig::init_with_output_bias`], the IAF forget-gate
//! bias); the output layer's weights are multiplied by `output_init_scale`: a small value (the
//! IAF/MAF configs use 0.01) makes the flow step start near its identity-like map.

use burn::config::Config;
use burn::module::{Module, Param, ParamId};
use burn::nn::activation::{Activation, ActivationConfig};
use burn::tensor::{Bool, Device, Distribution, Int, Tensor, TensorData};
use deepgen_nn::linear;
use deepgen_tensor::ConfigError;
use deepgen_tensor::Validate;
use deepgen_tensor::config::{all_positive, positive};

/// The autoregressive order of the inputs.
#[derive(Config, Debug, PartialEq)]
pub enum MadeOrder {
    /// `0, 1, …, D−1`.
    Natural,
    /// `D−1, …, 1, 0`.
    Reversed,
    /// An explicit permutation of `0..D`: element `k` is the `k`-th variable in the order.
    Custom(Vec<usize>),
}

impl MadeOrder {
    /// The order as a permutation of `0..d`: `order[k]` is the `k`-th variable.
    ///
    /// # Panics
    /// If a custom order is not a permutation of `0..d` (see [`MadeOrder::try_resolve`]).
    pub fn resolve(&self, d: usize) -> Vec<usize> {
        self.try_resolve(d).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`MadeOrder::resolve`], or why a custom order is not a permutation of `0..d`.
    ///
    /// # Errors
    /// A message naming the order and `d`.
    pub fn try_resolve(&self, d: usize) -> Result<Vec<usize>, String> {
        match self {
            MadeOrder::Natural => Ok((0..d).collect()),
            MadeOrder::Reversed => Ok((0..d).rev().collect()),
            MadeOrder::Custom(order) => {
                let mut seen = vec![false; d];
                let ok = order.len() == d
                    && order
                        .iter()
                        .all(|&i| i < d && !std::mem::replace(&mut seen[i], true));
                if ok {
                    Ok(order.clone())
                } else {
                    Err(format!(
                        "MadeOrder::Custom({order:?}) is not a permutation of 0..{d}; list every \
                         variable index below {d} exactly once"
                    ))
                }
            }
        }
    }
}

/// Configuration of a [`Made`].
#[derive(Config, Debug)]
pub struct MadeConfig {
    /// Number of input variables `D` (≥ 1).
    pub input_dim: usize,
    /// Hidden layer widths (may be empty: one masked linear layer). Widths ≥ `D − 1` (≥ `D`
    /// with a context) let every output see all of its predecessors.
    pub hidden: Vec<usize>,
    /// Number of outputs per input variable (e.g. 2 for a shift and a log-scale), ≥ 1.
    pub outputs_per_dim: usize,
    /// Width of the context input `h` (0 = unconditioned).
    #[config(default = 0)]
    pub context_dim: usize,
    /// Autoregressive order of the inputs.
    #[config(default = "MadeOrder::Natural")]
    pub order: MadeOrder,
    /// Activation after every hidden layer (ReLU, ELU, tanh, … — any of Burn's).
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// Multiplier on the output layer's initial weights (1 = plain init).
    #[config(default = 1.0)]
    pub output_init_scale: f64,
}

/// A linear layer `y = x·(W ⊙ M) + b` with a constant, persisted connectivity mask `M`.
#[derive(Module, Debug)]
pub struct MaskedLinear {
    /// Raw weights `[d_in, d_out]` (entries where the mask is false are ignored).
    pub weight: Param<Tensor<2>>,
    /// Bias `[d_out]`.
    pub bias: Param<Tensor<1>>,
    /// Connectivity `[d_in, d_out]`: `true` = connection kept. Not trained; recorded.
    pub mask: Param<Tensor<2, Bool>>,
}

impl MaskedLinear {
    /// The weights with masked entries set to exactly 0.
    pub fn masked_weight(&self) -> Tensor<2> {
        self.weight.val().mask_fill(self.mask.val().bool_not(), 0.0)
    }

    /// `x·(W ⊙ M) + b`.
    ///
    /// # Shapes
    /// - x: `[batch, d_in]`
    /// - output: `[batch, d_out]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        linear(x, self.masked_weight(), Some(self.bias.val()))
    }
}

/// A MADE network: `[B, D]` (+ context `[B, context_dim]`) → `[B, outputs_per_dim · D]`, where
/// output `p·D + i` depends only on the inputs before `i` in the order (see the
/// [module docs](self)).
#[derive(Module, Debug)]
pub struct Made {
    /// Masked layers: input → hidden… → output.
    pub layers: Vec<MaskedLinear>,
    /// Unmasked context weights `[context_dim, width of the first layer]`, when conditioned.
    pub context_weight: Option<Param<Tensor<2>>>,
    /// Activation after every layer but the last.
    pub activation: Activation,
    /// Degree of each input, `[D]`, values `1..=D` (recorded, so the order survives a load).
    pub input_degrees: Param<Tensor<1, Int>>,
    /// `D`.
    pub input_dim: usize,
    /// Width of the context (0 = none).
    pub context_dim: usize,
    /// Outputs per input variable.
    pub outputs_per_dim: usize,
}

/// Hidden degrees of a layer of `width` units (see the module docs).
fn hidden_degrees(d: usize, width: usize, with_context: bool) -> Vec<usize> {
    if with_context {
        (0..width).map(|k| k % d).collect()
    } else {
        let cycle = d.saturating_sub(1).max(1);
        (0..width).map(|k| 1 + k % cycle).collect()
    }
}

/// Checks the fields every MADE-based config shares, under the names `input_dim`, `hidden`,
/// `order` and `output_init_scale` of `config`.
pub(crate) fn validate_made_fields(
    config: &'static str,
    input_dim: usize,
    hidden: &[usize],
    order: &MadeOrder,
    output_init_scale: f64,
) -> Result<(), ConfigError> {
    positive(config, "input_dim", input_dim)?;
    all_positive(config, "hidden", hidden, false)?;
    order
        .try_resolve(input_dim)
        .map_err(|reason| ConfigError::new(config, "order", reason))?;
    if !output_init_scale.is_finite() {
        return Err(ConfigError::new(
            config,
            "output_init_scale",
            format!("must be finite, got {output_init_scale}"),
        ));
    }
    Ok(())
}

impl Validate for MadeConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        validate_made_fields(
            "MadeConfig",
            self.input_dim,
            &self.hidden,
            &self.order,
            self.output_init_scale,
        )?;
        positive("MadeConfig", "outputs_per_dim", self.outputs_per_dim)
    }
}

impl MadeConfig {
    /// Builds the network on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`MadeConfig::try_init`]).
    pub fn init(&self, device: &Device) -> Made {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Validates the config, then builds the network on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field: `input_dim` or `outputs_per_dim` of 0, a hidden
    /// width of 0, a non-finite `output_init_scale`, or a custom `order` that is not a
    /// permutation of `0..input_dim`.
    pub fn try_init(&self, device: &Device) -> Result<Made, ConfigError> {
        self.try_init_with_output_bias(device, &[])
    }

    /// [`MadeConfig::try_init`] with the output biases of parameter channel `p` (columns
    /// `p·D .. (p+1)·D`) set to `channel_bias[p]` (missing entries: 0) — how the IAF step
    /// initialises its forget-gate bias.
    ///
    /// # Errors
    /// As [`MadeConfig::try_init`], and naming `outputs_per_dim` when there are more channel
    /// biases than outputs per dimension.
    pub fn try_init_with_output_bias(
        &self,
        device: &Device,
        channel_bias: &[f64],
    ) -> Result<Made, ConfigError> {
        self.validate()?;
        if channel_bias.len() > self.outputs_per_dim {
            return Err(ConfigError::new(
                "MadeConfig",
                "outputs_per_dim",
                format!(
                    "is {} but {} channel biases were given; give at most one per output",
                    self.outputs_per_dim,
                    channel_bias.len()
                ),
            ));
        }
        Ok(self.build(device, channel_bias))
    }

    /// Builds a validated config.
    fn build(&self, device: &Device, channel_bias: &[f64]) -> Made {
        let d = self.input_dim;
        let order = self.order.resolve(d);
        let mut in_deg = vec![0usize; d];
        for (k, &i) in order.iter().enumerate() {
            in_deg[i] = k + 1;
        }
        let with_context = self.context_dim > 0;

        // Degrees of every layer's units: inputs, hidden layers, outputs.
        let mut degs: Vec<Vec<usize>> = vec![in_deg.clone()];
        for &w in &self.hidden {
            degs.push(hidden_degrees(d, w, with_context));
        }
        let n_layers = self.hidden.len() + 1;
        let out_deg: Vec<usize> = (0..self.outputs_per_dim)
            .flat_map(|_| in_deg.iter().copied())
            .collect();
        degs.push(out_deg);

        let mut layers = Vec::with_capacity(n_layers);
        let mut context_weight = None;
        for l in 0..n_layers {
            let (din, dout) = (&degs[l], &degs[l + 1]);
            let is_output = l + 1 == n_layers;
            let mask: Vec<bool> = din
                .iter()
                .flat_map(|&a| {
                    dout.iter()
                        .map(move |&b| if is_output { b > a } else { b >= a })
                })
                .collect();
            let extra = if l == 0 { self.context_dim } else { 0 };
            let fan_in: Vec<f64> = (0..dout.len())
                .map(|j| {
                    let kept = (0..din.len()).filter(|&i| mask[i * dout.len() + j]).count();
                    ((kept + extra).max(1) as f64).sqrt().recip()
                })
                .collect();
            let scale = if is_output {
                self.output_init_scale
            } else {
                1.0
            };
            let bound = Tensor::<1>::from_data(
                TensorData::new(
                    fan_in.iter().map(|&k| (k * scale) as f32).collect(),
                    [dout.len()],
                ),
                device,
            )
            .unsqueeze_dim::<2>(0);
            let uniform = |rows: usize| {
                Tensor::<2>::random([rows, dout.len()], Distribution::Uniform(-1.0, 1.0), device)
                    * bound.clone()
            };
            let weight = uniform(din.len());
            let bias = if is_output {
                let values: Vec<f32> = (0..self.outputs_per_dim)
                    .flat_map(|p| {
                        let v = channel_bias.get(p).copied().unwrap_or(0.0) as f32;
                        std::iter::repeat_n(v, d)
                    })
                    .collect();
                Tensor::<1>::from_data(TensorData::new(values, [dout.len()]), device)
            } else {
                let fan = Tensor::<1>::from_data(
                    TensorData::new(fan_in.iter().map(|&k| k as f32).collect(), [dout.len()]),
                    device,
                );
                Tensor::<1>::random([dout.len()], Distribution::Uniform(-1.0, 1.0), device) * fan
            };
            if l == 0 && with_context {
                context_weight = Some(Param::from_tensor(uniform(self.context_dim)));
            }
            let mask = Tensor::<2, Bool>::from_data(
                TensorData::new(mask, [din.len(), dout.len()]),
                device,
            );
            layers.push(MaskedLinear {
                weight: Param::from_tensor(weight),
                bias: Param::from_tensor(bias),
                mask: Param::initialized(ParamId::new(), mask),
            });
        }

        let degrees = Tensor::<1, Int>::from_data(
            TensorData::new(in_deg.iter().map(|&k| k as i64).collect(), [d]),
            device,
        );
        Made {
            layers,
            context_weight,
            activation: self.activation.init(device),
            input_degrees: Param::initialized(ParamId::new(), degrees),
            input_dim: d,
            context_dim: self.context_dim,
            outputs_per_dim: self.outputs_per_dim,
        }
    }
}

impl Made {
    /// The network's outputs; column `p·D + i` is parameter `p` of variable `i`, and depends
    /// only on the variables before `i` in the order (and on the context).
    ///
    /// # Shapes
    /// - x: `[batch, input_dim]`
    /// - context: `[batch, context_dim]` (`None` when `context_dim = 0`)
    /// - output: `[batch, outputs_per_dim · input_dim]`
    ///
    /// # Panics
    /// On a shape mismatch, or when `context` is given to an unconditioned MADE or missing for
    /// a conditioned one.
    pub fn forward(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Tensor<2> {
        let [b, d] = x.dims();
        assert!(
            d == self.input_dim,
            "Made: input has {d} columns, expected {}",
            self.input_dim
        );
        let context = match (&self.context_weight, context) {
            (Some(w), Some(h)) => {
                let [bh, dh] = h.dims();
                assert!(
                    bh == b && dh == self.context_dim,
                    "Made: context is [{bh}, {dh}], expected [{b}, {}]",
                    self.context_dim
                );
                Some(h.clone().matmul(w.val()))
            }
            (None, None) => None,
            (Some(_), None) => panic!(
                "Made: built with context_dim = {} but called without a context",
                self.context_dim
            ),
            (None, Some(_)) => {
                panic!("Made: built without a context (context_dim = 0) but given one")
            }
        };
        let last = self.layers.len() - 1;
        let mut h = x;
        for (l, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if l == 0
                && let Some(c) = &context
            {
                h = h + c.clone();
            }
            if l < last {
                h = deepgen_nn::activate(&self.activation, h);
            }
        }
        h
    }

    /// [`Made::forward`] split into `outputs_per_dim` tensors, parameter by parameter.
    ///
    /// # Shapes
    /// - x: `[batch, input_dim]`
    /// - context: `[batch, context_dim]` (`None` when `context_dim = 0`)
    /// - output: `outputs_per_dim` tensors `[batch, input_dim]`
    pub fn forward_split(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Vec<Tensor<2>> {
        let out = self.forward(x, context);
        (0..self.outputs_per_dim)
            .map(|p| out.clone().narrow(1, p * self.input_dim, self.input_dim))
            .collect()
    }

    /// The two parameter channels of a MADE with `outputs_per_dim = 2` (shift and log-scale of
    /// the IAF and MAF steps).
    ///
    /// # Shapes
    /// - x: `[batch, input_dim]`
    /// - context: `[batch, context_dim]` (`None` when `context_dim = 0`)
    /// - output: two tensors `[batch, input_dim]`: channel 0, channel 1
    ///
    /// # Panics
    /// If `outputs_per_dim ≠ 2` (and as [`Made::forward`]).
    pub fn forward_pair(
        &self,
        x: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        assert_eq!(
            self.outputs_per_dim, 2,
            "Made::forward_pair needs outputs_per_dim = 2"
        );
        let out = self.forward(x, context);
        let d = self.input_dim;
        (out.clone().narrow(1, 0, d), out.narrow(1, d, d))
    }

    /// The input degrees read back from the device (`1..=D`).
    pub fn degrees(&self) -> Vec<usize> {
        self.input_degrees
            .val()
            .into_data()
            .try_to_vec_as::<i64>()
            .expect("int degrees convert to i64")
            .into_iter()
            .map(|k| k as usize)
            .collect()
    }

    /// The autoregressive order: `order()[k]` is the `k`-th variable (from the recorded
    /// degrees, so it is the order of the weights actually loaded).
    pub fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.input_dim).collect();
        let deg = self.degrees();
        order.sort_by_key(|&i| deg[i]);
        order
    }
}
