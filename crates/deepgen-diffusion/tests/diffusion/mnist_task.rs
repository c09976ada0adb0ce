//! The MNIST diffusion task (`tasks::mnist`): the training loss against an independent host
//! recomputation (ε and v targets, uniform and min-SNR weights), `test_loss` independent of the
//! chunk size, `--resume` reproducing an uninterrupted run, and a tiny end-to-end `run` on the
//! bundled MNIST writing a strict `eval.json` with every sampler's entries, `gamma.json` and
//! the sample files. Small synthetic 8×8 splits and tiny U-Nets keep it fast.

use crate::common::{device, host};

use burn::module::Module;
use burn::optim::AdamConfig;
use burn::tensor::Device;
use clap::Parser;
use deepgen_data::MnistSplit;
use deepgen_diffusion::tasks::mnist::{DdpmMnistArgs, MnistDiffusionTask, run};
use deepgen_diffusion::{
    AnalyticDpmConfig, CovarianceHead, DdpmConfig, DiffusionModel, DiffusionModelConfig,
    LearnedVarianceSampler, LossWeighting, NoiseScheduleConfig, Prediction,
};
use deepgen_nn::UNetConfig;
use deepgen_tensor::HostRng;
use deepgen_train::{CommonArgs, Schedule, StepContext, Task, Trainer};

const SIDE: usize = 8;
const T: usize = 40;

fn synthetic(n: usize, seed: u64) -> MnistSplit {
    let mut rng = HostRng::seed_from_u64(seed);
    MnistSplit {
        images: (0..n * SIDE * SIDE)
            .map(|_| {
                if rng.uniform() < 0.3 {
                    rng.below(256) as u8
                } else {
                    0
                }
            })
            .collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        rows: SIDE,
        cols: SIDE,
    }
}

fn tiny_model(prediction: Prediction, device: &Device) -> DiffusionModel {
    tiny_config(prediction).init(device)
}

fn tiny_config(prediction: Prediction) -> DiffusionModelConfig {
    DiffusionModelConfig::new(
        UNetConfig::new(1, [SIDE, SIDE])
            .with_base_channels(4)
            .with_channel_mults(vec![1, 2])
            .with_num_res_blocks(1)
            .with_attention_resolutions(vec![])
            .with_dropout(0.0)
            .with_zero_init(false),
    )
    .with_schedule(NoiseScheduleConfig::new().with_num_timesteps(T))
    .with_prediction(prediction)
}

fn ctx() -> StepContext {
    StepContext {
        epoch: 0,
        step: 0,
        weights: Default::default(),
    }
}

#[test]
fn training_loss_equals_an_independent_recomputation() {
    let _serial = crate::common::serial();
    let dev = device();
    let train = synthetic(16, 1);
    for (prediction, weighting) in [
        (Prediction::Epsilon, LossWeighting::Uniform),
        (
            Prediction::VPrediction,
            LossWeighting::MinSnr { gamma: 5.0 },
        ),
        (Prediction::Sample, LossWeighting::MinSnr { gamma: 2.0 }),
    ] {
        let model = tiny_model(prediction, &dev);
        let mut task = MnistDiffusionTask::new(train.clone(), synthetic(4, 2), 5, T, 3)
            .unwrap()
            .with_weighting(weighting.clone())
            .unwrap();
        let mut rng = HostRng::seed_from_u64(9);
        let mut replay = rng.clone();
        let batch = task.train_batch(0, 1, &mut rng, &dev);
        let idx = task.batch_indices(0, 1);
        let x_t_in = {
            let s = &model.schedule;
            s.add_noise(batch.x0.clone(), batch.noise.clone(), batch.t.clone())
        };
        let out = host(model.forward(x_t_in, batch.t.clone()));
        let loss = host(task.loss(&model, batch, &ctx()).loss)[0];

        // The documented draws: one t per image, then the noise image-major.
        let d = SIDE * SIDE;
        let t: Vec<usize> = idx
            .iter()
            .map(|_| replay.below(T as u64) as usize)
            .collect();
        let eps: Vec<f64> = (0..idx.len() * d)
            .map(|_| replay.normal() as f32 as f64)
            .collect();
        let ab = model.schedule.alpha_bar();
        let mut total = 0.0;
        for (i, &img) in idx.iter().enumerate() {
            let (a, s) = (ab[t[i]].sqrt(), (1.0 - ab[t[i]]).sqrt());
            let snr = ab[t[i]] / (1.0 - ab[t[i]]);
            let mut mse = 0.0;
            for j in 0..d {
                let x0 = f64::from(train.image(img)[j]) * 2.0 / 255.0 - 1.0;
                let e = eps[i * d + j];
                let target = match prediction {
                    Prediction::Epsilon => e,
                    Prediction::Sample => x0,
                    Prediction::VPrediction => a * e - s * x0,
                };
                mse += (out[i * d + j] - target).powi(2);
            }
            let w = match (&weighting, prediction) {
                (LossWeighting::Uniform, _) => 1.0,
                (LossWeighting::MinSnr { gamma }, Prediction::Epsilon) => snr.min(*gamma) / snr,
                (LossWeighting::MinSnr { gamma }, Prediction::Sample) => snr.min(*gamma),
                (LossWeighting::MinSnr { gamma }, Prediction::VPrediction) => {
                    snr.min(*gamma) / (snr + 1.0)
                }
            };
            total += w * mse / d as f64;
        }
        let want = total / idx.len() as f64;
        assert!(
            (loss - want).abs() < 1e-5 * want.max(1.0),
            "{prediction:?}: loss {loss} vs {want}"
        );
    }
}

