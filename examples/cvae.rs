//! Train a conditional VAE with an auxiliary classifier on dynamically binarised MNIST, then
//! generate every digit on request.
//!
//! ```sh
//! cargo run --release --example cvae                    # 30 epochs → runs/cvae/
//! cargo run --release --example cvae -- --class-code softmax --out runs/cvae-softmax
//! cargo run --release --example cvae -- --alpha 10 --beta linear:0:1:2000 --out runs/cvae-a10
//! cargo run --release --example cvae -- --resume        # continue runs/cvae/
//! ```
//!
//! The encoder predicts the digit (10 logits c, trained by cross-entropy with weight α) and a
//! Gaussian z; the decoder reads a one-hot class code and z (see
//! `deepgen_autoencoders::cvae` for the design and why the true label is the default class
//! code during training). Loss weights come from schedules: `--beta` (KL) and `--alpha`
//! (cross-entropy).
//!
//! Every epoch logs, in nats per image, `train_recon`, `train_kl`, `train_ce`,
//! `train_neg_elbo`, the batch accuracy of c, the test ELBO (fixed binarisation of the 10 000
//! test images), the test accuracy of c, and `cond_accuracy`: the fraction of
//! `--eval-per-digit` generated images per digit (z ~ N(0, I), fixed seed) that the project's
//! MNIST classifier (deepgen-eval, 99.17 % test accuracy) labels as the requested digit.
//!
//! After training the example writes into the output directory
//! - `samples.npy` (float32 `[N, 1, 28, 28]`, `--num-samples` N = 1000 by default, in label
//!   order: N/10 zeros, then N/10 ones, …) and `labels.npy` (int64 `[N]`, the requested digit);
//! - `samples.png`: one row per digit, `--grid-cols` columns;
//! - `eval.json`: conditional accuracy (overall and per digit) of those N samples, test ELBO,
//!   test accuracy of the encoder's classifier, and the wall time of this invocation;
//!
//! beside `metrics.jsonl`, `loss.png`, `samples/epoch-NNNN.png` and `checkpoint/`.

use std::rc::Rc;

use clap::Parser;
use deepgen::autoencoders::cvae_task::{ConditionalAccuracy, CvaeTask};
use deepgen::autoencoders::{BodyConfig, ClassCode, CvaeConfig};
use deepgen::data::{Binarization, Mnist};
use deepgen::eval::MnistEvaluator;
use deepgen::eval::checkpoint::{ResolvedCheckpoint, resolve_checkpoint};
use deepgen::tensor::output::{save_image_grid, write_npy_f32, write_npy_i64};
use deepgen::train::FusedAdamConfig;
use deepgen::train::{
    CommonArgs, EvalReport, RunDefaults, Schedule, Task as _, TrainError, run::Run, run_main,
};

/// Train a conditional VAE with an auxiliary digit classifier on binarised MNIST.
#[derive(Parser, Debug)]
#[command(name = "cvae", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Dimensionality of the Gaussian latent z (besides the 10 class dimensions).
    #[arg(long, default_value_t = 8)]
    latent: usize,
    /// Encoder hidden widths, comma-separated (the decoder mirrors them).
    #[arg(long, default_value = "512,256", value_delimiter = ',')]
    hidden: Vec<usize>,
    /// Decoder class code in training: `label` (the true one-hot label, teacher forcing) or
    /// `softmax` (softmax of the encoder's class logits).
    #[arg(long, default_value = "label")]
    class_code: ClassCode,
    /// Encoder without the class code, q(z | x) (default: its [μ, ln σ] layer also reads π).
    #[arg(long)]
    plain_encoder: bool,
    /// Feed π to the decoder's first layer only (default: to every decoder layer).
    #[arg(long)]
    code_first_layer_only: bool,
    /// KL weight β: a number or a schedule (e.g. `linear:0:1:2000`).
    #[arg(long, default_value = "1")]
    beta: Schedule,
    /// Cross-entropy weight α: a number or a schedule.
    #[arg(long, default_value = "10")]
    alpha: Schedule,
    /// Training-set binarisation: `dynamic` (fresh draw per batch) or `static`.
    #[arg(long, default_value = "dynamic")]
    binarization: Binarization,
    /// Generated images per digit behind the per-epoch `cond_accuracy` (0 turns it off).
    #[arg(long, default_value_t = 100)]
    eval_per_digit: usize,
    /// Columns of samples.png (images per digit shown).
    #[arg(long, default_value_t = 10)]
    grid_cols: usize,
}

