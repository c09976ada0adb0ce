//! Gradient transforms (global-norm clipping, value clipping, a user closure) and
//! per-module learning rates, applied between `loss.backward()` and the optimizer.
//!
//! # Design
//!
//! Burn's `GradientClipping::Norm` clips **each parameter tensor separately** (it is
//! applied inside `ModuleOptimizer::step`, one tensor at a time). That is not what
//! "clip the gradient norm" means in PyTorch's `clip_grad_norm_`, in Keras'
//! `clipnorm`/`global_clipnorm` or in the literature (Pascanu et al., 2013): there
//! the norm is taken over the concatenation of *all* gradients and every gradient
//! is scaled by the same factor `max_norm / ‖g‖`, which keeps the direction of the
//! update. Computing that needs every gradient before the optimizer sees any of
//! them, so [`GradTransforms::apply`] works on the whole [`GradientsParams`]
//! between `GradientsParams::from_grads` and the optimizer step:
//!
//! 1. the user closure ([`GradTransforms::with_custom`]) runs on each gradient, with
//!    the parameter's path (`encoder.l1.weight`);
//! 2. each gradient is clipped element-wise to `[-v, v]` ([`GradTransforms::with_value_clip`]);
//! 3. all gradients are scaled by `min(1, max_norm/‖g‖)` ([`GradTransforms::with_global_norm`]).
//!
//! The norm costs **one device→host transfer**: the sum of squares of each
//! gradient is reduced on the device to a one-element tensor, those are concatenated on
//! the device and read back together, and the per-tensor partial sums are added on the host
//! in `f64`. A NaN or ±∞ element makes its tensor's sum of squares non-finite, so only
//! those tensors get a NaN/Inf probe (a second read, only then); with an element-wise clip,
//! which would hide an ±∞ before the sum, every tensor gets its probe in the first read. A
//! gradient whose f32 sum of squares overflows (finite elements beyond ~1.8e19, seen when a
//! Glow training diverged) is measured again with its largest magnitude factored out, so the
//! norm stays finite and the clip still applies (a second read, only then).
//! The clip factor is then applied on the device with `mul_scalar`. The same read
//! gives [`GradStats::non_finite`], the path of the first parameter whose gradient
//! holds a NaN or ±∞, so the loop can skip the step and say where it blew up.
//!
//! Per-module learning rates ([`LrGroups`], e.g. `encoder` at 0.1× the base rate,
//! as in the Keras article "让Keras更酷一些" on layer-wise learning rates) are
//! expressed through Burn's own mechanism: [`LrGroups::learning_rates`] builds a
//! `ModuleLearningRate` whose groups are `ParamGroup::from_ids`, and
//! [`optimizer_step`] passes it to `ModuleOptimizer::step`, so every optimizer
//! (SGD, Adam, …) honours it. Groups are given by module-path *prefix* and the
//! longest matching prefix wins, so `encoder` = 0.1 with `encoder.head` = 1.0
//! trains the encoder's head at the full rate.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use burn::module::{Module, ModuleVisitor, Param, ParamGroup, ParamId};
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{DType, FloatDType, Shape, Tensor};
use deepgen_tensor::{ConfigError, Validate};