#[test]
fn test_loss_and_bound_do_not_depend_on_the_chunk_size() {
    let _serial = crate::common::serial();
    let dev = device();
    let model = tiny_model(Prediction::Epsilon, &dev);
    let task = MnistDiffusionTask::new(synthetic(16, 1), synthetic(7, 2), 4, T, 3)
        .unwrap()
        .with_test_images(7)
        .unwrap();
    let a = task.test_loss(&model, &dev).unwrap();
    let task = task.with_eval_batch(3).unwrap();
    let b = task.test_loss(&model, &dev).unwrap();
    assert!((a - b).abs() < 1e-6 * a, "{a} vs {b}");
    assert_eq!(b, task.test_loss(&model, &dev).unwrap());
    let v = task.full_chain_vlb(&model, &dev).unwrap();
    assert_eq!(v.len(), 2);
    assert!(v.iter().all(|s| s.bpd.is_finite() && s.bpd > 0.0), "{v:?}");
    // Invalid settings name their flag.
    let e = MnistDiffusionTask::new(synthetic(4, 1), synthetic(2, 2), 8, T, 0)
        .err()
        .unwrap();
    assert!(e.to_string().contains("batch-size"), "{e}");
    let e = task.with_sample_steps(T + 1).err().unwrap();
    assert!(e.to_string().contains("sample-steps"), "{e}");
}

fn params(model: &DiffusionModel) -> Vec<f64> {
    host(model.unet.head_conv.weight.val().reshape([-1]))
}

