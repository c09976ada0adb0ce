//! The command line and run driver shared by the VAE-family examples (`vae`, `svae`,
//! `iaf_vae`): one [`VaeFamilyArgs`] flattened into each example's clap arguments, and
//! [`VaeFamilyArgs::fit_and_evaluate`] — train through `deepgen-train`'s loop, then
//! [`evaluate_run`](crate::run_eval::evaluate_run) (IW test NLL, latent report, Fréchet
//! distance → `eval.json`).
//!
//! An example keeps only what is its own: the network sizes (their defaults differ per
//! model) and the model-specific flags.

use std::error::Error;
use std::time::Instant;

use burn::nn::activation::ActivationConfig;
use burn::optim::AdamConfig;
use burn::tensor::Device;
use deepgen_data::{Binarization, Mnist};
use deepgen_train::{CommonArgs, Schedule, TrainError, Trainer};

use crate::body::ConvBodyConfig;
use crate::latent_tools::LatentCodec;
use crate::likelihood::LikelihoodConfig;
use crate::objective::{KlControl, VaeObjective};
use crate::run_eval::{RunEval, RunEvalSettings, evaluate_run};
use crate::vae_task::{VaeTask, VariationalModel};

/// Flags shared by the VAE-family examples (`#[command(flatten)]` them).
#[derive(clap::Args, Debug, Clone)]
pub struct VaeFamilyArgs {
    /// Hidden activation: relu, tanh (the IWAE paper's), elu, sigmoid or gelu.
    #[arg(long, default_value = "relu", value_parser = crate::mlp::parse_activation)]
    pub activation: ActivationConfig,
    /// Convolutional encoder/decoder instead of the MLP: output channels of each stride-2
    /// block, comma-separated (e.g. `32,64`); the image shape comes from the data.
    #[arg(long, value_delimiter = ',')]
    pub conv: Option<Vec<usize>>,
    /// Kernel size of the `--conv` blocks (4 or 3 are usual).
    #[arg(long, default_value_t = 4)]
    pub conv_kernel: usize,
    /// Observation model: `bernoulli`, `gaussian:SIGMA`, `gaussian-learned`,
    /// `continuous-bernoulli` or `logistic:K` (the last four want `--binarization none`).
    #[arg(long, default_value = "bernoulli")]
    pub likelihood: LikelihoodConfig,
    /// KL weight β: a number or a schedule (e.g. `linear:0:1:5000` for KL annealing,
    /// `cyclical:0:1:2000:0.5` for cyclical annealing).
    #[arg(long, default_value = "1")]
    pub beta: Schedule,
    /// KL treatment: `plain`, `free-bits:LAMBDA` (nats per latent dim) or `capacity:GAMMA`.
    #[arg(long, default_value = "plain")]
    pub kl: KlControl,
    /// Target KL C in nats for `--kl capacity:GAMMA`: a number or a schedule.
    #[arg(long, default_value = "0")]
    pub capacity: Schedule,
    /// Importance samples per training example: 1 = ELBO, k > 1 = the IWAE bound.
    #[arg(long, default_value_t = 1)]
    pub iw_samples: usize,
    /// Training-set binarisation: `dynamic` (fresh draw per batch), `static` (one fixed draw)
    /// or `none` (grey levels).
    #[arg(long, default_value = "dynamic")]
    pub binarization: Binarization,
    /// Importance samples per test image for the final test NLL (0 skips it).
    #[arg(long, default_value_t = 100)]
    pub nll_k: usize,
    /// Test images used for the final NLL (default: all).
    #[arg(long, default_value_t = 10_000)]
    pub nll_images: usize,
    /// Also report the IW test NLL every epoch with this many samples on 1000 test images.
    #[arg(long, default_value_t = 0)]
    pub eval_nll_k: usize,
    /// Samples drawn after training for the Fréchet distance to the MNIST test set in the
    /// feature space of deepgen-eval's classifier (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    pub fd_samples: usize,
}

/// Loads MNIST from `--data` (or the default search order) and prints the example's first
/// line: `deepgen NAME: device BACKEND, MNIST from DIR (60000 train / 10000 test)`.
///
/// # Errors
/// The loader's error, naming the file or directory.
pub fn load_mnist(
    common: &CommonArgs,
    example: &str,
    backend: impl std::fmt::Display,
) -> Result<Mnist, deepgen_data::DataError> {
    let mnist = Mnist::load(common.data.as_deref())?;
    println!(
        "deepgen {example}: device {backend}, MNIST from {} ({} train / {} test)",
        mnist.source.display(),
        mnist.train.len(),
        mnist.test.len()
    );
    Ok(mnist)
}

/// What one example passes to [`VaeFamilyArgs::trainer`].
#[derive(Debug, Clone, Copy)]
pub struct RunDefaults<'a> {
    /// Output directory when `--out` is not given, e.g. `runs/vae`.
    pub out_dir: &'a str,
    /// Title of `loss.png`.
    pub plot_title: &'a str,
    /// Epochs when `--epochs` is not given.
    pub epochs: usize,
}

impl VaeFamilyArgs {
    /// The training objective, checked.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming the flag: `--iw-samples 0`, a β other than 1 with the
    /// IWAE bound (which has no separate KL term to weight), or a KL control the bound
    /// does not support.
    pub fn objective(&self) -> Result<VaeObjective, TrainError> {
        if self.iw_samples == 0 {
            return Err(TrainError::config("iw-samples", "must be at least 1"));
        }
        if self.iw_samples > 1 && self.beta != Schedule::Constant(1.0) {
            return Err(TrainError::config(
                "beta",
                format!(
                    "`--iw-samples {}` trains the IWAE bound, which has no separate KL term to \
                     weight; leave `--beta` at 1",
                    self.iw_samples
                ),
            ));
        }
        let objective = VaeObjective {
            iw_samples: self.iw_samples,
            kl: self.kl,
        };
        objective
            .validate()
            .map_err(|e| TrainError::config("kl", e))?;
        Ok(objective)
    }