/// Errors from configuring gradient transforms or learning-rate groups.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GradError {
    /// `clip_global_norm` is not a positive finite number.
    #[error(
        "gradient clipping: `clip_global_norm` = {value} must be a positive finite number (e.g. 1.0)"
    )]
    InvalidMaxNorm {
        /// The value given.
        value: f64,
    },
    /// `clip_value` is not a positive finite number.
    #[error(
        "gradient clipping: `clip_value` = {value} must be a positive finite number (e.g. 5.0)"
    )]
    InvalidClipValue {
        /// The value given.
        value: f64,
    },
    /// A learning-rate multiplier is negative or not finite.
    #[error(
        "learning-rate group `{prefix}`: multiplier {value} must be a finite number ≥ 0 (0 freezes the group)"
    )]
    InvalidMultiplier {
        /// The group's path prefix.
        prefix: String,
        /// The multiplier given.
        value: f64,
    },
    /// A learning-rate group prefix is empty or malformed.
    #[error(
        "learning-rate group prefix `{prefix}` is not a module path; use dot-separated field names such as `encoder` or `decoder.l2`"
    )]
    BadPrefix {
        /// The prefix given.
        prefix: String,
    },
    /// The same prefix was given twice.
    #[error("learning-rate group `{prefix}` is given twice; give each prefix once")]
    DuplicatePrefix {
        /// The repeated prefix.
        prefix: String,
    },
    /// A prefix matches no parameter of the model (usually a typo).
    #[error(
        "learning-rate group `{prefix}` matches no parameter of the model; its parameter paths start with: {available}"
    )]
    UnmatchedPrefix {
        /// The prefix given.
        prefix: String,
        /// The distinct top-level path components of the model, comma-separated.
        available: String,
    },
    /// Text that does not follow the `PREFIX=MULT,...` syntax of [`LrGroups`].
    #[error(
        "cannot parse learning-rate groups `{input}`: {reason}; expected `PREFIX=MULTIPLIER[,PREFIX=MULTIPLIER...]`, e.g. `encoder=0.1,decoder=1`"
    )]
    Parse {
        /// The text given.
        input: String,
        /// What was wrong with it.
        reason: String,
    },
}

impl From<GradError> for ConfigError {
    /// The same error in the one validation style: `GradTransforms.clip_global_norm`,
    /// `GradTransforms.clip_value`, or `LrGroups.<prefix>` (`LrGroups.groups` for a parse
    /// error).
    fn from(e: GradError) -> Self {
        match e {
            GradError::InvalidMaxNorm { value } => ConfigError::new(
                "GradTransforms",
                "clip_global_norm",
                format!("must be a positive finite number (e.g. 1.0), got {value}"),
            ),
            GradError::InvalidClipValue { value } => ConfigError::new(
                "GradTransforms",
                "clip_value",
                format!("must be a positive finite number (e.g. 5.0), got {value}"),
            ),
            GradError::InvalidMultiplier { prefix, value } => ConfigError::new(
                "LrGroups",
                prefix,
                format!(
                    "multiplier must be a finite number ≥ 0 (0 freezes the group), got {value}"
                ),
            ),
            GradError::BadPrefix { prefix } => ConfigError::new(
                "LrGroups",
                prefix,
                "is not a module path; use dot-separated field names such as `encoder` or \
                 `decoder.l2`",
            ),
            GradError::DuplicatePrefix { prefix } => {
                ConfigError::new("LrGroups", prefix, "is given twice; give each prefix once")
            }
            GradError::UnmatchedPrefix { prefix, available } => ConfigError::new(
                "LrGroups",
                prefix,
                format!(
                    "matches no parameter of the model; its parameter paths start with: \
                     {available}"
                ),
            ),
            e @ GradError::Parse { .. } => ConfigError::new("LrGroups", "groups", e),
        }
    }
}

/// One parameter's gradient with its rank made explicit, as handed to a
/// [`GradTransforms::with_custom`] closure.
///
/// Burn parameters are `Tensor<D>` for a compile-time `D`; a closure cannot be
/// generic over `D`, so the gradient arrives as this enum. Rank-agnostic
/// transforms (scaling, noise, masking) are one line with [`map_flat`](Self::map_flat);
/// rank-specific ones `match` on the variant. The closure must return a gradient of
/// the **same shape** (any variant whose shape matches is accepted).
#[derive(Debug, Clone)]
pub enum GradTensor {
    /// A rank-1 gradient (biases, norms' scales).
    R1(Tensor<1>),
    /// A rank-2 gradient (`Linear` weights).
    R2(Tensor<2>),
    /// A rank-3 gradient (`Conv1d` weights).
    R3(Tensor<3>),
    /// A rank-4 gradient (`Conv2d` weights).
    R4(Tensor<4>),
    /// A rank-5 gradient (`Conv3d` weights).
    R5(Tensor<5>),
    /// A gradient of rank 6 or more, flattened; `shape` is its true shape.
    Flat {
        /// The gradient's elements in row-major order.
        values: Tensor<1>,
        /// The parameter's shape.
        shape: Shape,
    },
}

