//! The 2-D toy diffusion task (`tasks::toy`, `MlpDenoiser`): the model's shapes and config
//! errors, the loss falling in a short run, and a tiny end-to-end `run` writing a strict
//! `eval.json` with every sampler's energy distance and the sample files.

use crate::common::device;

use burn::module::Module;
use burn::optim::AdamConfig;
use burn::tensor::{Distribution, Tensor};
use clap::Parser;
use deepgen_data::ToyDensity;
use deepgen_diffusion::tasks::toy::{Ddpm2dArgs, ToyDiffusionTask, run};
use deepgen_diffusion::{MlpDenoiserConfig, NoiseScheduleConfig};
use deepgen_train::{CommonArgs, Schedule, Trainer};

#[test]
fn mlp_denoiser_shapes_and_config_errors() {
    let _serial = crate::common::serial();
    let dev = device();
    let model = MlpDenoiserConfig::new(2)
        .with_hidden(vec![16, 16])
        .with_schedule(NoiseScheduleConfig::new().with_num_timesteps(30))
        .init(&dev);
    let x = Tensor::<2>::random([7, 2], Distribution::Normal(0.0, 1.0), &dev);
    assert_eq!(model.forward_at(x, 12).dims(), [7, 2]);
    assert_eq!(model.num_timesteps(), 30);
    assert_eq!(model.data_dim(), 2);
    // 2 + 64 → 16 → 16 → 2, and the time embedding 32 → 64 → 64.
    let expected = (66 * 16 + 16) + (16 * 16 + 16) + (16 * 2 + 2) + (32 * 64 + 64) + (64 * 64 + 64);
    assert_eq!(model.num_params(), expected);
    for (config, field) in [
        (MlpDenoiserConfig::new(2).with_hidden(vec![]), "hidden"),
        (
            MlpDenoiserConfig::new(2).with_hidden(vec![8, 0]),
            "hidden[1]",
        ),
        (
            MlpDenoiserConfig::new(2).with_time_features(3),
            "time_features",
        ),
        (MlpDenoiserConfig::new(0), "data_dim"),
    ] {
        let e = config.try_init(&dev).unwrap_err().to_string();
        assert!(e.contains(field), "{field}: {e}");
    }
}

#[test]
fn a_short_run_lowers_the_test_loss() {
    let _serial = crate::common::serial();
    // 8 gaussians, T = 100, 400 steps of 256 fresh points at a constant 2e-3.
    let tmp = tempfile::tempdir().unwrap();
    let ad = device().autodiff();
    ad.seed(1);
    let model = MlpDenoiserConfig::new(2)
        .with_hidden(vec![64, 64])
        .with_schedule(NoiseScheduleConfig::new().with_num_timesteps(100))
        .init(&ad);
    let mut task = ToyDiffusionTask::new(ToyDensity::EightGaussians, 256, 200, 100, 1)
        .unwrap()
        .with_test_points(2000)
        .unwrap()
        .with_sample_steps(10)
        .unwrap();
    let before = task.test_loss(&model.valid(), &device()).unwrap();
    let fitted = Trainer::new(tmp.path())
        .epochs(2)
        .seed(1)
        .lr(Schedule::Constant(2e-3))
        .num_samples(0)
        .progress(false)
        .fit(&mut task, model, AdamConfig::new().init(), &ad)
        .unwrap();
    let after = fitted.last_metric("test_loss").unwrap();
    println!("test loss {before:.4} → {after:.4}");
    assert!(after < 0.6 * before, "test loss {before} → {after}");
}

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    ddpm: Ddpm2dArgs,
}

#[test]
fn a_tiny_end_to_end_run_writes_samples_and_energy_distances() {
    let _serial = crate::common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let out_s = out.to_str().unwrap().to_string();
    let args = |extra: &[&str]| {
        let mut v = vec![
            "ddpm_2d",
            "--density",
            "8gaussians",
            "--steps",
            "40",
            "--steps-per-epoch",
            "20",
            "--batch-size",
            "64",
            "--timesteps",
            "50",
            "--hidden",
            "16,16",
            "--test-points",
            "100",
            "--eval-samples",
            "300",
            "--ddpm-steps",
            "50",
            "--ddim-steps",
            "10,5",
            "--dpm-steps",
            "5",
            "--num-samples",
            "50",
            "--sample-steps",
            "10",
            "--out",
            &out_s,
        ];
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
    let cli = args(&[]);
    run(&cli.common, &cli.ddpm).unwrap();
    let text = std::fs::read_to_string(out.join("eval.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let number = |k: &str| {
        json.get(k)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or_else(|| panic!("{k} missing or not a number in {text}"))
    };
    assert_eq!(json["density"].as_str(), Some("8gaussians"));
    assert_eq!(number("steps"), 40.0);
    assert!(number("test_loss").is_finite() && number("test_loss") > 0.0);
    let floor = number("energy_floor");
    assert!(floor > 0.0 && floor < 0.1, "floor {floor}");
    for s in ["ddpm_50", "ddim_10", "ddim_5", "dpm_solver_5"] {
        let e = number(&format!("energy_distance_{s}"));
        assert!(e.is_finite() && e >= 0.0, "{s}: {e}");
        assert_eq!(number(&format!("non_finite_samples_{s}")), 0.0, "{s}");
        let (shape, data) =
            deepgen_tensor::output::read_npy_f32(&out.join(format!("samples_{s}.npy"))).unwrap();
        assert_eq!(shape, vec![300, 2], "{s}");
        assert!(data.iter().all(|v| v.is_finite()), "{s}");
        assert!(out.join(format!("samples_{s}.png")).exists(), "{s}");
    }
    let (shape, _) = deepgen_tensor::output::read_npy_f32(&out.join("samples.npy")).unwrap();
    assert_eq!(shape, vec![300, 2]);
    for f in [
        "samples.png",
        "density_samples.png",
        "loss.png",
        "metrics.jsonl",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    // Resuming with other model flags is an error naming --resume.
    let cli = args(&["--resume", "--hidden", "8", "--steps", "60"]);
    let e = run(&cli.common, &cli.ddpm).unwrap_err().to_string();
    assert!(e.contains("resume"), "{e}");
    // Bad flags name themselves before anything runs.
    for (extra, flag) in [
        (&["--ddpm-steps", "51"][..], "ddpm-steps"),
        (&["--ddim-steps", "0"][..], "ddim-steps"),
        (&["--eval-samples", "1"][..], "eval-samples"),
        (&["--hidden", "16,0"][..], "hidden"),
        (&["--steps", "30"][..], "steps"),
        (&["--lr-peak", "0"][..], "lr-peak"),
    ] {
        let cli = args(extra);
        let e = run(&cli.common, &cli.ddpm).unwrap_err().to_string();
        assert!(e.contains(flag), "{extra:?}: {e}");
    }
}
