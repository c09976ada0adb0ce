//! Train every deterministic autoencoder on MNIST grey levels and compare their reconstructions.
//!
//! ```sh
//! cargo run --release --example ae_zoo                          # all six kinds → runs/ae_zoo/
//! cargo run --release --example ae_zoo -- --kinds plain,k-sparse:16 --epochs 20
//! cargo run --release --example ae_zoo -- --net conv --kinds plain,denoising-masking:0.5
//! cargo run --release --example ae_zoo -- --resume              # continue every kind
//! ```
//!
//! Each kind trains through the shared loop into `<out>/<kind>/` (`samples.png` and
//! `samples.npy` hold the **reconstructions of the first N test images** — an autoencoder has no
//! prior to sample from —, `metrics.jsonl` with every loss term separately, `loss.png`,
//! `checkpoint/`, and `comparison.png`: originals and reconstructions in alternating rows).
//! Then `<out>/results.md` (and `results.jsonl`) tabulate the test reconstruction
//! cross-entropy in nats per image, the MSE per pixel and the wall time of every kind, and
//! `<out>/reconstructions.png` stacks the first test images (top row) over each kind's
//! reconstructions (one row per kind, in table order).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use clap::Parser;
use deepgen::autoencoders::ae::task::{CONTRACTION_WEIGHT, K_SCHEDULE, SPARSITY_WEIGHT};
use deepgen::autoencoders::ae::{AeKind, AeTask, AutoencoderConfig, CodeActivation};
use deepgen::data::Mnist;
use deepgen::tensor::output::{save_image_grid, write_file_atomic};
use deepgen::tensor::select_device;
use deepgen::train::FusedAdamConfig;
use deepgen::train::{CommonArgs, EvalReport, Run, RunDefaults, Schedule, TrainError, run_main};

/// Train the deterministic autoencoders (plain, denoising, sparse, k-sparse, contractive) on
/// MNIST grey levels and tabulate their test reconstruction error.
#[derive(Parser, Debug)]
#[command(name = "ae_zoo", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Kinds to train, comma-separated, each `NAME` or `NAME:PARAM`: plain,
    /// denoising-gaussian[:SIGMA], denoising-masking[:P], sparse[:RHO], k-sparse[:K],
    /// contractive.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "plain,denoising-gaussian,denoising-masking,sparse,k-sparse,contractive"
    )]
    kinds: Vec<AeKind>,
    /// Encoder/decoder family: `mlp` or `conv` (contractive needs `mlp`).
    #[arg(long, default_value = "mlp")]
    net: String,
    /// MLP hidden widths of the encoder, comma-separated (the decoder mirrors them); none by
    /// default: the classical one-layer encoder and decoder.
    #[arg(long, value_delimiter = ',')]
    hidden: Vec<usize>,
    /// Conv channels of the stride-2 encoder blocks (`--net conv`).
    #[arg(long, value_delimiter = ',', default_value = "32,64")]
    channels: Vec<usize>,
    /// Code activation for every kind: identity, sigmoid or relu. Default: each kind's own
    /// (sigmoid, identity for k-sparse); sparse and contractive need sigmoid. With `--net conv`
    /// a sigmoid code saturates and trains slowly: try `--code-activation identity` for the
    /// plain and denoising kinds.
    #[arg(long)]
    code_activation: Option<CodeActivation>,
    /// Code dimensionality.
    #[arg(long, default_value_t = 256)]
    code: usize,
    /// Weight β of the sparse AE's KL penalty: a number or a schedule.
    #[arg(long, default_value = "3")]
    sparsity: Schedule,
    /// Weight λ of the contractive AE's Jacobian penalty: a number or a schedule.
    #[arg(long, default_value = "1")]
    contraction: Schedule,
    /// Number of kept units of the k-sparse AE over steps (rounded). Default: linear from the
    /// code size (dense) down to the kind's k over the first half of training, as Makhzani &
    /// Frey (2013) anneal k.
    #[arg(long)]
    k_schedule: Option<Schedule>,
    /// Test images per kind in reconstructions.png and (×4) in each comparison.png.
    #[arg(long, default_value_t = 12)]
    grid: usize,
}

/// One kind's results.
struct Row {
    kind: AeKind,
    metrics: Vec<(String, f64)>,
    epochs: usize,
    wall_s: f64,
    recon_images: Vec<f32>,
}

impl Row {
    fn get(&self, name: &str) -> f64 {
        self.metrics
            .iter()
            .find(|(n, _)| n == name)
            .map_or(f64::NAN, |(_, v)| *v)
    }
}

fn main() {
    run_main(|| run(Args::parse()));
}