impl GradTensor {
    /// Wraps a rank-`D` tensor (ranks above 5 become [`GradTensor::Flat`]).
    pub fn from_tensor<const D: usize>(tensor: Tensor<D>) -> Self {
        let shape = tensor.shape();
        // Each arm only runs when `D` equals the target rank, so each reshape keeps the shape.
        match D {
            1 => GradTensor::R1(tensor.reshape(shape)),
            2 => GradTensor::R2(tensor.reshape(shape)),
            3 => GradTensor::R3(tensor.reshape(shape)),
            4 => GradTensor::R4(tensor.reshape(shape)),
            5 => GradTensor::R5(tensor.reshape(shape)),
            _ => GradTensor::Flat {
                values: tensor.reshape([shape.num_elements()]),
                shape,
            },
        }
    }

    /// The gradient's shape.
    pub fn shape(&self) -> Shape {
        match self {
            GradTensor::R1(t) => t.shape(),
            GradTensor::R2(t) => t.shape(),
            GradTensor::R3(t) => t.shape(),
            GradTensor::R4(t) => t.shape(),
            GradTensor::R5(t) => t.shape(),
            GradTensor::Flat { shape, .. } => shape.clone(),
        }
    }

    /// The gradient's rank (number of dimensions).
    pub fn rank(&self) -> usize {
        self.shape().num_dims()
    }

    /// The gradient flattened to rank 1 (row-major).
    pub fn into_flat(self) -> Tensor<1> {
        let n = self.shape().num_elements();
        match self {
            GradTensor::R1(t) => t,
            GradTensor::R2(t) => t.reshape([n]),
            GradTensor::R3(t) => t.reshape([n]),
            GradTensor::R4(t) => t.reshape([n]),
            GradTensor::R5(t) => t.reshape([n]),
            GradTensor::Flat { values, .. } => values,
        }
    }

    /// Applies a rank-agnostic transform to the flattened gradient and restores the
    /// shape and variant. `f` must return as many elements as it was given.
    ///
    /// ```ignore
    /// // Halve the decoder's gradients, whatever their rank.
    /// GradTransforms::new().with_custom(|path, g| {
    ///     if path.starts_with("decoder.") { g.map_flat(|t| t * 0.5) } else { g }
    /// })
    /// ```
    pub fn map_flat(self, f: impl FnOnce(Tensor<1>) -> Tensor<1>) -> Self {
        let shape = self.shape();
        let out = f(self.into_flat());
        match shape.num_dims() {
            1 => GradTensor::R1(out.reshape(shape)),
            2 => GradTensor::R2(out.reshape(shape)),
            3 => GradTensor::R3(out.reshape(shape)),
            4 => GradTensor::R4(out.reshape(shape)),
            5 => GradTensor::R5(out.reshape(shape)),
            _ => GradTensor::Flat { values: out, shape },
        }
    }

    /// Converts back to the parameter's rank, checking the shape is unchanged.
    ///
    /// # Panics
    /// If the closure changed the gradient's shape: that is a bug in the closure,
    /// and a wrongly shaped gradient would corrupt the parameter.
    fn into_tensor<const D: usize>(self, path: &str, expected: &Shape) -> Tensor<D> {
        let got = self.shape();
        assert!(
            got == *expected,
            "custom gradient transform returned shape {:?} for parameter `{path}`, \
             whose gradient has shape {:?}; the closure must keep the shape",
            got.as_slice(),
            expected.as_slice()
        );
        self.into_flat().reshape(expected.clone())
    }
}

/// The type of a [`GradTransforms::with_custom`] closure: `(parameter path, gradient) -> gradient`.
pub type CustomGradFn = dyn Fn(&str, GradTensor) -> GradTensor + Send + Sync;

