//! Exponential moving average (EMA) of a model's weights, for evaluation and sampling.
//!
//! # Design
//!
//! [`Ema`] keeps a *shadow* copy of the model, of the same type `M`, made with
//! `Module::valid()`: its tensors live on the model's device **without autodiff**
//! (`Tensor::without_autodiff`), so the shadow never holds or extends an autodiff
//! graph, and its training flags (dropout, …) are off, as an evaluation model's
//! should be. After each optimizer step the loop calls [`Ema::update`]:
//!
//! ```text
//! shadow ← shadow − (1 − d)·(shadow − param)      (= d·shadow + (1 − d)·param)
//! d = min(decay, (1 + n)/(10 + n))   with warm-up (default), n = updates done so far
//! d = decay                          without warm-up
//! ```
//!
//! The first form is TensorFlow's `ExponentialMovingAverage` update; it is exact
//! when `param == shadow`, so a parameter that stops moving is not perturbed by
//! rounding. The warm-up is TensorFlow's `num_updates` rule: the first update uses
//! `d = 0.1`, so early on the shadow follows the model instead of remembering its
//! random initialisation for ~`1/(1 − decay)` steps. Switch it off with
//! [`Ema::with_warmup`]. The arithmetic runs on the device in the parameters' dtype
//! (f32), the scalars `d`, `1 − d` in `f64` on the host.
//!
//! Parameters are matched between model and shadow by **module path**
//! (`encoder.l1.weight`), not by `ParamId`: a shadow loaded from disk carries the
//! ids recorded when it was saved, while a model rebuilt from its config has fresh
//! ones, and paths agree in both cases. Float parameters are averaged; integer and
//! boolean parameters are copied from the model.
//!
//! The state is saved next to a checkpoint as two files in its directory:
//! [`EMA_WEIGHTS_FILE`], the shadow as a burnpack record
//! (`Module::into_record` / `ModuleRecord::into_bytes`), and [`EMA_STATE_FILE`],
//! [`EmaState`] (decay, updates, warm-up) as JSON.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::store::ModuleRecord;
use burn::tensor::container::TensorContainer;
use burn::tensor::{Bool, Bytes, Int, Shape, Tensor};

/// File name of the shadow weights (burnpack) inside a checkpoint directory.
pub const EMA_WEIGHTS_FILE: &str = "ema.bpk";
/// File name of the [`EmaState`] (JSON) inside a checkpoint directory.
pub const EMA_STATE_FILE: &str = "ema.json";

/// Errors from building, updating, saving or loading an [`Ema`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EmaError {
    /// The decay is outside `[0, 1]` or not a number.
    #[error("EMA `decay` = {value} must lie in [0, 1] (typical values: 0.999 or 0.9999)")]
    InvalidDecay {
        /// The decay given.
        value: f64,
    },
    /// Model and shadow do not have the same parameters.
    #[error(
        "EMA shadow and model differ at parameter `{path}`: {reason}; an EMA must be updated with \
         (and loaded for) the architecture it was built from"
    )]
    Mismatch {
        /// The parameter path where they differ.
        path: String,
        /// How they differ.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("EMA: cannot {action} `{}`: {message}", path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// The shadow weights could not be encoded, decoded or applied.
    #[error(
        "EMA weights {}: {message} (was it saved from the same model architecture?)",
        path.as_ref().map_or_else(|| "(in memory)".to_string(), |p| format!("`{}`", p.display()))
    )]
    Record {
        /// The file, when the weights came from one.
        path: Option<PathBuf>,
        /// Burn's message.
        message: String,
    },
    /// The EMA state file is not valid JSON for [`EmaState`] or holds invalid values.
    #[error("EMA state {}: {message}", path.as_ref().map_or_else(|| "(in memory)".to_string(), |p| format!("`{}`", p.display())))]
    State {
        /// The file, when the state came from one.
        path: Option<PathBuf>,
        /// What is wrong.
        message: String,
    },
}

/// The scalar part of an [`Ema`]'s state, saved as [`EMA_STATE_FILE`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EmaState {
    /// The target decay, in `[0, 1]`.
    pub decay: f64,
    /// How many updates have been applied.
    pub updates: u64,
    /// Whether the `min(decay, (1+n)/(10+n))` warm-up is on.
    pub warmup: bool,
}

/// An exponential moving average of a model's weights (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct Ema<M: Module> {
    shadow: M,
    decay: f64,
    updates: u64,
    warmup: bool,
}

impl<M: Module> Ema<M> {
    /// Starts the average at the model's current weights, with warm-up on.
    ///
    /// `decay` must lie in `[0, 1]`; 0 makes the shadow a copy of the latest
    /// weights, 1 freezes it (with warm-up off).
    pub fn new(model: &M, decay: f64) -> Result<Self, EmaError> {
        check_decay(decay)?;
        Ok(Self {
            shadow: model.valid(),
            decay,
            updates: 0,
            warmup: true,
        })
    }