fn model_config(args: &Args, kind: AeKind, shape: [usize; 3]) -> AutoencoderConfig {
    let d: usize = shape.iter().product();
    match args.net.as_str() {
        "conv" => AutoencoderConfig::conv(shape, args.channels.clone(), args.code),
        _ => AutoencoderConfig::mlp(d, args.hidden.clone(), args.code),
    }
    .with_code_activation(args.code_activation.unwrap_or(kind.code_activation()))
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (backend, device) = select_device(args.common.device.as_deref())?;
    if !matches!(args.net.as_str(), "mlp" | "conv") {
        return Err(TrainError::config(
            "net",
            format!("is `{}`; expected `mlp` or `conv`", args.net),
        )
        .into());
    }
    if let Some(act) = args.code_activation
        && act != CodeActivation::Sigmoid
        && let Some(k) = args
            .kinds
            .iter()
            .find(|k| matches!(k, AeKind::Sparse { .. } | AeKind::Contractive))
    {
        return Err(TrainError::config(
            "code-activation",
            format!("is `{}` but `{k}` needs a sigmoid code", act.name()),
        )
        .into());
    }
    if args.kinds.is_empty() {
        return Err(TrainError::config("kinds", "is empty").into());
    }
    if args.code == 0 {
        return Err(TrainError::config("code", "must be at least 1").into());
    }
    if args.grid == 0 {
        return Err(TrainError::config("grid", "must be at least 1").into());
    }
    // clap has already rejected `--batch-size 0`; 128 is `RunDefaults`' batch size.
    let batch_size = args
        .common
        .batch_size
        .unwrap_or(RunDefaults::default().batch_size);
    let mnist = Mnist::load(args.common.data.as_deref())?;
    let shape = [1, mnist.test.rows, mnist.test.cols];
    println!(
        "deepgen ae_zoo: device {backend}, MNIST from {} ({} train / {} test, grey levels), {} net, code {}",
        mnist.source.display(),
        mnist.train.len(),
        mnist.test.len(),
        args.net,
        args.code
    );

    // Check every kind against its model before training anything.
    for &kind in &args.kinds {
        let cfg = model_config(&args, kind, shape);
        cfg.check()?;
        let probe = AeTask::new(
            mnist.train.subset(batch_size.min(mnist.train.len())),
            mnist.test.subset(1),
            batch_size,
            kind,
            0,
        )?;
        probe.check_model(&cfg.init(&device))?;
    }

    let root = args
        .common
        .out
        .clone()
        .unwrap_or_else(|| "runs/ae_zoo".into());
    let steps_per_epoch = (mnist.train.len() / batch_size) as u64;
    let mut rows = Vec::new();
    for &kind in &args.kinds {
        println!("== {kind} ==");
        // One run of the shared driver per kind, in `<out>/<kind>/` (seeded alike).
        let dir = root.join(kind.name());
        let mut common = args.common.clone();
        common.out = Some(dir.clone());
        let title = format!("{kind} autoencoder on MNIST: reconstruction");
        let mut run = Run::start(
            &common,
            RunDefaults {
                name: "ae_zoo",
                out_dir: "runs/ae_zoo",
                plot_title: &title,
                plot_metrics: &["train_recon", "test_recon"],
                epochs: DEFAULT_EPOCHS,
                ..RunDefaults::default()
            },
        )?;
        let model = model_config(&args, kind, shape).init(&run.device);
        let mut task = AeTask::new(
            mnist.train.clone(),
            mnist.test.clone(),
            run.batch_size,
            kind,
            run.seed,
        )?;
        let mut trainer = run.trainer.clone();
        match kind {
            AeKind::Sparse { .. } => {
                trainer = trainer.weight_schedule(SPARSITY_WEIGHT, args.sparsity.clone());
            }
            AeKind::Contractive => {
                trainer = trainer.weight_schedule(CONTRACTION_WEIGHT, args.contraction.clone());
            }
            AeKind::KSparse { k } => {
                let schedule = args.k_schedule.clone().unwrap_or(Schedule::LinearWarmup {
                    start: args.code as f64,
                    end: k as f64,
                    warmup_steps: steps_per_epoch * trainer.num_epochs() as u64 / 2,
                });
                trainer = trainer.weight_schedule(K_SCHEDULE, schedule);
            }
            _ => {}
        }
        run.trainer = trainer;
        let start = Instant::now();
        let report = run.fit(&mut task, model, FusedAdamConfig::new().init())?;
        let wall_s = start.elapsed().as_secs_f64();

        let plain = run.eval_device();
        let model = report.eval_model();
        let nrow = 10;
        let cmp = task.comparison(&model, 4 * nrow, nrow, &plain)?;
        let [n, c, h, w] = cmp.shape;
        save_image_grid(&dir.join("comparison.png"), &cmp.data, n, c, h, w, nrow)?;
        let recon_images = task.reconstructions(&model, args.grid, &plain)?;
        let metrics = report.last.clone().map(|r| r.values).unwrap_or_default();
        let row = Row {
            kind,
            metrics,
            epochs: report.epochs_completed,
            wall_s,
            recon_images,
        };
        println!(
            "{kind}: test recon {:.2} nats/image, test MSE {:.5} per pixel, {:.0} s",
            row.get("test_recon"),
            row.get("test_mse"),
            wall_s
        );
        rows.push(row);
    }

    // The floor of the cross-entropy: Σ_d H(x_d) of the grey-level test images.
    let floor = grey_entropy(&mnist.test);
    let table = results_table(&rows, floor, &args, batch_size);
    println!("\n{table}");
    write_file_atomic(&root.join("results.md"), table.as_bytes())?;
    let mut jsonl = String::new();
    for r in &rows {
        let mut record = EvalReport::new();
        record
            .push("kind", r.kind.to_string())
            .push("epochs", r.epochs)
            .push("wall_s", r.wall_s);
        for (name, value) in &r.metrics {
            record.push(name.clone(), *value);
        }
        jsonl.push_str(&record.to_json_line()?);
    }
    write_file_atomic(&root.join("results.jsonl"), jsonl.as_bytes())?;
    write_zoo_grid(&root.join("reconstructions.png"), &mnist, &rows, args.grid)?;
    println!(
        "results in {}, grids in {} and <kind>/comparison.png",
        root.join("results.md").display(),
        root.join("reconstructions.png").display()
    );
    Ok(())
}