#[test]
fn resume_reproduces_an_uninterrupted_run() {
    let _serial = crate::common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let fit = |dir: &std::path::Path, epochs: usize, resume: bool| {
        let ad = device().autodiff();
        ad.seed(0);
        let model = tiny_model(Prediction::Epsilon, &ad);
        let mut task = MnistDiffusionTask::new(synthetic(24, 1), synthetic(4, 2), 8, T, 5)
            .unwrap()
            .with_nll(4, deepgen_diffusion::VlbEstimator::MonteCarlo(2))
            .unwrap()
            .with_sample_steps(3)
            .unwrap();
        Trainer::new(dir)
            .epochs(epochs)
            .seed(5)
            .lr(Schedule::Constant(1e-3))
            .num_samples(4)
            .ema(Some(0.9))
            .progress(false)
            .resume(resume)
            .fit(&mut task, model, AdamConfig::new().init(), &ad)
            .unwrap()
    };
    let whole = fit(&tmp.path().join("whole"), 2, false);
    let part = tmp.path().join("part");
    fit(&part, 1, false);
    let resumed = fit(&part, 2, true);
    assert!(resumed.resumed_from.is_some());
    assert_eq!(params(&whole.model), params(&resumed.model));
    assert_eq!(
        params(whole.ema_model.as_ref().unwrap()),
        params(resumed.ema_model.as_ref().unwrap())
    );
    let (a, b) = (whole.last.unwrap(), resumed.last.unwrap());
    assert_eq!(a.get("test_loss"), b.get("test_loss"));
    assert_eq!(a.get("test_bpd"), b.get("test_bpd"));
    let (shape, data) = deepgen_tensor::output::read_npy_f32(&part.join("samples.npy")).unwrap();
    assert_eq!(shape, vec![4, 1, SIDE, SIDE]);
    assert!(data.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    ddpm: DdpmMnistArgs,
}

#[test]
fn attention_flag_accepts_a_list_an_empty_string_or_none() {
    let _serial = crate::common::serial();
    use deepgen_diffusion::tasks::mnist::SizeList;
    let parse = |v: &str| Cli::try_parse_from(["ddpm_mnist", "--attention", v]);
    assert_eq!(
        Cli::parse_from(["ddpm_mnist"]).ddpm.attention,
        SizeList(vec![7])
    );
    assert_eq!(parse("7,14").unwrap().ddpm.attention, SizeList(vec![7, 14]));
    for empty in ["", "none", "NONE"] {
        assert_eq!(
            parse(empty).unwrap().ddpm.attention,
            SizeList(vec![]),
            "{empty:?}"
        );
    }
    let err = parse("7,x").unwrap_err().to_string();
    assert!(err.contains("`x` is not a size"), "{err}");
}

#[test]
fn a_tiny_end_to_end_run_writes_every_samplers_entries() {
    let _serial = crate::common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let out_s = out.to_str().unwrap().to_string();
    let args = |epochs: &str, base: &str, extra: &[&str]| {
        let mut v = vec![
            "ddpm_mnist",
            "--epochs",
            epochs,
            "--batch-size",
            "32",
            "--train-images",
            "64",
            "--timesteps",
            "50",
            "--base-channels",
            base,
            "--test-images",
            "32",
            "--nll-images",
            "8",
            "--nll-timesteps",
            "2",
            "--gamma-images",
            "8",
            "--ddpm-steps",
            "10",
            "--ddim-steps",
            "5",
            "--dpm-steps",
            "4,5",
            "--fd-samples",
            "8",
            "--num-samples",
            "4",
            "--sample-steps",
            "5",
            "--eval-batch",
            "16",
            "--sn-dpm",
            "--npr-dpm",
            "--out",
            &out_s,
        ];
        // An extra `--flag value` replaces the default pair above.
        for flag in extra
            .iter()
            .filter(|f| f.starts_with("--") && !f.contains('='))
        {
            if let Some(i) = v.iter().position(|a| a == flag) {
                v.drain(i..i + 2);
            }
        }
        v.extend_from_slice(extra);
        Cli::parse_from(v)
    };
    let cli = args("1", "8", &[]);
    run(&cli.common, &cli.ddpm).unwrap();
    let text = std::fs::read_to_string(out.join("eval.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["spacing"].as_str(), Some("leading"), "{text}");
    let number = |k: &str| {
        json.get(k)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or_else(|| panic!("{k} missing or not a number in {text}"))
    };
    for k in [
        "test_loss",
        "nll_bpd_ddpm_small",
        "nll_bpd_ddpm_large",
        "nll_bpd_k10_ddpm_small",
        "nll_bpd_k10_ddpm_large",
        "nll_bpd_k10_analytic",
        "nll_bpd_k10_analytic_stderr",
        "nll_bpd_analytic",
        "nll_bpd_sn",
        "nll_bpd_npr",
        "nll_bpd_k10_sn",
        "nll_bpd_k10_npr",
        "nll_bpd_k10_npr_stderr",
    ] {
        assert!(number(k).is_finite() && number(k) >= 0.0, "{k}");
    }
    // Every bound comes with its prior, KL and decoder parts, which sum to it.
    for k in [
        "nll_bpd_ddpm_small",
        "nll_bpd_analytic",
        "nll_bpd_sn",
        "nll_bpd_k10_npr",
    ] {
        let parts = ["prior", "kl", "decoder"].map(|p| number(&format!("{k}_{p}")));
        assert!(parts.iter().all(|p| p.is_finite()), "{k}: {parts:?}");
        let sum: f64 = parts.iter().sum();
        assert!(
            (sum - number(k)).abs() < 1e-9 * (1.0 + number(k)),
            "{k}: {parts:?} vs {}",
            number(k)
        );
    }
    let samplers = [
        "ddpm_small_10",
        "ddpm_large_10",
        "ddim_5",
        "analytic_ddpm_10",
        "analytic_ddim_5",
        "dpm_solver_4",
        "dpm_solver_5",
        "sn_ddpm_10",
        "sn_ddim_5",
        "npr_ddpm_10",
        "npr_ddim_5",
    ];
    for s in samplers {
        assert!(number(&format!("fd_{s}")) >= 0.0, "{s}");
        assert!(number(&format!("label_balance_{s}")) >= 0.0, "{s}");
        let (shape, data) =
            deepgen_tensor::output::read_npy_f32(&out.join(format!("samples_{s}.npy"))).unwrap();
        assert_eq!(shape, vec![8, 1, 28, 28], "{s}");
        assert!(data.iter().all(|v| (0.0..=1.0).contains(v)), "{s}");
        assert!(out.join(format!("samples_{s}.png")).exists(), "{s}");
    }
    // The sampling weights as .npy for NumPy / PyTorch: the stem conv's weight among them.
    let index = std::fs::read_to_string(out.join("params/params.json")).unwrap();
    assert!(index.contains("\"unet.stem.weight\""), "{index}");
    let (shape, _) =
        deepgen_tensor::output::read_npy_f32(&out.join("params/unet.stem.weight.npy")).unwrap();
    assert_eq!(shape[1..], [1, 3, 3]);
    // Γ is cached for this checkpoint (2 optimizer steps).
    let cache = deepgen_diffusion::GammaCache::read(&out.join("gamma.json"))
        .unwrap()
        .unwrap();
    assert_eq!(cache.key.model_step, 2);
    // Both heads' losses are logged beside the denoising loss.
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert!(
        metrics.contains("\"train_sn_loss\"") && metrics.contains("\"train_npr_loss\""),
        "{metrics}"
    );
    // Γ at every timestep of the T = 50 chain (Analytic-DPM's full-chain bound).
    let mut ts = cache.timesteps.clone();
    ts.sort_unstable();
    assert_eq!(ts, (0..50).collect::<Vec<_>>());
    // Resuming with other architecture flags is an error naming --resume.
    let cli = args("2", "12", &["--resume"]);
    let e = run(&cli.common, &cli.ddpm).unwrap_err().to_string();
    assert!(e.contains("resume"), "{e}");
    // Bad flags name themselves before anything runs.
    for (extra, flag) in [
        (&["--ddpm-steps", "51"][..], "ddpm-steps"),
        (&["--min-snr-gamma=-1"][..], "min-snr-gamma"),
        (&["--fd-samples", "1"][..], "fd-samples"),
        (&["--channel-mults", "1,0"][..], "channel-mults"),
    ] {
        let cli = args("1", "8", extra);
        let e = run(&cli.common, &cli.ddpm).unwrap_err().to_string();
        assert!(e.contains(flag), "{extra:?}: {e}");
    }
}

#[test]
fn model_config_errors_name_the_field() {
    let _serial = crate::common::serial();
    let e = DiffusionModelConfig::new(
        UNetConfig::new(1, [8, 8])
            .with_out_channels(Some(2))
            .with_attention_resolutions(vec![]),
    )
    .try_init(&device())
    .unwrap_err();
    assert_eq!(e.field, "unet.out_channels");
    let e =
        DiffusionModelConfig::new(UNetConfig::new(1, [8, 8]).with_attention_resolutions(vec![]))
            .with_schedule(NoiseScheduleConfig::new().with_num_timesteps(0))
            .try_init(&device())
            .unwrap_err();
    assert_eq!(e.field, "schedule.num_timesteps");
    let _ = tiny_model(Prediction::Epsilon, &device()).num_params();
}

#[test]
fn covariance_head_losses_equal_a_host_recomputation() {
    let _serial = crate::common::serial();
    let dev = device();
    dev.seed(9);
    let model = tiny_config(Prediction::Epsilon)
        .with_second_moment_head(true)
        .with_residual_moment_head(true)
        .init(&dev);
    let train = synthetic(8, 1);
    let mut task = MnistDiffusionTask::new(train, synthetic(4, 2), 4, T, 3).unwrap();
    let mut rng = HostRng::seed_from_u64(2);
    let batch = task.train_batch(0, 0, &mut rng, &dev);
    let x_t = model
        .schedule
        .add_noise(batch.x0.clone(), batch.noise.clone(), batch.t.clone());
    let outs = model.forward_with_moments(x_t, batch.t.clone());
    let out = host(outs.out);
    let h_sn = host(outs.second_moment.unwrap());
    let h_npr = host(outs.residual_moment.unwrap());
    let eps = host(batch.noise.clone());
    let loss = task.loss(&model, batch, &ctx());
    let names: Vec<&str> = loss.metrics.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["sn_loss", "npr_loss"]);
    let n = eps.len() as f64;
    let mean = |f: &dyn Fn(usize) -> f64| (0..eps.len()).map(f).sum::<f64>() / n;
    let mse = mean(&|i| (out[i] - eps[i]).powi(2));
    // SN-DPM: (h − ε²)²; NPR-DPM: (h − (ε − ε̂)²)² with ε̂ the ε-model's output.
    let sn = mean(&|i| (h_sn[i] - eps[i] * eps[i]).powi(2));
    let npr = mean(&|i| (h_npr[i] - (eps[i] - out[i]).powi(2)).powi(2));
    let got = host(loss.loss)[0];
    let want = mse + sn + npr;
    assert!(
        (got - want).abs() < 1e-5 * want,
        "{got} vs {mse} + {sn} + {npr}"
    );
    assert!((host(loss.metrics[0].1.clone())[0] - sn).abs() < 1e-5 * sn.max(1e-3));
    assert!((host(loss.metrics[1].1.clone())[0] - npr).abs() < 1e-5 * npr.max(1e-3));
    assert!(
        (sn - npr).abs() > 1e-3 * sn,
        "the two targets must differ for a test that can fail"
    );
}

/// Every float parameter's gradient as a host vector (`None` if it has none).
struct Grads<'a> {
    grads: &'a burn::tensor::Gradients,
    out: Vec<Option<Vec<f64>>>,
}

impl burn::module::ModuleVisitor for Grads<'_> {
    fn visit_float<const D: usize>(
        &mut self,
        param: &burn::module::Param<burn::tensor::Tensor<D>>,
    ) {
        self.out.push(param.val().grad(self.grads).map(host));
    }
}

