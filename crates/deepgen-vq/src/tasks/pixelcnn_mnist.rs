//! The run of the `pixelcnn_mnist` example ([`run`] with [`PixelCnnMnistArgs`]): the gated
//! PixelCNN as a density model of statically binarised MNIST — 28 × 28 maps of the two symbols
//! 0 (black) and 1 (white), the same [`GatedPixelCnn`] that models VQ-VAE code maps.
//!
//! ```sh
//! cargo run --release --example pixelcnn_mnist                # 2 CPU cores → runs/pixelcnn_mnist/
//! cargo run --release --example pixelcnn_mnist -- --resume --epochs 4   # train further
//! cargo run --release --example pixelcnn_mnist -- --class-conditional --class 3
//! # the paper-sized model on a GPU:
//! cargo run --release --features wgpu --example pixelcnn_mnist -- --device wgpu \
//!     --channels 64 --layers 8 --kernel-size 7 --head-channels 256 --train-images 60000 \
//!     --epochs 20 --out runs/pixelcnn_mnist_gpu
//! ```
//!
//! Data: the training split binarised once with `Binarization::Static { seed: 0 }` (the
//! `static` of the other examples) and the test split with the seed
//! `Stream::TestBinarization.label()` (`0x7E57`, as the VAE examples' test sets): each pixel
//! is 1 with probability `x / 255`, drawn once per image from `HostRng::derive(seed, index)`.
//! These are *not* Larochelle & Murray's fixed binarisation behind the PixelCNN papers' 81.30
//! nats (van den Oord et al. 2016b, Table 4), so the numbers are close in spirit, not equal.
//!
//! Defaults are sized for 2 CPU cores: a small model (`--channels 32 --layers 5
//! --kernel-size 5 --head-channels 64`, 254 498 parameters), `--train-images 4000` per epoch (a fresh part of the
//! seeded permutation each epoch), batch 32, Adam at 1e-3, 3 epochs, the first 500 test
//! images (`--test-images`) behind the per-epoch `test_nll`, and 16 samples per epoch (each
//! sample costs 784 network passes). Measured on 2 CPU cores (flex): training runs at about
//! 10 images/s, so an epoch is ≈ 7 min of training plus the test NLL and the 16 samples.
//!
//! Every epoch logs `train_nll`, `train_bits_per_symbol`, `test_nll` (nats per image),
//! `test_loss` and `test_bits_per_symbol` in `metrics.jsonl` and writes a sample grid
//! (`samples.png`, `samples.npy`; `labels.npy` with `--class-conditional`). After training,
//! `eval.json` holds `test_nll` (nats per image, on all test images of `--test-images`),
//! `test_bpd` (bits per pixel), the binarisation, and the budget: epochs, wall seconds,
//! parameters.

use std::error::Error;
use std::time::Instant;

use burn::module::Module;
use deepgen_data::{Mnist, MnistSplit, static_binarized};
use deepgen_tensor::{Stream, Validate};
use deepgen_train::FusedAdamConfig;
use deepgen_train::{CommonArgs, EvalReport, Run, RunDefaults, Schedule, Task, TrainError};

use crate::pixelcnn::GatedPixelCnnConfig;
use crate::tasks::symbol_maps::{SymbolMapTask, SymbolMaps, train_error};

/// Seed of the training split's static binarisation.
pub const TRAIN_BINARIZATION_SEED: u64 = deepgen_data::binarize::DEFAULT_STATIC_SEED;
use super::MNIST_CLASSES;

/// Flags of the `pixelcnn_mnist` example (`#[command(flatten)]` beside [`CommonArgs`]).
#[derive(clap::Args, Debug, Clone)]
pub struct PixelCnnMnistArgs {
    /// Channels of each stack.
    #[arg(long, default_value_t = 32)]
    pub channels: usize,
    /// Gated layers after the first (mask-A) layer.
    #[arg(long, default_value_t = 5)]
    pub layers: usize,
    /// Kernel size of both stacks (odd, at least 3).
    #[arg(long, default_value_t = 5)]
    pub kernel_size: usize,
    /// Hidden width of the 1×1 output head.
    #[arg(long, default_value_t = 64)]
    pub head_channels: usize,
    /// Condition on the digit (a class embedding in every layer); samples then carry labels
    /// (`labels.npy`).
    #[arg(long)]
    pub class_conditional: bool,
    /// Draw every sample for this digit (with --class-conditional; default: 0, 1, …, 9, 0, …).
    #[arg(long)]
    pub class: Option<usize>,
    /// Sampling temperature (the logits are divided by it; 1 samples the model).
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Training images per epoch (60000: all of them), a fresh part of each epoch's seeded
    /// permutation.
    #[arg(long, default_value_t = 4000)]
    pub train_images: usize,
    /// Test images behind `test_nll` (the first ones of the test split).
    #[arg(long, default_value_t = 500)]
    pub test_images: usize,
}

impl PixelCnnMnistArgs {
    /// The model the flags describe.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming the flag of an invalid value.
    pub fn model_config(&self) -> Result<GatedPixelCnnConfig, TrainError> {
        let config = GatedPixelCnnConfig::new(2)
            .with_channels(self.channels)
            .with_layers(self.layers)
            .with_kernel_size(self.kernel_size)
            .with_head_channels(self.head_channels)
            .with_num_classes(if self.class_conditional {
                MNIST_CLASSES
            } else {
                0
            });
        config.validate().map_err(|e| {
            let flag = match e.field.as_str() {
                "channels" => "channels",
                "layers" => "layers",
                "kernel_size" => "kernel-size",
                "head_channels" => "head-channels",
                _ => "model",
            };
            TrainError::config(flag, e.to_string())
        })?;
        Ok(config)
    }