    /// The convolutional body for images of `shape` when `--conv` was given.
    ///
    /// # Errors
    /// [`TrainError::Config`] for `--conv` without channels or with a zero.
    pub fn conv_body(&self, shape: [usize; 3]) -> Result<Option<ConvBodyConfig>, TrainError> {
        match &self.conv {
            None => Ok(None),
            Some(ch) if ch.is_empty() || ch.contains(&0) => Err(TrainError::config(
                "conv",
                format!("must list positive channel counts, e.g. `--conv 32,64`; got {ch:?}"),
            )),
            Some(ch) => Ok(Some(
                ConvBodyConfig::new(shape, ch.clone()).with_kernel(self.conv_kernel),
            )),
        }
    }

    /// The VAE task on `mnist` with this objective and the per-epoch NLL setting.
    ///
    /// # Errors
    /// As [`objective`](Self::objective).
    pub fn task<M: VariationalModel>(
        &self,
        mnist: &Mnist,
        batch_size: usize,
        seed: u64,
    ) -> Result<VaeTask<M>, TrainError> {
        Ok(VaeTask::<M>::new(
            mnist.train.clone(),
            mnist.test.clone(),
            batch_size,
            self.binarization,
            seed,
        )
        .with_objective(self.objective()?)
        .with_eval_nll(self.eval_nll_k, 1000))
    }

    /// The trainer: Adam-friendly constant LR 1e-3, 100 samples per grid, the β and capacity
    /// schedules, the negative-ELBO plot, then the common flags (`--epochs`, `--lr`, `--out`…).
    ///
    /// # Errors
    /// [`TrainError::Config`] for an invalid common flag.
    pub fn trainer(
        &self,
        common: &CommonArgs,
        defaults: RunDefaults<'_>,
    ) -> Result<Trainer, TrainError> {
        Ok(Trainer::new(defaults.out_dir)
            .epochs(defaults.epochs)
            .lr(Schedule::Constant(1e-3))
            .num_samples(100)
            .with_args(common)?
            .weight_schedule("beta", self.beta.clone())
            .weight_schedule("capacity", self.capacity.clone())
            .plot_metrics(vec!["train_loss".into(), "test_loss".into()])
            .plot_labels(
                format!("{}: negative ELBO", defaults.plot_title),
                "nats per image",
            ))
    }

    /// The whole run of an example: [`task`](Self::task), [`trainer`](Self::trainer) and
    /// [`fit_and_evaluate`](Self::fit_and_evaluate) with `common.seed`.
    ///
    /// # Errors
    /// As those three.
    #[allow(clippy::too_many_arguments)]
    pub fn run<M: VariationalModel + LatentCodec>(
        &self,
        common: &CommonArgs,
        defaults: RunDefaults<'_>,
        model: M,
        mnist: &Mnist,
        device: &Device,
        batch_size: usize,
        extra: &[(&str, f64)],
    ) -> Result<RunEval, Box<dyn Error>> {
        let mut task = self.task::<M>(mnist, batch_size, common.seed)?;
        let trainer = self.trainer(common, defaults)?;
        self.fit_and_evaluate(
            &trainer,
            &mut task,
            model,
            mnist,
            device,
            common.seed,
            extra,
        )
    }

    /// Trains `model` with Adam through `trainer`, prints the final test ELBO, then runs
    /// [`evaluate_run`] on the (EMA, if on) weights and writes `eval.json` with the final
    /// test ELBO, reconstruction and KL followed by `extra`.
    ///
    /// # Errors
    /// Training errors ([`TrainError`]) and evaluation errors.
    #[allow(clippy::too_many_arguments)]
    pub fn fit_and_evaluate<M: VariationalModel + LatentCodec>(
        &self,
        trainer: &Trainer,
        task: &mut VaeTask<M>,
        model: M,
        mnist: &Mnist,
        device: &Device,
        seed: u64,
        extra: &[(&str, f64)],
    ) -> Result<RunEval, Box<dyn Error>> {
        let started = Instant::now();
        let report = trainer.fit(task, model, AdamConfig::new().init(), device)?;
        let last = report.last.as_ref();
        let get = |name: &str| last.and_then(|r| r.get(name)).unwrap_or(f64::NAN);
        let (elbo, recon, kl) = (get("test_elbo"), get("test_recon"), get("test_kl"));
        println!(
            "done: {} epochs ({:.0} s in this process), test ELBO {elbo:.2} nats (recon {recon:.2}, KL {kl:.2})",
            report.epochs_completed,
            started.elapsed().as_secs_f64(),
        );
        let model = report.ema_model.unwrap_or(report.model).valid();
        let mut summary = vec![("test_elbo", elbo), ("test_recon", recon), ("test_kl", kl)];
        summary.extend_from_slice(extra);
        let eval = evaluate_run(
            &model,
            task,
            mnist,
            &summary,
            RunEvalSettings {
                nll_k: self.nll_k,
                nll_images: self.nll_images,
                fd_samples: self.fd_samples,
                seed,
            },
            trainer.out_dir(),
            &device.clone().without_autodiff(),
        )?;
        println!(
            "samples, metrics and checkpoints in {}",
            trainer.out_dir().display()
        );
        Ok(eval)
    }
}