    /// Turns TensorFlow's `num_updates` warm-up `d = min(decay, (1+n)/(10+n))` on or off.
    pub fn with_warmup(mut self, warmup: bool) -> Self {
        self.warmup = warmup;
        self
    }

    /// The target decay.
    pub fn decay(&self) -> f64 {
        self.decay
    }

    /// How many updates have been applied.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Whether the warm-up is on.
    pub fn warmup(&self) -> bool {
        self.warmup
    }

    /// The decay the next [`update`](Self::update) will use.
    pub fn current_decay(&self) -> f64 {
        if self.warmup {
            let n = self.updates as f64;
            self.decay.min((1.0 + n) / (10.0 + n))
        } else {
            self.decay
        }
    }

    /// Moves the shadow towards `model`'s current weights (call after each optimizer step).
    ///
    /// On a [`EmaError::Mismatch`] (a parameter path present in only one of the two,
    /// or a different shape) the shadow is left unchanged.
    pub fn update(&mut self, model: &M) -> Result<(), EmaError> {
        let d = self.current_decay();

        let mut current = Collect {
            path: Vec::new(),
            floats: TensorContainer::new(),
            ints: TensorContainer::new(),
            bools: TensorContainer::new(),
            order: Vec::new(),
            pending: HashSet::new(),
        };
        model.visit(&mut current);

        let mut mapper = Average {
            path: Vec::new(),
            current,
            one_minus_d: 1.0 - d,
            error: None,
        };
        let shadow = self.shadow.clone().map(&mut mapper);
        if let Some(error) = mapper.error {
            return Err(error);
        }
        let Collect { order, pending, .. } = mapper.current;
        if let Some(path) = order.into_iter().find(|p| pending.contains(p)) {
            return Err(EmaError::Mismatch {
                path,
                reason: "the model has this parameter but the shadow does not".to_string(),
            });
        }
        self.shadow = shadow;
        self.updates += 1;
        Ok(())
    }

    /// The averaged model (validation mode, no autodiff), for evaluation and sampling.
    pub fn model(&self) -> &M {
        &self.shadow
    }

    /// Consumes the EMA and returns the averaged model.
    pub fn into_model(self) -> M {
        self.shadow
    }

    /// The scalar state (decay, updates, warm-up).
    pub fn state(&self) -> EmaState {
        EmaState {
            decay: self.decay,
            updates: self.updates,
            warmup: self.warmup,
        }
    }

