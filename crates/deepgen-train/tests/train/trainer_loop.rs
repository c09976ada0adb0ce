//! End-to-end tests of the shared loop on a tiny regression task: files written, resume
//! equals an uninterrupted run, existing runs are not overwritten, divergence is reported
//! with its step.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::AdamConfig;
use burn::tensor::{Device, Tensor, TensorData};
use deepgen_tensor::HostRng;
use deepgen_train::checkpoint::CheckpointDir;
use deepgen_train::{
    FitReport, ImageSamples, Samples, Schedule, StepContext, StepOutput, Task, TrainError, Trainer,
};
use std::path::Path;

use crate::common;
use common::serial;

#[derive(Module, Debug)]
struct Line {
    l: Linear,
}

/// y = 2x + 1 + noise; batches drawn from the loop's host RNG.
struct Regression {
    batches: usize,
    /// Step at which the loss is made NaN (divergence test).
    nan_loss_at: Option<u64>,
    /// Step at which the gradient (not the loss) is made NaN.
    nan_grad_at: Option<u64>,
    seen_beta: Vec<f64>,
}

impl Regression {
    fn new(batches: usize) -> Self {
        Self {
            batches,
            nan_loss_at: None,
            nan_grad_at: None,
            seen_beta: vec![],
        }
    }
}

struct Batch {
    x: Tensor<2>,
    y: Tensor<2>,
}

impl Task for Regression {
    type Model = Line;
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
        let xs: Vec<f32> = (0..16).map(|_| rng.normal() as f32).collect();
        let ys: Vec<f32> = xs
            .iter()
            .map(|x| 2.0 * x + 1.0 + 0.01 * rng.normal() as f32)
            .collect();
        Batch {
            x: Tensor::from_data(TensorData::new(xs, [16, 1]), device),
            y: Tensor::from_data(TensorData::new(ys, [16, 1]), device),
        }
    }

    fn batch_len(&self, _batch: &Batch) -> usize {
        16
    }

    fn loss(&self, model: &Line, batch: Batch, ctx: &StepContext) -> StepOutput {
        let err = model.l.forward(batch.x) - batch.y;
        let mut loss = err.square().mean();
        if self.nan_loss_at == Some(ctx.step) {
            loss = loss * f32::NAN;
        }
        if self.nan_grad_at == Some(ctx.step) {
            // Value 0, gradient 0·∞ = NaN.
            loss = loss + (model.l.weight.val() * 0.0).sqrt().sum();
        }
        let beta = Tensor::<1>::from_floats([ctx.weight_or("beta", -1.0) as f32], &loss.device());
        StepOutput::new(loss).with_metric("beta_seen", beta)
    }

    fn evaluate(
        &mut self,
        model: &Line,
        device: &Device,
    ) -> Result<Vec<(String, f64)>, TrainError> {
        let x = Tensor::<2>::from_floats([[0.0], [1.0]], device);
        let y: Vec<f32> = model.l.forward(x).into_data().try_to_vec().unwrap();
        self.seen_beta.push(y[0] as f64);
        Ok(vec![(
            "test_loss".into(),
            ((y[0] - 1.0).powi(2) + (y[1] - 3.0).powi(2)) as f64,
        )])
    }

    fn sample(
        &mut self,
        _model: &Line,
        n: usize,
        _device: &Device,
    ) -> Result<Option<Samples>, TrainError> {
        let data: Vec<f32> = (0..n * 4).map(|i| (i % 5) as f32 / 4.0).collect();
        Ok(Some(Samples::Images(ImageSamples {
            data,
            shape: [n, 1, 2, 2],
            nrow: 2,
            labels: Some((0..n as i64).collect()),
        })))
    }
}

fn out_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

fn model(device: &Device) -> Line {
    device.seed(7);
    Line {
        l: LinearConfig::new(1, 1).init(device),
    }
}

fn params(m: &Line) -> Vec<f32> {
    let mut v: Vec<f32> = m.l.weight.val().into_data().try_to_vec().unwrap();
    v.extend(
        m.l.bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap(),
    );
    v
}

/// Trains a freshly built [`model`] with Adam.
fn fit_fresh(
    t: Trainer,
    task: &mut Regression,
    device: &Device,
) -> Result<FitReport<Line>, TrainError> {
    t.fit(task, model(device), AdamConfig::new().init(), device)
}

fn trainer(out: &Path, epochs: usize) -> Trainer {
    Trainer::new(out)
        .epochs(epochs)
        .seed(3)
        .lr(Schedule::Constant(0.05))
        .num_samples(4)
        .progress(false)
}