/// What [`GradTransforms::apply`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct GradStats {
    /// L2 norm over all gradients, in `f64`, as it entered the global-norm clip
    /// (after the custom closure and the value clip; equal to the raw norm when
    /// neither is set). NaN or ∞ when a gradient is not finite.
    pub global_norm: f64,
    /// The factor every gradient was multiplied by: `max_norm / global_norm` when
    /// the global-norm clip was active, else 1.
    pub clip_scale: f64,
    /// Path (e.g. `decoder.l2.weight`) of the first parameter, in module order,
    /// whose gradient contains NaN or ±∞ — checked after the custom closure and
    /// before value clipping (which could hide a NaN on some backends). `None`
    /// when every gradient is finite. When set, no global-norm clipping was done.
    pub non_finite: Option<String>,
    /// How many parameter gradients were transformed.
    pub num_grads: usize,
}

/// Gradient transforms applied to a whole [`GradientsParams`] (see the [module docs](self)).
///
/// ```ignore
/// let transforms = GradTransforms::new().with_global_norm(1.0)?;
/// let grads = GradientsParams::from_grads(loss.backward(), &model);
/// let (grads, stats) = transforms.apply(&model, grads);
/// if stats.non_finite.is_none() { model = optimizer_step(&mut optim, lr, &groups, model, grads); }
/// ```
#[derive(Clone, Default)]
pub struct GradTransforms {
    clip_global_norm: Option<f64>,
    clip_value: Option<f64>,
    custom: Option<Arc<CustomGradFn>>,
}

impl fmt::Debug for GradTransforms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GradTransforms")
            .field("clip_global_norm", &self.clip_global_norm)
            .field("clip_value", &self.clip_value)
            .field("custom", &self.custom.as_ref().map(|_| "<closure>"))
            .finish()
    }
}

impl GradTransforms {
    /// No transform: [`apply`](Self::apply) only measures the norm and checks for NaN/Inf.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scale all gradients by `min(1, max_norm / ‖g‖)` where `‖g‖` is the L2 norm
    /// of all gradients together. `max_norm` must be positive and finite.
    pub fn with_global_norm(mut self, max_norm: f64) -> Result<Self, GradError> {
        if !(max_norm.is_finite() && max_norm > 0.0) {
            return Err(GradError::InvalidMaxNorm { value: max_norm });
        }
        self.clip_global_norm = Some(max_norm);
        Ok(self)
    }

    /// Clip every gradient element to `[-value, value]`. `value` must be positive and finite.
    pub fn with_value_clip(mut self, value: f64) -> Result<Self, GradError> {
        if !(value.is_finite() && value > 0.0) {
            return Err(GradError::InvalidClipValue { value });
        }
        self.clip_value = Some(value);
        Ok(self)
    }

    /// Run `f(path, gradient)` on each parameter's gradient first (before clipping).
    /// `path` is the dot-separated field path, e.g. `encoder.l1.weight`; the
    /// returned gradient must keep its shape (see [`GradTensor`]).
    pub fn with_custom<F>(mut self, f: F) -> Self
    where
        F: Fn(&str, GradTensor) -> GradTensor + Send + Sync + 'static,
    {
        self.custom = Some(Arc::new(f));
        self
    }

    /// The global-norm threshold, if set.
    pub fn clip_global_norm(&self) -> Option<f64> {
        self.clip_global_norm
    }

    /// The element-wise clip bound, if set.
    pub fn clip_value(&self) -> Option<f64> {
        self.clip_value
    }

    /// Whether a custom closure is set.
    pub fn has_custom(&self) -> bool {
        self.custom.is_some()
    }