    /// The shadow weights as a burnpack byte buffer.
    pub fn weights_to_bytes(&self) -> Result<Vec<u8>, EmaError> {
        let bytes = self
            .shadow
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| EmaError::Record {
                path: None,
                message: e.to_string(),
            })?;
        Ok(bytes.to_vec())
    }

    /// Rebuilds an EMA from [`weights_to_bytes`](Self::weights_to_bytes) and
    /// [`state`](Self::state). `model` only supplies the structure and device
    /// (any instance of the architecture will do; its weights are not used).
    pub fn from_parts(model: &M, weights: &[u8], state: EmaState) -> Result<Self, EmaError> {
        Self::from_parts_at(model, weights, state, None, None)
    }

    fn from_parts_at(
        model: &M,
        weights: &[u8],
        state: EmaState,
        weights_path: Option<&Path>,
        state_path: Option<&Path>,
    ) -> Result<Self, EmaError> {
        check_decay(state.decay).map_err(|e| EmaError::State {
            path: state_path.map(Path::to_path_buf),
            message: e.to_string(),
        })?;
        let record_error = |e: burn::store::RecordError| EmaError::Record {
            path: weights_path.map(Path::to_path_buf),
            message: e.to_string(),
        };
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights.to_vec()))
            .map_err(record_error)?;
        let shadow = model
            .valid()
            .try_load_record(record)
            .map_err(record_error)?;
        Ok(Self {
            shadow,
            decay: state.decay,
            updates: state.updates,
            warmup: state.warmup,
        })
    }

    /// Writes [`EMA_WEIGHTS_FILE`] and [`EMA_STATE_FILE`] into `dir` (which must
    /// exist), each through a temporary file and a rename so that a crash never
    /// leaves a half-written file under the final name.
    pub fn save(&self, dir: &Path) -> Result<(), EmaError> {
        let weights = self.weights_to_bytes()?;
        let state = serde_json::to_string_pretty(&self.state()).map_err(|e| EmaError::State {
            path: None,
            message: e.to_string(),
        })?;
        write_atomically(&dir.join(EMA_WEIGHTS_FILE), &weights)?;
        write_atomically(&dir.join(EMA_STATE_FILE), state.as_bytes())
    }

    /// Reads an EMA saved by [`save`](Self::save) from `dir`. `model` supplies the
    /// structure and device, as in [`from_parts`](Self::from_parts).
    pub fn load(model: &M, dir: &Path) -> Result<Self, EmaError> {
        let weights_path = dir.join(EMA_WEIGHTS_FILE);
        let state_path = dir.join(EMA_STATE_FILE);
        let read = |path: &Path| {
            fs::read(path).map_err(|e| EmaError::Io {
                action: "read",
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        };
        let weights = read(&weights_path)?;
        let state_bytes = read(&state_path)?;
        let state: EmaState =
            serde_json::from_slice(&state_bytes).map_err(|e| EmaError::State {
                path: Some(state_path.clone()),
                message: e.to_string(),
            })?;
        Self::from_parts_at(
            model,
            &weights,
            state,
            Some(&weights_path),
            Some(&state_path),
        )
    }
}

fn check_decay(decay: f64) -> Result<(), EmaError> {
    if (0.0..=1.0).contains(&decay) {
        Ok(())
    } else {
        Err(EmaError::InvalidDecay { value: decay })
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), EmaError> {
    deepgen_tensor::output::write_file_atomic(path, bytes).map_err(|e| EmaError::Io {
        action: "write",
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The model's current parameters, without autodiff, keyed by path.
struct Collect {
    path: Vec<String>,
    floats: TensorContainer<String>,
    ints: TensorContainer<String>,
    bools: TensorContainer<String>,
    /// Every collected path, in module order.
    order: Vec<String>,
    /// Paths not yet matched by a shadow parameter.
    pending: HashSet<String>,
}

impl Collect {
    fn next_path(&mut self) -> String {
        let path = self.path.join(".");
        self.order.push(path.clone());
        self.pending.insert(path.clone());
        path
    }
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let path = self.next_path();
        self.floats.register(path, param.val().without_autodiff());
    }

    fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<D, Int>>) {
        let path = self.next_path();
        self.ints.register(path, param.val().without_autodiff());
    }

    fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<D, Bool>>) {
        let path = self.next_path();
        self.bools.register(path, param.val().without_autodiff());
    }
}

/// Maps the shadow: floats move towards the model, ints and bools are copied.
struct Average {
    path: Vec<String>,
    current: Collect,
    one_minus_d: f64,
    error: Option<EmaError>,
}

impl Average {
    /// Takes the model's tensor at the current path, checking presence and shape.
    fn take<T: Clone + Send + 'static>(
        &mut self,
        pick: impl FnOnce(&mut Collect, &String) -> Option<T>,
        shadow_shape: Shape,
        shape_of: impl FnOnce(&T) -> Shape,
    ) -> Option<T> {
        if self.error.is_some() {
            return None;
        }
        let path = self.path.join(".");
        let Some(value) = pick(&mut self.current, &path) else {
            self.error = Some(EmaError::Mismatch {
                path,
                reason: "the shadow has this parameter but the model does not".to_string(),
            });
            return None;
        };
        self.current.pending.remove(&path);
        let model_shape = shape_of(&value);
        if model_shape != shadow_shape {
            self.error = Some(EmaError::Mismatch {
                path,
                reason: format!(
                    "shape {:?} in the model, {:?} in the shadow",
                    model_shape.as_slice(),
                    shadow_shape.as_slice()
                ),
            });
            return None;
        }
        Some(value)
    }
}

impl ModuleMapper for Average {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let shape = param.shape();
        let Some(current) = self.take(|c, p| c.floats.remove::<Tensor<D>>(p), shape, Tensor::shape)
        else {
            return param;
        };
        let one_minus_d = self.one_minus_d;
        param.map(|shadow| {
            let current = if current.device() == shadow.device() {
                current
            } else {
                current.to_device(&shadow.device())
            };
            // TF's form: exact when shadow == current.
            shadow.clone() - (shadow - current).mul_scalar(one_minus_d)
        })
    }

    fn map_int<const D: usize>(&mut self, param: Param<Tensor<D, Int>>) -> Param<Tensor<D, Int>> {
        let shape = param.shape();
        let Some(current) = self.take(
            |c, p| c.ints.remove::<Tensor<D, Int>>(p),
            shape,
            Tensor::shape,
        ) else {
            return param;
        };
        param.map(|shadow| current.to_device(&shadow.device()))
    }

    fn map_bool<const D: usize>(
        &mut self,
        param: Param<Tensor<D, Bool>>,
    ) -> Param<Tensor<D, Bool>> {
        let shape = param.shape();
        let Some(current) = self.take(
            |c, p| c.bools.remove::<Tensor<D, Bool>>(p),
            shape,
            Tensor::shape,
        ) else {
            return param;
        };
        param.map(|shadow| current.to_device(&shadow.device()))
    }
}
