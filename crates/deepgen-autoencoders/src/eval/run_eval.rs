//! What every VAE example does after training: the importance-weighted test NLL, the latent
//! report (reconstructions, interpolation, traversal, active units) and the Fréchet distance of
//! samples in deepgen-eval's feature space — printed and appended to the run's `eval.json`
//! report.

use std::path::Path;
use std::time::Instant;

use burn::tensor::Device;
use deepgen_data::Mnist;
use deepgen_eval::checkpoint::{ResolvedCheckpoint, resolve_checkpoint};
use deepgen_eval::{EvalError, MnistEvaluator};
use deepgen_tensor::output::OutputError;
use deepgen_tensor::{HostRng, Stream};
use deepgen_train::EvalReport;

use crate::eval::latent_report::write_latent_report;
use crate::eval::latent_tools::LatentCodec;
use crate::objective::importance::{IwSettings, MeanSe};
use crate::tasks::vae_task::{VaeTask, VariationalModel};

/// Settings of [`evaluate_run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunEvalSettings {
    /// Importance samples per test image for the NLL (0 skips it).
    pub nll_k: usize,
    /// Test images used for the NLL.
    pub nll_images: usize,
    /// Samples for the Fréchet distance (0 skips it).
    pub fd_samples: usize,
    /// Seed of the sampling noise.
    pub seed: u64,
}

/// The numbers [`evaluate_run`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEval {
    /// Test NLL −ln p̂(x) in nats per image (mean ± SE over images), if measured.
    pub test_nll: Option<MeanSe>,
    /// Active units (Burda et al.'s Cov_x E[z|x] > 0.01).
    pub active_units: usize,
    /// Fréchet distance of the samples to the test set, and the train-vs-test floor.
    pub frechet: Option<(f64, f64)>,
}

/// Why [`evaluate_run`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RunEvalError {
    /// The evaluator failed (classifier checkpoint unreadable, shapes).
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// Writing a latent-report PNG failed.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// No classifier checkpoint for the Fréchet distance.
    #[error(
        "the deepgen-eval classifier checkpoint is missing: rebuild it with \
         `cargo run --release -p deepgen-eval --bin train_classifier`, or pass --fd-samples 0"
    )]
    MissingClassifier,
    /// Samples could not be read back from the device.
    #[error("cannot read samples from the device: {0}")]
    Samples(String),
}

/// Evaluates a trained model (on a device without autodiff), prints one line per result and
/// appends the numbers to `report` (`test_nll`, `test_nll_se`, `nll_k`, `nll_images`,
/// `active_units`, `fd_samples`, `frechet_to_test`, `frechet_floor`; a skipped measurement
/// becomes `null` with the flag that skipped it). The caller writes `report` as `eval.json`
/// ([`deepgen_train::Run::finish`]); the latent-report PNGs go to `out_dir`.
///
/// # Errors
/// [`RunEvalError`]: a PNG that cannot be written, a missing or unreadable classifier
/// checkpoint (only when `fd_samples > 0`), samples that cannot be read back.
pub fn evaluate_run<M: VariationalModel + LatentCodec>(
    model: &M,
    task: &VaeTask<M>,
    mnist: &Mnist,
    report: &mut EvalReport,
    settings: RunEvalSettings,
    out_dir: &Path,
    device: &Device,
) -> Result<RunEval, RunEvalError> {
    let test_nll = (settings.nll_k > 0).then(|| {
        let started = Instant::now();
        let images = settings.nll_images.min(mnist.test.len());
        let iw = IwSettings {
            k: settings.nll_k,
            ..IwSettings::default()
        };
        let nll = task.test_nll(model, device, iw, images);
        println!(
            "test NLL (importance-weighted, k = {}, {images} test images): {:.2} ± {:.2} nats ({:.0} s)",
            settings.nll_k,
            nll.mean,
            nll.se,
            started.elapsed().as_secs_f64()
        );
        report
            .push("test_nll", nll.mean)
            .push("test_nll_se", nll.se)
            .push("nll_k", settings.nll_k)
            .push("nll_images", images);
        nll
    });
    if test_nll.is_none() {
        report.missing("test_nll", "skipped with --nll-k 0");
    }
    let au = write_latent_report(
        model,
        task.test_inputs(mnist.test.len(), device),
        [1, mnist.test.rows, mnist.test.cols],
        out_dir,
    )?;
    println!(
        "active units (Cov_x E[z|x] > 0.01): {} of {}; reconstructions.png, interpolation.png, \
         traversal.png written",
        au.active,
        model.latent_dim()
    );
    report.push("active_units", au.active);
    let frechet = if settings.fd_samples > 0 {
        let checkpoint = match resolve_checkpoint() {
            ResolvedCheckpoint::Found(source) => source.path().to_path_buf(),
            ResolvedCheckpoint::Missing { .. } => return Err(RunEvalError::MissingClassifier),
        };
        let evaluator = MnistEvaluator::load_with(mnist, &checkpoint, device)?;
        let mut images = Vec::with_capacity(settings.fd_samples * mnist.test.pixels());
        let mut rng = HostRng::stream(settings.seed, Stream::FrechetSamples);
        let mut left = settings.fd_samples;
        while left > 0 {
            let n = left.min(1000);
            let batch = model
                .sample_means(n, device, &mut rng)
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| RunEvalError::Samples(format!("{e:?}")))?;
            images.extend(batch);
            left -= n;
        }
        let fd = evaluator.frechet_to_test(&images)?;
        println!(
            "Fréchet distance of {} samples to the MNIST test set (deepgen-eval classifier \
             features, not Inception FID): {fd:.2}; floor (10 000 training images): {:.2}",
            settings.fd_samples,
            evaluator.floor()
        );
        report
            .push("fd_samples", settings.fd_samples)
            .push("frechet_to_test", fd)
            .push("frechet_floor", evaluator.floor());
        Some((fd, evaluator.floor()))
    } else {
        report.missing("frechet_to_test", "skipped with --fd-samples 0");
        None
    };
    Ok(RunEval {
        test_nll,
        active_units: au.active,
        frechet,
    })
}