    /// Applies the custom closure, then the value clip, then the global-norm clip to
    /// every gradient in `grads` that belongs to a float parameter of `module`
    /// (others are left untouched), and returns the transformed gradients with
    /// [`GradStats`]. Costs one device→host read of `P` numbers (P = number of gradients;
    /// `2·P` with an element-wise clip), and a second, small one only when a sum of squares
    /// is not finite. A parameter shared by two fields is transformed once.
    ///
    /// # Panics
    /// If the custom closure changes a gradient's shape.
    pub fn apply<M: Module>(
        &self,
        module: &M,
        mut grads: GradientsParams,
    ) -> (GradientsParams, GradStats) {
        let mut first = FirstPass {
            path: Vec::new(),
            seen: HashSet::new(),
            grads: &mut grads,
            custom: self.custom.as_deref(),
            clip_value: self.clip_value,
            paths: Vec::new(),
            sum_squares: Vec::new(),
            probes: Vec::new(),
        };
        module.visit(&mut first);
        let FirstPass {
            paths,
            sum_squares,
            probes,
            ..
        } = first;

        let num_grads = paths.len();
        if num_grads == 0 {
            let stats = GradStats {
                global_norm: 0.0,
                clip_scale: 1.0,
                non_finite: None,
                num_grads,
            };
            return (grads, stats);
        }

        // The single device -> host transfer: [ss_0 .. ss_{P-1}], followed by
        // [probe_0 .. probe_{P-1}] when the value clip is on.
        let device = sum_squares[0].device();
        let parts: Vec<Tensor<1>> = sum_squares
            .into_iter()
            .chain(probes)
            .map(|t| {
                if t.device() == device {
                    t
                } else {
                    t.to_device(&device)
                }
            })
            .collect();
        let host: Vec<f64> = Tensor::cat(parts, 0)
            .into_data()
            .try_into_vec_as::<f64>()
            .expect("a float tensor converts to f64 on the host");
        let (ss, probe) = host.split_at(num_grads);
        let probe = if probe.is_empty() {
            // No clip: a tensor's sum of squares is finite only if every element is, so
            // only the others need their probe (finite elements can still overflow it).
            probe_where(module, &mut grads, ss)
        } else {
            probe.to_vec()
        };

        let non_finite = probe
            .iter()
            .position(|p| *p != 0.0)
            .map(|i| paths[i].clone());
        let mut ss = ss.to_vec();
        // Finite gradients whose f32 sum of squares overflowed (elements beyond ~1.8e19, or
        // a sum beyond 3.4e38): measure those again with the largest magnitude factored out,
        // so the norm (and with it the clip) stays finite. A second read, only when it happens.
        let overflowed: Vec<usize> = (0..num_grads)
            .filter(|&i| !ss[i].is_finite() && probe[i] == 0.0)
            .collect();
        let rescaled = measure_selected(module, &mut grads, &overflowed, |g| {
            let max = g.clone().abs().max();
            let scaled = (g / max.clone().unsqueeze()).square().sum();
            vec![max, scaled]
        });
        for (i, v) in rescaled {
            ss[i] = v[0] * v[0] * v[1];
        }
        let global_norm = ss.iter().sum::<f64>().sqrt();

        let mut clip_scale = 1.0;
        if let Some(max_norm) = self.clip_global_norm
            && non_finite.is_none()
            && global_norm.is_finite()
            && global_norm > max_norm
        {
            clip_scale = max_norm / global_norm;
            module.visit(&mut ScalePass {
                seen: HashSet::new(),
                grads: &mut grads,
                scale: clip_scale,
            });
        }

        let stats = GradStats {
            global_norm,
            clip_scale,
            non_finite,
            num_grads,
        };
        (grads, stats)
    }
}

impl Validate for GradTransforms {
    /// The clip bounds are positive and finite (the builder already enforces this; the check
    /// names the field in the one validation style).
    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(v) = self.clip_global_norm {
            deepgen_tensor::config::positive_finite("GradTransforms", "clip_global_norm", v)?;
        }
        if let Some(v) = self.clip_value {
            deepgen_tensor::config::positive_finite("GradTransforms", "clip_value", v)?;
        }
        Ok(())
    }
}

/// Pass 1: custom closure, NaN/Inf probe (with a value clip only), value clip, per-tensor sum
/// of squares.
struct FirstPass<'a> {
    path: Vec<String>,
    seen: HashSet<ParamId>,
    grads: &'a mut GradientsParams,
    custom: Option<&'a CustomGradFn>,
    clip_value: Option<f64>,
    paths: Vec<String>,
    sum_squares: Vec<Tensor<1>>,
    probes: Vec<Tensor<1>>,
}