/// Default epochs per kind: the whole zoo (six kinds) runs in a few minutes on 2 cores.
const DEFAULT_EPOCHS: usize = 10;

/// Mean over the test images of Σ_d H(x_d), x = pixel/255: the cross-entropy of a perfect
/// reconstruction, in nats per image.
fn grey_entropy(split: &deepgen::data::MnistSplit) -> f64 {
    let total: f64 = split
        .images
        .iter()
        .map(|&b| {
            let p = f64::from(b) / 255.0;
            if p <= 0.0 || p >= 1.0 {
                0.0
            } else {
                -(p * p.ln() + (1.0 - p) * (1.0 - p).ln())
            }
        })
        .sum();
    total / split.len() as f64
}

fn results_table(rows: &[Row], floor: f64, args: &Args, batch_size: usize) -> String {
    let net = match args.net.as_str() {
        "conv" => format!("conv encoder/decoder, channels {:?}", args.channels),
        _ if args.hidden.is_empty() => "one-layer MLP encoder and decoder".to_string(),
        _ => format!("MLP, hidden {:?} (mirrored)", args.hidden),
    };
    let mut s = String::new();
    let _ = writeln!(s, "# Autoencoder zoo on MNIST (grey levels)\n");
    let _ = writeln!(
        s,
        "{net}, code {}, Adam, batch {batch_size}, seed {}. Test metrics on the 10 000 clean \
         test images. BCE: Bernoulli cross-entropy of the grey-level image, nats per image \
         (summed over 784 pixels); a perfect reconstruction scores the images' own entropy, \
         {floor:.2} nats. MSE: per pixel, on [0, 1]. ‖J‖²_F: squared Frobenius norm of the \
         Jacobian of the first (sigmoid) encoder layer, per image; mean activation: mean over \
         code units of the test-set mean of a sigmoid code (— where the code is not sigmoid). \
         Penalty weights: sparsity β `{}`, contraction λ `{}`; k-sparse: {}.\n",
        args.code,
        args.common.seed,
        args.sparsity,
        args.contraction,
        match &args.k_schedule {
            Some(k) => format!("k schedule `{k}`"),
            None => "k annealed linearly from the code size down to k over the first half of \
                     training"
                .to_string(),
        }
    );
    let _ = writeln!(
        s,
        "| kind | test BCE (nats/image) | test MSE (per pixel) | ‖J‖²_F | mean activation | epochs | wall time | other test metrics |"
    );
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    let opt = |v: f64, digits: usize| {
        if v.is_finite() {
            format!("{v:.digits$}")
        } else {
            "—".to_string()
        }
    };
    for r in rows {
        let mut other = Vec::new();
        for (name, label) in [
            ("test_denoise_recon", "BCE from corrupted input"),
            ("test_denoise_mse", "MSE from corrupted input"),
            ("test_sparsity_kl", "Σ_j KL(ρ‖ρ̂_j)"),
            ("train_k", "k in last epoch"),
        ] {
            let v = r.get(name);
            if v.is_finite() {
                other.push(format!("{label} {v:.4}"));
            }
        }
        let _ = writeln!(
            s,
            "| `{}` | {:.2} | {:.5} | {} | {} | {} | {:.0} s | {} |",
            r.kind,
            r.get("test_recon"),
            r.get("test_mse"),
            opt(r.get("test_contraction"), 2),
            opt(r.get("test_mean_activation"), 3),
            r.epochs,
            r.wall_s,
            other.join("; ")
        );
    }
    let _ = writeln!(
        s,
        "\n`reconstructions.png`: first row the test images, then one row per kind in table \
         order. `<kind>/comparison.png`: originals and reconstructions in alternating rows. \
         `<kind>/samples.npy`: reconstructions of the first 100 test images, `[N, 1, 28, 28]`."
    );
    s
}

fn write_zoo_grid(
    path: &Path,
    mnist: &Mnist,
    rows: &[Row],
    n: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let [h, w] = [mnist.test.rows, mnist.test.cols];
    let d = h * w;
    let n = n.min(mnist.test.len());
    let mut data: Vec<f32> = mnist.test.images[..n * d]
        .iter()
        .map(|&b| f32::from(b) / 255.0)
        .collect();
    for r in rows {
        data.extend_from_slice(&r.recon_images[..n * d]);
    }
    save_image_grid(path, &data, n * (rows.len() + 1), 1, h, w, n)?;
    Ok(())
}
