//! Shared pieces of the loop's integration tests: a two-`Linear` regression model whose every
//! number can be recomputed by hand, a configurable task around it, and the lock that keeps
//! tests from sharing the device RNG.
#![allow(dead_code)] // each test binary uses a different subset

use std::cell::RefCell;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use deepgen_tensor::HostRng;
use deepgen_train::{
    ImageSamples, PointSamples, Samples, StepContext, StepOutput, Task, TrainError, Trainer,
};

/// Burn's flex device has one process-wide RNG and `Trainer::fit` reseeds it every epoch, so
/// tests running in parallel threads would interleave their draws. Every test that trains or
/// draws on the device holds this lock.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `y = a(x) + b(x)`: two 1→1 linear layers, so that learning-rate groups have two
/// sub-modules to tell apart.
#[derive(Module, Debug)]
pub struct Net {
    /// First branch.
    pub a: Linear,
    /// Second branch.
    pub b: Linear,
}

impl Net {
    /// `[B, 1] → [B, 1]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.a.forward(x.clone()) + self.b.forward(x)
    }
}

fn linear(rng: &mut HostRng, device: &Device) -> Linear {
    let mut l = LinearConfig::new(1, 1).init(device);
    let w = rng.normal() as f32 * 0.5;
    let b = rng.normal() as f32 * 0.5;
    l.weight = Param::from_tensor(Tensor::from_data(TensorData::new(vec![w], [1, 1]), device));
    l.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(vec![b], [1]),
        device,
    )));
    l
}

/// A model whose weights come from a host RNG seeded with `seed` (not the shared device RNG).
pub fn net(seed: u64, device: &Device) -> Net {
    let mut rng = HostRng::seed_from_u64(seed);
    Net {
        a: linear(&mut rng, device),
        b: linear(&mut rng, device),
    }
}

fn scalar<const D: usize>(t: Tensor<D>) -> f32 {
    t.into_data().try_to_vec::<f32>().unwrap()[0]
}

/// `[a.weight, a.bias, b.weight, b.bias]`.
pub fn params(m: &Net) -> Vec<f32> {
    vec![
        scalar(m.a.weight.val()),
        scalar(m.a.bias.as_ref().unwrap().val()),
        scalar(m.b.weight.val()),
        scalar(m.b.bias.as_ref().unwrap().val()),
    ]
}

/// Asserts `|x − y| ≤ tol` element-wise.
pub fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol, "{what}: {a:?} vs {b:?}");
    }
}

/// `param` set to `value`, keeping its `ParamId` (what a hook must do).
pub fn set_same_id<const D: usize>(param: Param<Tensor<D>>, value: f32) -> Param<Tensor<D>> {
    param.map(|t| {
        let device = t.device();
        Tensor::<D>::full(t.shape(), value, &device).require_grad()
    })
}

/// A training batch: `x`, and the target `y = 2x + 1 + 0.01·noise`.
pub struct Batch {
    pub x: Tensor<2>,
    pub y: Tensor<2>,
}

/// The regression task, with switches for every loop feature under test.
#[derive(Default)]
pub struct Reg {
    /// Batches per epoch.
    pub batches: usize,
    /// Add `0.1·ε`, ε drawn with `Tensor::random` on the autodiff device, to the target.
    pub device_noise: bool,
    /// Add `β · 0.1 · a.weight²` to the loss (β from the `beta` weight schedule).
    pub beta_term: bool,
    /// Make the training metric `kl` NaN at this step.
    pub nan_metric_at: Option<u64>,
    /// `evaluate` also returns `test_nll` = NaN and `test_big` = +∞.
    pub eval_non_finite: bool,
    /// `before_first_step` sets `b.bias` to this value (keeping its id).
    pub first_step_bias: Option<f32>,
    /// `after_step` at this step sets `a.weight` to 0 (keeping its id).
    pub zero_a_after: Option<u64>,
    /// `after_step` replaces `a.weight` with a fresh `Param` (a new id): must be rejected.
    pub fresh_id_after_step: bool,
    /// `sample` returns 2-D points instead of images.
    pub points: bool,

    /// Calls of `before_first_step`, with the first `x` value of the batch it saw.
    pub before_calls: Vec<f32>,
    /// `ctx.step` of every `after_step` call.
    pub after_steps: Vec<u64>,
    /// The raw parameters after every optimizer step (recorded in `after_step`).
    pub raw_after_step: Vec<Vec<f32>>,
    /// The parameters every `loss` call saw.
    pub seen_in_loss: RefCell<Vec<Vec<f32>>>,
    /// The parameters every `evaluate` call saw.
    pub seen_in_eval: Vec<Vec<f32>>,
}