impl ModuleVisitor for FirstPass<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !self.seen.insert(param.id) {
            return;
        }
        let Some(mut grad) = self.grads.remove::<D>(param.id) else {
            return;
        };
        let path = self.path.join(".");
        if let Some(custom) = self.custom {
            let shape = grad.shape();
            grad = custom(&path, GradTensor::from_tensor(grad)).into_tensor::<D>(&path, &shape);
        }
        // Reductions in f32 at least: an f16 sum of squares overflows past a norm of ~256.
        let wide = |t: Tensor<D>| match t.dtype() {
            DType::F16 | DType::BF16 => t.cast(FloatDType::F32),
            _ => t,
        };
        // IEEE 754: 0·x is ±0 for finite x and NaN for ±∞ or NaN, so the sum is
        // 0 exactly when every element is finite (and cannot overflow).
        // Without a clip the sum of squares below tells finiteness (see `probe_where`).
        if let Some(v) = self.clip_value {
            self.probes.push(wide(grad.clone()).mul_scalar(0.0).sum());
            grad = grad.clamp(-v, v);
        }
        self.sum_squares.push(wide(grad.clone()).square().sum());
        self.paths.push(path);
        self.grads.register::<D>(param.id, grad);
    }
}

/// The NaN/Inf probes (`0` when every element is finite, NaN otherwise) of gradients with a
/// non-finite sum of squares, read in one transfer; `0` for the rest without touching them.
fn probe_where<M: Module>(module: &M, grads: &mut GradientsParams, ss: &[f64]) -> Vec<f64> {
    let mut probe = vec![0.0; ss.len()];
    let wanted: Vec<usize> = (0..ss.len()).filter(|&i| !ss[i].is_finite()).collect();
    for (i, v) in measure_selected(module, grads, &wanted, |g| vec![g.mul_scalar(0.0).sum()]) {
        probe[i] = v[0];
    }
    probe
}

/// The rare extra passes: `measure` of each gradient at `wanted` (its index in the first pass's
/// order), flattened and in f32 at least, reduced on the device and read in one transfer;
/// `(index, values)` in index order. Nothing is read when `wanted` is empty.
fn measure_selected<M: Module>(
    module: &M,
    grads: &mut GradientsParams,
    wanted: &[usize],
    measure: impl FnMut(Tensor<1>) -> Vec<Tensor<1>>,
) -> Vec<(usize, Vec<f64>)> {
    if wanted.is_empty() {
        return Vec::new();
    }
    let mut pass = SelectedPass {
        seen: HashSet::new(),
        grads,
        index: 0,
        wanted: wanted.iter().copied().collect(),
        measure,
        parts: Vec::new(),
    };
    module.visit(&mut pass);
    let counts: Vec<(usize, usize)> = pass.parts.iter().map(|(i, p)| (*i, p.len())).collect();
    let host: Vec<f64> = Tensor::cat(pass.parts.into_iter().flat_map(|(_, p)| p).collect(), 0)
        .into_data()
        .try_into_vec_as::<f64>()
        .expect("a float tensor converts to f64 on the host");
    let mut rest = host.as_slice();
    counts
        .into_iter()
        .map(|(i, n)| {
            let (v, tail) = rest.split_at(n);
            rest = tail;
            (i, v.to_vec())
        })
        .collect()
}

/// The visitor of [`measure_selected`].
struct SelectedPass<'a, F> {
    seen: HashSet<ParamId>,
    grads: &'a mut GradientsParams,
    index: usize,
    wanted: HashSet<usize>,
    measure: F,
    parts: Vec<(usize, Vec<Tensor<1>>)>,
}

impl<F: FnMut(Tensor<1>) -> Vec<Tensor<1>>> ModuleVisitor for SelectedPass<'_, F> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !self.seen.insert(param.id) {
            return;
        }
        let Some(grad) = self.grads.get::<D>(param.id) else {
            return;
        };
        let i = self.index;
        self.index += 1;
        if !self.wanted.contains(&i) {
            return;
        }
        let n = grad.shape().num_elements();
        let grad = match grad.dtype() {
            DType::F16 | DType::BF16 => grad.cast(FloatDType::F32),
            _ => grad,
        };
        self.parts.push((i, (self.measure)(grad.reshape([n]))));
    }
}

/// Pass 2: multiply every gradient by the global clip factor, on the device.
struct ScalePass<'a> {
    seen: HashSet<ParamId>,
    grads: &'a mut GradientsParams,
    scale: f64,
}

