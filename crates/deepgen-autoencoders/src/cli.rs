//! The command line shared by the VAE-family examples (`vae`, `svae`, `iaf_vae`): one
//! [`VaeFamilyArgs`] flattened into each example's clap arguments. It plugs the family into
//! `deepgen-train`'s run driver: [`VaeFamilyArgs::start`] is [`Run::start`] plus the β and
//! capacity schedules, and [`VaeFamilyArgs::run`] trains through [`Run::fit`], then
//! [`evaluate_run`](crate::eval::run_eval::evaluate_run) (IW test NLL, latent report, Fréchet
//! distance) and writes `eval.json` with [`Run::finish`].
//!
//! An example keeps only what is its own: the network sizes (their defaults differ per
//! model) and the model-specific flags.

use std::error::Error;

use burn::nn::activation::ActivationConfig;
use deepgen_data::{Binarization, Mnist};
use deepgen_train::FusedAdamConfig;
use deepgen_train::{
    CommonArgs, EvalReport, ReportValue, Run, RunDefaults, RunError, Schedule, TrainError,
};

use deepgen_tensor::config::Validate;

use crate::eval::latent_tools::LatentCodec;
use crate::eval::run_eval::{RunEval, RunEvalSettings, evaluate_run};
use crate::models::body::{BodyConfig, ConvBodyConfig};
use crate::objective::likelihood::LikelihoodConfig;
use crate::objective::{KlControl, VaeObjective};
use crate::tasks::vae_task::{VaeTask, VariationalModel};

/// Flags shared by the VAE-family examples (`#[command(flatten)]` them).
#[derive(clap::Args, Debug, Clone)]
pub struct VaeFamilyArgs {
    /// Hidden activation: relu, tanh (the IWAE paper's), elu, sigmoid or gelu.
    #[arg(long, default_value = "relu", value_parser = deepgen_nn::parse_activation)]
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
        objective.validate()?;
        Ok(objective)
    }

    /// The shared [`BodyConfig`] for `mnist`'s images: the example's MLP `hidden` widths
    /// (their defaults differ per model), the `--conv` body on `[1, rows, cols]` when given,
    /// `--activation` and `--likelihood`.
    ///
    /// # Errors
    /// [`TrainError::Config`] for `--conv` without channels or with a zero, or an invalid body
    /// (the message names the field).
    pub fn body(&self, hidden: &[usize], mnist: &Mnist) -> Result<BodyConfig, TrainError> {
        let conv = match &self.conv {
            None => None,
            Some(ch) if ch.is_empty() || ch.contains(&0) => {
                return Err(TrainError::config(
                    "conv",
                    format!("must list positive channel counts, e.g. `--conv 32,64`; got {ch:?}"),
                ));
            }
            Some(ch) => Some(
                ConvBodyConfig::new([1, mnist.test.rows, mnist.test.cols], ch.clone())
                    .with_kernel(self.conv_kernel),
            ),
        };
        let body = BodyConfig::new()
            .with_input_dim(mnist.test.rows * mnist.test.cols)
            .with_hidden(hidden.to_vec())
            .with_conv(conv)
            .with_activation(self.activation.clone())
            .with_likelihood(self.likelihood.clone());
        body.validate()?;
        Ok(body)
    }

    /// The VAE task on `mnist` with this objective, the run's batch size and seed, and the
    /// per-epoch NLL setting.
    ///
    /// # Errors
    /// As [`objective`](Self::objective).
    pub fn task<M: VariationalModel>(
        &self,
        mnist: &Mnist,
        run: &Run,
    ) -> Result<VaeTask<M>, TrainError> {
        Ok(VaeTask::<M>::new(
            mnist.train.clone(),
            mnist.test.clone(),
            run.batch_size,
            self.binarization,
            run.seed,
        )
        .with_objective(self.objective()?)
        .with_eval_nll(self.eval_nll_k, 1000))
    }

    /// The run driver for a VAE-family example: [`Run::start`] with `defaults` (whose
    /// `plot_metrics` default, `train_loss`/`test_loss`, is the negative ELBO in nats per
    /// image) plus the `--beta` and `--capacity` schedules, after checking the objective
    /// flags so a bad flag fails before any data is loaded.
    ///
    /// # Errors
    /// [`RunError`] for an unknown device, an invalid common flag, or an invalid objective
    /// flag (naming it).
    pub fn start(&self, common: &CommonArgs, defaults: RunDefaults<'_>) -> Result<Run, RunError> {
        self.objective()?;
        let mut run = Run::start(common, defaults)?;
        run.trainer = run
            .trainer
            .clone()
            .weight_schedule("beta", self.beta.clone())
            .weight_schedule("capacity", self.capacity.clone());
        Ok(run)
    }

    /// The whole run of an example after [`start`](Self::start): [`task`](Self::task), then
    /// [`fit_and_evaluate`](Self::fit_and_evaluate).
    ///
    /// # Errors
    /// As those two.
    pub fn run<M: VariationalModel + LatentCodec>(
        &self,
        run: &Run,
        model: M,
        mnist: &Mnist,
        extra: &[(&str, ReportValue)],
    ) -> Result<RunEval, Box<dyn Error>> {
        let mut task = self.task::<M>(mnist, run)?;
        self.fit_and_evaluate(run, &mut task, model, mnist, extra)
    }

    /// Trains `model` with Adam through [`Run::fit`], prints the final test ELBO, runs
    /// [`evaluate_run`] on the (EMA, if on) weights and writes `eval.json`: the final
    /// `test_elbo`, `test_recon` and `test_kl`, then `extra`, then the evaluation.
    ///
    /// # Errors
    /// Training errors ([`RunError`]) and evaluation errors.
    pub fn fit_and_evaluate<M: VariationalModel + LatentCodec>(
        &self,
        run: &Run,
        task: &mut VaeTask<M>,
        model: M,
        mnist: &Mnist,
        extra: &[(&str, ReportValue)],
    ) -> Result<RunEval, Box<dyn Error>> {
        let fitted = run.fit(task, model, FusedAdamConfig::new().init())?;
        let get = |name: &str| fitted.last_metric(name).unwrap_or(f64::NAN);
        println!(
            "test ELBO {:.2} nats (recon {:.2}, KL {:.2})",
            get("test_elbo"),
            get("test_recon"),
            get("test_kl")
        );
        let mut report = EvalReport::new();
        fitted.push_last(&mut report, &["test_elbo", "test_recon", "test_kl"]);
        for (name, value) in extra {
            report.push(*name, value.clone());
        }
        let eval = evaluate_run(
            &fitted.eval_model(),
            task,
            mnist,
            &mut report,
            RunEvalSettings {
                nll_k: self.nll_k,
                nll_images: self.nll_images,
                fd_samples: self.fd_samples,
                seed: run.seed,
            },
            &run.out_dir(),
            &run.eval_device(),
        )?;
        run.finish(&report)?;
        Ok(eval)
    }
}