fn grads_of<M: Module>(m: &M, grads: &burn::tensor::Gradients) -> Vec<Option<Vec<f64>>> {
    let mut v = Grads {
        grads,
        out: Vec::new(),
    };
    m.visit(&mut v);
    v.out
}

#[test]
fn covariance_head_losses_reach_only_the_heads() {
    let _serial = crate::common::serial();
    // The heads see detached trunk features and a detached ε̂: the U-Net (trunk and ε head)
    // gets exactly the denoising loss's gradients, and the heads get gradients of their own.
    let dev = device().autodiff();
    dev.seed(11);
    let model = tiny_config(Prediction::Epsilon)
        .with_second_moment_head(true)
        .with_residual_moment_head(true)
        .init(&dev);
    let mut task = MnistDiffusionTask::new(synthetic(8, 1), synthetic(4, 2), 4, T, 3).unwrap();
    let mut rng = HostRng::seed_from_u64(5);
    let batch = task.train_batch(0, 0, &mut rng, &dev);
    let with_heads = task.loss(&model, batch.clone(), &ctx()).loss.backward();
    let denoise_only = task
        .per_image_losses(&model, batch)
        .denoise
        .mean()
        .backward();
    let (a, b) = (
        grads_of(&model.unet, &with_heads),
        grads_of(&model.unet, &denoise_only),
    );
    assert_eq!(a.len(), b.len());
    let mut nonzero = 0;
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
        assert_eq!(
            a, b,
            "U-Net parameter {i}: gradients differ with the head losses"
        );
        nonzero += usize::from(a.iter().any(|v| *v != 0.0));
    }
    assert!(nonzero > a.len() / 2, "the denoising loss trains the U-Net");
    for head in [
        model.sn_head.as_ref().unwrap(),
        model.npr_head.as_ref().unwrap(),
    ] {
        for g in grads_of(head, &with_heads) {
            let g = g.expect("a head parameter without gradient");
            assert!(g.iter().any(|v| *v != 0.0) && g.iter().all(|v| v.is_finite()));
        }
        assert!(grads_of(head, &denoise_only).iter().all(Option::is_none));
    }
}

#[test]
fn the_task_refuses_a_sampler_whose_head_the_model_lacks() {
    let _serial = crate::common::serial();
    let dev = device();
    let task = MnistDiffusionTask::new(synthetic(8, 1), synthetic(4, 2), 4, T, 3).unwrap();
    let plain = tiny_model(Prediction::Epsilon, &dev);
    let mut rng = HostRng::seed_from_u64(2);
    for (head, flag) in [
        (CovarianceHead::SecondMoment, "sn-dpm"),
        (CovarianceHead::ResidualMoment, "npr-dpm"),
    ] {
        let sampler = LearnedVarianceSampler::ddpm(
            head,
            &DdpmConfig::new(5),
            &AnalyticDpmConfig::new(),
            &plain.schedule,
        )
        .unwrap();
        let e = task
            .sample_images_learned(&plain, &sampler, 2, &mut rng, &dev)
            .unwrap_err();
        assert!(e.to_string().contains(flag), "{e}");
    }
}