fn main() {
    run_main(|| run(Args::parse()));
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let classes = 10;
    if args.latent == 0 {
        return Err(TrainError::config("latent", "must be at least 1").into());
    }
    let total = args.common.num_samples.unwrap_or(100 * classes);
    if total == 0 || !total.is_multiple_of(classes) {
        return Err(TrainError::config(
            "num-samples",
            format!(
                "must be a positive multiple of {classes} (equal count per digit), got {total}"
            ),
        )
        .into());
    }
    let per_digit = total / classes;
    if args.grid_cols == 0 || args.grid_cols > per_digit {
        return Err(TrainError::config(
            "grid-cols",
            format!(
                "must be in 1..={per_digit} (samples per digit), got {}",
                args.grid_cols
            ),
        )
        .into());
    }
    let mut run = Run::start(
        &args.common,
        RunDefaults {
            name: "cvae",
            out_dir: "runs/cvae",
            plot_title: "CVAE on binarised MNIST: loss",
            epochs: 30,
            ..RunDefaults::default()
        },
    )?;
    let mnist = Mnist::load(args.common.data.as_deref())?;
    run.announce(format!(
        "{}, class code {}",
        mnist.describe(),
        args.class_code.label()
    ));

    let plain = run.eval_device();
    let evaluator = Rc::new(MnistEvaluator::load_with(
        &mnist,
        &evaluator_checkpoint()?,
        &plain,
    )?);
    let judge = {
        let evaluator = Rc::clone(&evaluator);
        Box::new(move |images: &[f32]| evaluator.classify(images).map_err(|e| e.to_string()))
    };
    let model = CvaeConfig::new()
        .with_num_classes(classes)
        .with_latent_dim(args.latent)
        .with_body(BodyConfig::new().with_hidden(args.hidden.clone()))
        .with_class_code(args.class_code)
        .with_conditional_encoder(!args.plain_encoder)
        .with_code_in_every_layer(!args.code_first_layer_only)
        .try_init(&run.device)
        .map_err(TrainError::from)?;
    let mut task = CvaeTask::new(
        mnist.train.clone(),
        mnist.test.clone(),
        run.batch_size,
        args.binarization,
        run.seed,
    )
    .with_judge(judge, args.eval_per_digit);

    // Default learning rate: cosine decay from 2e-3 to 1e-4 over all the run's steps.
    let steps = (run.trainer.num_epochs() * task.num_train_batches()) as u64;
    let mut trainer = run.trainer.clone();
    if args.common.lr.is_none() {
        trainer = trainer.lr(Schedule::Cosine {
            base: 2e-3,
            min: 1e-4,
            warmup_steps: 0,
            total_steps: steps.max(1),
        });
    }
    run.trainer = trainer
        // The per-epoch grid: one row of `grid_cols` per digit.
        .num_samples(classes * args.grid_cols)
        .weight_schedule("beta", args.beta.clone())
        .weight_schedule("alpha", args.alpha.clone());
    let fitted = run.fit(&mut task, model, FusedAdamConfig::new().init())?;
    let elbo = fitted.last_metric("test_elbo").unwrap_or(f64::NAN);
    let test_acc = fitted.last_metric("test_accuracy").unwrap_or(f64::NAN);
    println!(
        "test ELBO {elbo:.2} nats (ln p(x | y) bound with the true label), encoder test \
         accuracy {:.2} %",
        100.0 * test_acc
    );

    // Final samples: `per_digit` of every digit in label order, judged by the classifier.
    let model = fitted.eval_model();
    let (images, labels) = task.generate_by_digit(&model, per_digit, &plain)?;
    let predicted = evaluator.classify(&images)?;
    let acc = ConditionalAccuracy::of(&predicted, &labels, classes);
    let out = run.out_dir();
    write_npy_f32(&out.join("samples.npy"), &[total, 1, 28, 28], &images)?;
    let labels_i64: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
    write_npy_i64(&out.join("labels.npy"), &[total], &labels_i64)?;
    let grid: Vec<f32> = (0..classes)
        .flat_map(|d| {
            let start = d * per_digit * 784;
            images[start..start + args.grid_cols * 784].iter().copied()
        })
        .collect();
    save_image_grid(
        &out.join("samples.png"),
        &grid,
        classes * args.grid_cols,
        1,
        28,
        28,
        args.grid_cols,
    )?;
    let per_digit_text: Vec<String> = acc
        .per_digit
        .iter()
        .enumerate()
        .map(|(d, a)| format!("{d}: {:.1}", 100.0 * a))
        .collect();
    println!(
        "conditional generation: {:.2} % of {total} samples ({per_digit} per digit, z ~ N(0, I)) \
         are classified as the requested digit by the deepgen-eval classifier (99.17 % on MNIST \
         test); per digit % [{}]",
        100.0 * acc.overall,
        per_digit_text.join(", ")
    );
    let mut report = EvalReport::new();
    report
        .push("conditional_accuracy", acc.overall)
        .push("conditional_accuracy_per_digit", acc.per_digit.clone())
        .push("samples_per_digit", per_digit);
    fitted.push_last(&mut report, &["test_elbo", "test_accuracy"]);
    report
        .push("class_code", args.class_code.label())
        .push("epochs", fitted.epochs_completed);
    run.finish(&report)?;
    println!("samples.png has one row per digit; labels.npy gives each sample's digit");
    Ok(())
}

/// The evaluator's classifier: the committed checkpoint (or `$DEEPGEN_CLASSIFIER`).
fn evaluator_checkpoint() -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    match resolve_checkpoint() {
        ResolvedCheckpoint::Found(source) => Ok(source.path().to_path_buf()),
        ResolvedCheckpoint::Missing { .. } => Err(
            "the deepgen-eval classifier checkpoint is missing: rebuild it with \
             `cargo run --release -p deepgen-eval --bin train_classifier`"
                .into(),
        ),
    }
}