#[test]
fn trains_and_writes_every_file() {
    let _guard = serial();
    let out_tmp = out_dir();
    let out = out_tmp.path();
    let ad = Device::flex().autodiff();
    let mut task = Regression::new(30);
    let t = trainer(out, 3).weight_schedule(
        "beta",
        Schedule::LinearWarmup {
            start: 0.0,
            end: 1.0,
            warmup_steps: 60,
        },
    );
    let report = t
        .fit(&mut task, model(&ad), AdamConfig::new().init(), &ad)
        .unwrap();
    let p = params(&report.model);
    assert!(
        (p[0] - 2.0).abs() < 0.1 && (p[1] - 1.0).abs() < 0.1,
        "learned {p:?}"
    );

    for f in [
        "samples.png",
        "samples.npy",
        "labels.npy",
        "metrics.jsonl",
        "loss.png",
        "samples/epoch-0003.png",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["epoch"].as_u64(), Some(i as u64 + 1));
        assert!(
            l["train_loss"].as_f64().is_some() && l["test_loss"].as_f64().is_some(),
            "{l}"
        );
    }
    // The loss falls, and the β schedule reached the task: mean of β over epoch 1 (steps
    // 0..30 of a 60-step warm-up) is (0 + 29)/2/60 = 0.2417.
    assert!(lines[2]["train_loss"].as_f64() < lines[0]["train_loss"].as_f64());
    let beta1 = lines[0]["train_beta_seen"].as_f64().unwrap();
    assert!((beta1 - 14.5 / 60.0).abs() < 1e-6, "{beta1}");
    // Checkpoint at epoch 3 is "latest".
    let ck = CheckpointDir::new(out.join("checkpoint"))
        .latest()
        .unwrap()
        .unwrap();
    assert_eq!((ck.state.epoch, ck.state.step, ck.state.seed), (3, 90, 3));
}

#[test]
fn resume_equals_an_uninterrupted_run() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let full_dir_tmp = out_dir();
    let full_dir = full_dir_tmp.path();
    let full = fit_fresh(trainer(full_dir, 4), &mut Regression::new(10), &ad).unwrap();

    let dir_tmp = out_dir();
    let dir = dir_tmp.path();
    fit_fresh(trainer(dir, 2), &mut Regression::new(10), &ad).unwrap();
    // A fresh process would build a freshly initialised model: different seed on purpose.
    ad.seed(999);
    let fresh = Line {
        l: LinearConfig::new(1, 1).init(&ad),
    };
    let resumed = trainer(dir, 4)
        .resume(true)
        .fit(
            &mut Regression::new(10),
            fresh,
            AdamConfig::new().init(),
            &ad,
        )
        .unwrap();
    let (a, b) = (params(&full.model), params(&resumed.model));
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-6, "uninterrupted {a:?} vs resumed {b:?}");
    }
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let epochs: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(epochs, vec![1, 2, 3, 4]);
}

#[test]
fn an_existing_run_is_not_overwritten_without_resume() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let dir_tmp = out_dir();
    let dir = dir_tmp.path();
    fit_fresh(trainer(dir, 1), &mut Regression::new(3), &ad).unwrap();
    let before = std::fs::read(dir.join("checkpoint/epoch-0001/model.bpk")).unwrap();
    let err = fit_fresh(trainer(dir, 2), &mut Regression::new(3), &ad).unwrap_err();
    assert!(matches!(err, TrainError::Checkpoint { .. }), "{err}");
    assert!(err.to_string().contains("--resume"), "{err}");
    assert_eq!(
        std::fs::read(dir.join("checkpoint/epoch-0001/model.bpk")).unwrap(),
        before
    );
}

#[test]
fn nan_loss_stops_with_the_step_and_keeps_the_last_checkpoint() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let dir_tmp = out_dir();
    let dir = dir_tmp.path();
    let mut task = Regression::new(10);
    task.nan_loss_at = Some(13); // epoch 1 (0-based), after the epoch-1 checkpoint
    let err = fit_fresh(trainer(dir, 3), &mut task, &ad).unwrap_err();
    match &err {
        TrainError::NonFiniteLoss {
            step,
            epoch,
            metric,
            ..
        } => {
            assert_eq!((*step, *epoch, metric.as_str()), (13, 1, "loss"));
        }
        other => panic!("expected NonFiniteLoss, got {other}"),
    }
    assert!(err.to_string().contains("step 13"), "{err}");
    let ck = CheckpointDir::new(dir.join("checkpoint"))
        .latest()
        .unwrap()
        .unwrap();
    assert_eq!(ck.state.epoch, 1);
}

#[test]
fn nan_gradient_names_the_parameter() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let dir_tmp = out_dir();
    let dir = dir_tmp.path();
    let mut task = Regression::new(10);
    task.nan_grad_at = Some(4);
    let err = fit_fresh(trainer(dir, 1), &mut task, &ad).unwrap_err();
    match &err {
        TrainError::NonFiniteGradient { step, param, .. } => {
            assert_eq!(*step, 4);
            assert!(param.contains("weight"), "{param}");
        }
        other => panic!("expected NonFiniteGradient, got {other}"),
    }
}

#[test]
fn a_non_autodiff_device_is_a_config_error() {
    let _guard = serial();
    let dev = Device::flex();
    let dir_tmp = out_dir();
    let dir = dir_tmp.path();
    let err = fit_fresh(trainer(dir, 1), &mut Regression::new(1), &dev).unwrap_err();
    assert!(err.to_string().contains("autodiff"), "{err}");
}
