//! What a model implements to be trained by the shared loop.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use deepgen_tensor::HostRng;

use crate::{Samples, TrainError};

/// Where the loop is when it asks for a loss.
#[derive(Debug, Clone)]
pub struct StepContext {
    /// Epoch, 0-based.
    pub epoch: usize,
    /// Global optimizer step, 0-based (the argument of every schedule).
    pub step: u64,
    /// Current values of the loss-weight schedules, by name (e.g. `"beta"`).
    pub weights: BTreeMap<String, f64>,
}

impl StepContext {
    /// The current value of loss weight `name`, or `default` when no schedule of that name was
    /// registered with [`Trainer::weight_schedule`](crate::Trainer::weight_schedule).
    pub fn weight_or(&self, name: &str, default: f64) -> f64 {
        self.weights.get(name).copied().unwrap_or(default)
    }
}

/// The result of one forward pass on a training batch.
#[derive(Debug)]
pub struct StepOutput {
    /// The scalar to minimise, shape `[1]`, still attached to the autodiff graph.
    pub loss: Tensor<1>,
    /// Named scalar metrics (shape `[1]` each), e.g. reconstruction and KL terms. They are
    /// detached by the loop, averaged over the epoch and logged as `train_<name>`.
    pub metrics: Vec<(String, Tensor<1>)>,
}

impl StepOutput {
    /// A loss with no extra metrics.
    pub fn new(loss: Tensor<1>) -> Self {
        Self {
            loss,
            metrics: Vec::new(),
        }
    }

    /// Adds a named metric.
    pub fn with_metric(mut self, name: impl Into<String>, value: Tensor<1>) -> Self {
        self.metrics.push((name.into(), value));
        self
    }
}

/// A model together with its data: everything the loop needs to train, evaluate and sample.
///
/// The loop owns the model and the optimizer; the task owns the data and knows how to turn a
/// batch into a loss. Evaluation and sampling get the model in inference mode (`valid()`, or
/// the EMA weights when EMA is on) and a device without autodiff.
///
/// # Hooks that change the model
///
/// [`before_first_step`](Task::before_first_step) (data-dependent initialisation, e.g. Glow's
/// ActNorm) and [`after_step`](Task::after_step) (e.g. re-seeding a VQ-VAE's dead codes) take
/// the model by value and return it. The returned model **must keep every parameter's
/// `ParamId`**: the optimizer's state (Adam's moments) and the learning-rate groups are keyed
/// by it. Change a value with `param.map(|t| new_value.require_grad())` or
/// `Param::initialized(param.id, new_value.require_grad())`, never with `Param::from_tensor`
/// (a fresh id). The loop checks this after each call and stops with
/// [`TrainError::HookChangedParams`] naming the first parameter whose id changed.
pub trait Task {
    /// The Burn module being trained.
    type Model: Module;
    /// A batch on the device.
    type Batch;

    /// Number of training batches in an epoch.
    fn num_train_batches(&self) -> usize;

    /// Builds training batch `index` of `epoch` on `device` (the autodiff device).
    ///
    /// `rng` is the loop's host RNG for this epoch: use it for shuffling-independent randomness
    /// such as dynamic binarisation so that `--resume` reproduces the same stream.
    fn train_batch(
        &mut self,
        epoch: usize,
        index: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> Self::Batch;

    /// Number of examples in `batch` (for the throughput display).
    fn batch_len(&self, batch: &Self::Batch) -> usize;

    /// The loss (and metrics) of `model` on `batch`.
    fn loss(&self, model: &Self::Model, batch: Self::Batch, ctx: &StepContext) -> StepOutput;

    /// Runs once, before the very first optimizer step of a run, with the first training
    /// batch: the place for data-dependent initialisation (Glow's ActNorm sets its bias and
    /// scale so that the first batch's activations have zero mean and unit variance).
    ///
    /// It does **not** run on `--resume` (the checkpoint already holds the initialised
    /// weights), nor again in later epochs. `model` is on the autodiff device; the returned
    /// model must keep its `ParamId`s (see [the trait docs](Task)). When EMA is on, the
    /// average starts from the returned model. The default returns `model` unchanged.
    ///
    /// # Errors
    /// Whatever the task reports; the loop stops with it.
    fn before_first_step(
        &mut self,
        model: Self::Model,
        batch: &Self::Batch,
    ) -> Result<Self::Model, TrainError> {
        let _ = batch;
        Ok(model)
    }

    /// Runs after every optimizer step (and after the EMA update, when EMA is on), before the
    /// next batch: the place for changes the optimizer does not make, such as re-seeding a
    /// VQ-VAE's unused codebook entries.
    ///
    /// `ctx` is the context the step's loss was computed with, so `ctx.step` is the 0-based
    /// index of the step just taken (`ctx.step + 1` steps are done). The returned model must
    /// keep its `ParamId`s (see [the trait docs](Task)). The default returns `model`
    /// unchanged.
    ///
    /// # Errors
    /// Whatever the task reports; the loop stops with it.
    fn after_step(
        &mut self,
        model: Self::Model,
        ctx: &StepContext,
    ) -> Result<Self::Model, TrainError> {
        let _ = ctx;
        Ok(model)
    }

    /// Evaluates `model` on held-out data; returns named metrics (logged as given, e.g.
    /// `"test_elbo"`). Runs at the end of every epoch and, with
    /// [`Trainer::eval_every_steps`](crate::Trainer::eval_every_steps), every N steps. A NaN
    /// or infinite result does not stop training: it is logged as `null` with its reason
    /// (see [`crate::metrics`]). The names `epoch`, `mid_epoch` and `non_finite` are reserved.
    /// The default evaluates nothing.
    fn evaluate(
        &mut self,
        model: &Self::Model,
        device: &Device,
    ) -> Result<Vec<(String, f64)>, TrainError> {
        let _ = (model, device);
        Ok(Vec::new())
    }

    /// Draws `n` samples — images ([`ImageSamples`](crate::ImageSamples)) or points
    /// ([`PointSamples`](crate::PointSamples)) — for `samples.png` and `samples.npy` (see
    /// [`crate::samples`]). The default draws none.
    fn sample(
        &mut self,
        model: &Self::Model,
        n: usize,
        device: &Device,
    ) -> Result<Option<Samples>, TrainError> {
        let _ = (model, n, device);
        Ok(None)
    }
}