    /// Checks the flags that do not belong to the model.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming the flag.
    pub fn check(&self) -> Result<(), TrainError> {
        super::check_sampling_flags(self.temperature, self.class, self.class_conditional)?;
        if self.test_images == 0 {
            return Err(TrainError::config("test-images", "must be at least 1"));
        }
        self.model_config().map(|_| ())
    }
}

/// A statically binarised MNIST split as maps of the symbols 0 and 1 (with labels when
/// `labels` is set).
///
/// # Errors
/// [`crate::VqError`] if the split's sizes are inconsistent.
pub fn binary_maps(
    split: &MnistSplit,
    seed: u64,
    labels: bool,
) -> Result<SymbolMaps, crate::VqError> {
    let bits = static_binarized(split, seed);
    SymbolMaps::new(
        bits.images.iter().map(|&p| u32::from(p > 127)).collect(),
        bits.len(),
        bits.rows,
        bits.cols,
        labels.then(|| bits.labels.clone()),
        None,
        0,
    )
}

/// The whole run of the `pixelcnn_mnist` example: device and trainer ([`Run::start`]),
/// statically binarised MNIST, the model from the flags, Adam through [`Run::fit`], then
/// `eval.json` (see the [module docs](self)).
///
/// # Errors
/// Invalid flags (naming them), device, data, configuration, training and output errors.
pub fn run(common: &CommonArgs, args: &PixelCnnMnistArgs) -> Result<(), Box<dyn Error>> {
    args.check()?;
    let run = Run::start(
        common,
        RunDefaults {
            name: "pixelcnn_mnist",
            out_dir: "runs/pixelcnn_mnist",
            plot_title: "gated PixelCNN on binarised MNIST: NLL",
            plot_y_label: "nats per image",
            plot_metrics: &["train_nll", "test_nll"],
            epochs: 3,
            batch_size: 32,
            lr: Schedule::Constant(1e-3),
            num_samples: 16,
        },
    )?;
    let mnist = Mnist::load(common.data.as_deref())?;
    let test_seed = Stream::TestBinarization.label();
    let train = binary_maps(
        &mnist.train,
        TRAIN_BINARIZATION_SEED,
        args.class_conditional,
    )
    .map_err(train_error)?;
    let test = binary_maps(&mnist.test, test_seed, args.class_conditional).map_err(train_error)?;
    let mut task = SymbolMapTask::new(train, test, 2, run.batch_size, run.seed)
        .map_err(train_error)?
        .with_temperature(args.temperature)
        .with_sample_class(args.class)
        .with_train_maps(args.train_images)
        .map_err(|e| match e {
            crate::VqError::Task { reason, .. } => TrainError::config("train-images", reason),
            other => train_error(other),
        })?
        .with_test_maps(args.test_images)
        .map_err(train_error)?;
    let config = args.model_config()?;
    let model = config.try_init(&run.device).map_err(TrainError::from)?;
    task.check_model(&model).map_err(train_error)?;
    let params = model.num_params();
    run.announce(format!(
        "{}, statically binarised (train seed {TRAIN_BINARIZATION_SEED}, test seed {test_seed:#x}), \
         {params} parameters, {} batches of {} per epoch",
        mnist.describe(),
        task.num_train_batches(),
        run.batch_size
    ));
    let out = run.out_dir();
    std::fs::create_dir_all(&out).map_err(|e| TrainError::io(&out, e))?;
    let config_path = out.join("model_config.json");
    std::fs::write(&config_path, config.to_string())
        .map_err(|e| TrainError::io(&config_path, e))?;

    let started = Instant::now();
    let fitted = run.fit(&mut task, model, FusedAdamConfig::new().init())?;
    let wall = started.elapsed().as_secs_f64();
    let model = fitted.eval_model();
    let device = run.eval_device();
    let test_nll = match fitted.last_metric("test_nll") {
        Some(v) => v,
        None => task.test_nll(&model, &device).map_err(train_error)?,
    };
    let dims = task.symbols_per_map() as f64;
    let mut report = EvalReport::new();
    report
        .push("model", "pixelcnn_mnist")
        .push("parameters", params)
        .push("channels", args.channels)
        .push("layers", args.layers)
        .push("kernel_size", args.kernel_size)
        .push("head_channels", args.head_channels)
        .push(
            "class_conditional",
            if args.class_conditional { "on" } else { "off" },
        )
        .push(
            "binarization",
            format!(
                "static: train seed {TRAIN_BINARIZATION_SEED}, test seed {test_seed:#x} \
                 (not the Larochelle & Murray set)"
            ),
        )
        .push("temperature", args.temperature);
    fitted.push_last(&mut report, &["train_nll"]);
    report
        .push("test_nll", test_nll)
        .push("test_bpd", test_nll / (dims * std::f64::consts::LN_2))
        .push("test_images", task.num_test_maps())
        .push(
            "train_images_per_epoch",
            task.num_train_batches() * run.batch_size,
        )
        .push("epochs", fitted.epochs_completed)
        .push("wall_seconds", wall);
    run.finish(&report)?;
    Ok(())
}
