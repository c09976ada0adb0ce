//! What a model implements to be trained by the shared loop.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use deepgen_tensor::HostRng;

use crate::TrainError;

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

/// Images produced by a sampling hook: values in [0, 1], layout `[N, C, H, W]`.
#[derive(Debug, Clone)]
pub struct Samples {
    /// Pixel data, row-major `[N, C, H, W]`.
    pub data: Vec<f32>,
    /// `[N, C, H, W]`.
    pub shape: [usize; 4],
    /// Images per row of the PNG grid.
    pub nrow: usize,
    /// Optional int64 labels saved beside the samples as `labels.npy` (class-conditional models).
    pub labels: Option<Vec<i64>>,
}

/// A model together with its data: everything the loop needs to train, evaluate and sample.
///
/// The loop owns the model and the optimizer; the task owns the data and knows how to turn a
/// batch into a loss. Evaluation and sampling get the model in inference mode (`valid()`, or
/// the EMA weights when EMA is on) and a device without autodiff.
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

    /// Evaluates `model` on held-out data; returns named metrics (logged as given, e.g.
    /// `"test_elbo"`). The default evaluates nothing.
    fn evaluate(
        &mut self,
        model: &Self::Model,
        device: &Device,
    ) -> Result<Vec<(String, f64)>, TrainError> {
        let _ = (model, device);
        Ok(Vec::new())
    }

    /// Draws `n` samples for the grid and `samples.npy`. The default draws none.
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