impl ModuleVisitor for ScalePass<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !self.seen.insert(param.id) {
            return;
        }
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            self.grads
                .register::<D>(param.id, grad.mul_scalar(self.scale));
        }
    }
}

/// Learning-rate multipliers for sub-modules, keyed by module-path prefix.
///
/// A parameter's path is its dot-separated field path (`encoder.l1.weight`). A
/// prefix `p` matches paths equal to `p` or starting with `p.` (so `enc` does not
/// match `encoder.l1.weight`); the longest matching prefix decides the multiplier,
/// and parameters no prefix matches get 1. The effective rate of a parameter is
/// `base lr × multiplier`.
///
/// Command-line syntax ([`FromStr`] / [`Display`](fmt::Display), round-tripping):
/// `encoder=0.1,decoder.l2=2` (an empty string is no groups).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LrGroups {
    groups: Vec<(String, f64)>,
}

impl LrGroups {
    /// No groups: every parameter trains at the base rate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a group: parameters under `prefix` train at `multiplier ×` the base rate.
    /// `multiplier` must be finite and ≥ 0 (0 freezes the group); each prefix once.
    pub fn with_group(
        mut self,
        prefix: impl Into<String>,
        multiplier: f64,
    ) -> Result<Self, GradError> {
        let prefix = prefix.into();
        if prefix.is_empty()
            || prefix.split('.').any(|part| part.is_empty())
            || prefix
                .chars()
                .any(|c| c.is_whitespace() || c == ',' || c == '=')
        {
            return Err(GradError::BadPrefix { prefix });
        }
        if !(multiplier.is_finite() && multiplier >= 0.0) {
            return Err(GradError::InvalidMultiplier {
                prefix,
                value: multiplier,
            });
        }
        if self.groups.iter().any(|(p, _)| *p == prefix) {
            return Err(GradError::DuplicatePrefix { prefix });
        }
        self.groups.push((prefix, multiplier));
        Ok(self)
    }

    /// The `(prefix, multiplier)` pairs, in the order given.
    pub fn groups(&self) -> &[(String, f64)] {
        &self.groups
    }

    /// Whether no group is set.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Index of the group that decides `path` (the longest matching prefix).
    fn group_of(&self, path: &str) -> Option<usize> {
        self.groups
            .iter()
            .enumerate()
            .filter(|(_, (prefix, _))| prefix_matches(prefix, path))
            .max_by_key(|(_, (prefix, _))| prefix.len())
            .map(|(i, _)| i)
    }

    /// The multiplier for a parameter path (1 when no prefix matches).
    pub fn multiplier(&self, path: &str) -> f64 {
        self.group_of(path).map_or(1.0, |i| self.groups[i].1)
    }

    /// Checks that every prefix matches at least one float parameter of `module`;
    /// the error lists the model's top-level path components. Call once at setup
    /// (the training loop does): [`optimizer_step`] itself ignores unmatched prefixes.
    pub fn check<M: Module>(&self, module: &M) -> Result<(), GradError> {
        let params = collect_paths(module);
        for (prefix, _) in &self.groups {
            if !params.iter().any(|(_, path)| prefix_matches(prefix, path)) {
                let mut unique: Vec<&str> = Vec::new();
                for (_, path) in &params {
                    let top = path.split('.').next().unwrap_or("");
                    if !unique.contains(&top) {
                        unique.push(top);
                    }
                }
                return Err(GradError::UnmatchedPrefix {
                    prefix: prefix.clone(),
                    available: unique.join(", "),
                });
            }
        }
        Ok(())
    }

    /// The per-parameter learning rates for `module` at base rate `lr`, in Burn's
    /// form (`ParamGroup::from_ids` groups), ready for `ModuleOptimizer::step`.
    pub fn learning_rates<M: Module>(&self, lr: f64, module: &M) -> ModuleLearningRate {
        if self.groups.is_empty() {
            return ModuleLearningRate::from(lr);
        }
        let mut ids: Vec<Vec<ParamId>> = vec![Vec::new(); self.groups.len()];
        for (id, path) in collect_paths(module) {
            if let Some(i) = self.group_of(&path) {
                ids[i].push(id);
            }
        }
        let mut scheduler = ModuleLrScheduler::new(lr);
        for ((_, multiplier), ids) in self.groups.iter().zip(ids) {
            if !ids.is_empty() {
                scheduler = scheduler.with_group(ParamGroup::from_ids(ids), lr * multiplier);
            }
        }
        // Constant sub-schedulers: `step` just reads their rates.
        scheduler.step()
    }
}

