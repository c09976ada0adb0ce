//! What every VAE example does after training: the importance-weighted test NLL, the latent
//! report (reconstructions, interpolation, traversal, active units) and the Fréchet distance of
//! samples in deepgen-eval's feature space — printed and written to `eval.json`.

use std::path::Path;
use std::time::Instant;

use burn::tensor::Device;
use deepgen_data::Mnist;
use deepgen_eval::checkpoint::{ResolvedCheckpoint, resolve_checkpoint};
use deepgen_eval::{EvalError, MnistEvaluator};
use deepgen_tensor::HostRng;
use deepgen_tensor::output::{OutputError, write_file_atomic};

use crate::importance::{IwSettings, MeanSe};
use crate::latent_report::write_latent_report;
use crate::latent_tools::LatentCodec;
use crate::vae_task::{VaeTask, VariationalModel};

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
    /// Writing a PNG or `eval.json` failed.
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
/// writes `eval.json` into `out_dir`, starting with the `summary` entries (e.g. the final
/// `test_elbo` from training).
pub fn evaluate_run<M: VariationalModel + LatentCodec>(
    model: &M,
    task: &VaeTask<M>,
    mnist: &Mnist,
    summary: &[(&str, f64)],
    settings: RunEvalSettings,
    out_dir: &Path,
    device: &Device,
) -> Result<RunEval, RunEvalError> {
    let mut json: Vec<String> = summary
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
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
        json.push(format!(
            "\"test_nll\":{},\"test_nll_se\":{},\"nll_k\":{},\"nll_images\":{images}",
            nll.mean, nll.se, settings.nll_k
        ));
        nll
    });
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
    json.push(format!("\"active_units\":{}", au.active));
    let frechet = if settings.fd_samples > 0 {
        let checkpoint = match resolve_checkpoint() {
            ResolvedCheckpoint::Found(source) => source.path().to_path_buf(),
            ResolvedCheckpoint::Missing { .. } => return Err(RunEvalError::MissingClassifier),
        };
        let evaluator = MnistEvaluator::load_with(mnist, &checkpoint, device)?;
        let mut images = Vec::with_capacity(settings.fd_samples * mnist.test.pixels());
        let mut rng = HostRng::seed_from_u64(settings.seed ^ 0xFD);
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
        json.push(format!(
            "\"fd_samples\":{},\"frechet_to_test\":{fd},\"frechet_floor\":{}",
            settings.fd_samples,
            evaluator.floor()
        ));
        Some((fd, evaluator.floor()))
    } else {
        None
    };
    write_file_atomic(
        &out_dir.join("eval.json"),
        format!("{{{}}}\n", json.join(",")).as_bytes(),
    )?;
    Ok(RunEval {
        test_nll,
        active_units: au.active,
        frechet,
    })
}