impl Reg {
    /// `batches` batches per epoch, every switch off.
    pub fn new(batches: usize) -> Self {
        Self {
            batches,
            ..Self::default()
        }
    }
}

impl Task for Reg {
    type Model = Net;
    type Batch = Batch;

    fn num_train_batches(&self) -> usize {
        self.batches
    }

    fn train_batch(
        &mut self,
        _epoch: usize,
        _index: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> Batch {
        let xs: Vec<f32> = (0..8).map(|_| rng.normal() as f32).collect();
        let ys: Vec<f32> = xs
            .iter()
            .map(|x| 2.0 * x + 1.0 + 0.01 * rng.normal() as f32)
            .collect();
        Batch {
            x: Tensor::from_data(TensorData::new(xs, [8, 1]), device),
            y: Tensor::from_data(TensorData::new(ys, [8, 1]), device),
        }
    }

    fn batch_len(&self, _batch: &Batch) -> usize {
        8
    }

    fn before_first_step(&mut self, mut model: Net, batch: &Batch) -> Result<Net, TrainError> {
        self.before_calls.push(scalar(batch.x.clone()));
        if let Some(v) = self.first_step_bias {
            model.b.bias = model.b.bias.map(|p| set_same_id(p, v));
        }
        Ok(model)
    }

    fn after_step(&mut self, mut model: Net, ctx: &StepContext) -> Result<Net, TrainError> {
        self.after_steps.push(ctx.step);
        self.raw_after_step.push(params(&model));
        if self.zero_a_after == Some(ctx.step) {
            model.a.weight = set_same_id(model.a.weight, 0.0);
        }
        if self.fresh_id_after_step {
            let device = model.a.weight.val().device();
            model.a.weight = Param::from_tensor(Tensor::zeros([1, 1], &device).require_grad());
        }
        Ok(model)
    }

    fn loss(&self, model: &Net, batch: Batch, ctx: &StepContext) -> StepOutput {
        self.seen_in_loss.borrow_mut().push(params(model));
        let device = batch.x.device();
        let mut target = batch.y;
        if self.device_noise {
            target = target + Tensor::random([8, 1], Distribution::Normal(0.0, 1.0), &device) * 0.1;
        }
        let err = model.forward(batch.x) - target;
        let mut loss = err.square().mean();
        let beta = ctx.weight_or("beta", 0.0);
        if self.beta_term {
            let w = model.a.weight.val().reshape([1]);
            loss = loss + w.square() * (0.1 * beta);
        }
        let mut kl = Tensor::<1>::from_floats([beta as f32], &device);
        if self.nan_metric_at == Some(ctx.step) {
            kl = kl * f32::NAN;
        }
        StepOutput::new(loss).with_metric("kl", kl)
    }

    fn evaluate(&mut self, model: &Net, device: &Device) -> Result<Vec<(String, f64)>, TrainError> {
        self.seen_in_eval.push(params(model));
        let x = Tensor::<2>::from_floats([[0.0], [1.0]], device);
        let y: Vec<f32> = model.forward(x).into_data().try_to_vec().unwrap();
        let mut out = vec![(
            "test_loss".to_string(),
            ((y[0] - 1.0).powi(2) + (y[1] - 3.0).powi(2)) as f64,
        )];
        if self.eval_non_finite {
            out.push(("test_nll".into(), f64::NAN));
            out.push(("test_big".into(), f64::INFINITY));
        }
        Ok(out)
    }

    fn sample(
        &mut self,
        _model: &Net,
        n: usize,
        _device: &Device,
    ) -> Result<Option<Samples>, TrainError> {
        if self.points {
            let pts: Vec<[f32; 2]> = (0..n).map(|i| [i as f32, -(i as f32) / 2.0]).collect();
            return Ok(Some(PointSamples::planar(&pts).into()));
        }
        let data: Vec<f32> = (0..n * 4).map(|i| (i % 5) as f32 / 4.0).collect();
        Ok(Some(
            ImageSamples {
                data,
                shape: [n, 1, 2, 2],
                nrow: 2,
                labels: None,
            }
            .into(),
        ))
    }
}

/// A quiet trainer: seed 3, constant LR 0.05, 4 samples, no progress bar.
pub fn trainer(out: &Path, epochs: usize) -> Trainer {
    Trainer::new(out)
        .epochs(epochs)
        .seed(3)
        .lr(deepgen_train::Schedule::Constant(0.05))
        .num_samples(4)
        .progress(false)
}

/// Every line of `out/metrics.jsonl`, parsed strictly.
pub fn metrics_lines(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("`{l}` is not JSON: {e}")))
        .collect()
}