impl Validate for LrGroups {
    /// Every prefix is a module path given once and every multiplier is finite and ≥ 0 —
    /// what [`LrGroups::with_group`] enforces, checked again for groups that came from JSON.
    fn validate(&self) -> Result<(), ConfigError> {
        let mut checked = LrGroups::new();
        for (prefix, multiplier) in &self.groups {
            checked = checked.with_group(prefix.clone(), *multiplier)?;
        }
        Ok(())
    }
}

impl fmt::Display for LrGroups {
    /// `prefix=multiplier` pairs joined by commas; parses back to an equal value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (prefix, multiplier)) in self.groups.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{prefix}={multiplier}")?;
        }
        Ok(())
    }
}

impl FromStr for LrGroups {
    type Err = GradError;

    /// Parses `PREFIX=MULTIPLIER[,PREFIX=MULTIPLIER...]`; the empty string is no groups.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut groups = LrGroups::new();
        if s.trim().is_empty() {
            return Ok(groups);
        }
        for item in s.split(',') {
            let item = item.trim();
            let Some((prefix, multiplier)) = item.split_once('=') else {
                return Err(GradError::Parse {
                    input: s.to_string(),
                    reason: format!("`{item}` has no `=`"),
                });
            };
            let multiplier: f64 = multiplier.trim().parse().map_err(|_| GradError::Parse {
                input: s.to_string(),
                reason: format!("multiplier `{}` is not a number", multiplier.trim()),
            })?;
            groups = groups.with_group(prefix.trim(), multiplier)?;
        }
        Ok(groups)
    }
}

/// One optimizer step at base rate `lr` with the per-module multipliers of `groups`:
/// `optim.step(groups.learning_rates(lr, &module), module, grads)`.
///
/// Parameters without a gradient are left unchanged (Burn's behaviour).
pub fn optimizer_step<M: Module>(
    optim: &mut ModuleOptimizer,
    lr: f64,
    groups: &LrGroups,
    module: M,
    grads: GradientsParams,
) -> M {
    let rates = groups.learning_rates(lr, &module);
    optim.step(rates, module, grads)
}

/// `prefix` matches `path` when equal to it or a dot-boundary prefix of it.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// `(id, path)` of every float parameter, in module order, each id once.
pub(crate) fn collect_paths<M: Module>(module: &M) -> Vec<(ParamId, String)> {
    struct Paths {
        path: Vec<String>,
        seen: HashSet<ParamId>,
        out: Vec<(ParamId, String)>,
    }
    impl ModuleVisitor for Paths {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.seen.insert(param.id) {
                self.out.push((param.id, self.path.join(".")));
            }
        }
    }
    let mut visitor = Paths {
        path: Vec::new(),
        seen: HashSet::new(),
        out: Vec::new(),
    };
    module.visit(&mut visitor);
    visitor.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_on_dot_boundaries() {
        assert!(prefix_matches("encoder", "encoder.l1.weight"));
        assert!(prefix_matches("encoder.l1", "encoder.l1.weight"));
        assert!(prefix_matches("encoder.l1.weight", "encoder.l1.weight"));
        assert!(!prefix_matches("enc", "encoder.l1.weight"));
        assert!(!prefix_matches("encoder.l", "encoder.l1.weight"));
        assert!(!prefix_matches("decoder", "encoder.l1.weight"));
    }

    #[test]
    fn longest_prefix_wins() {
        let groups = LrGroups::new()
            .with_group("encoder", 0.1)
            .unwrap()
            .with_group("encoder.head", 2.0)
            .unwrap();
        assert_eq!(groups.multiplier("encoder.l1.weight"), 0.1);
        assert_eq!(groups.multiplier("encoder.head.bias"), 2.0);
        assert_eq!(groups.multiplier("decoder.l1.weight"), 1.0);
    }
}
