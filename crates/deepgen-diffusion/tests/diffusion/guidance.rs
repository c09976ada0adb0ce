//! Classifier-free guidance: the guided output against the formula recomputed on the host
//! (`w = 0` is the conditional prediction), the label dropout's rate, the class-conditional
//! config, labels through the trunk and the SN/NPR heads, and a tiny class-conditional
//! `ddpm_mnist` run (labels, accuracy, checkpoint mismatch errors).

use crate::common::{assert_close, device, host, tensor, timesteps};

use burn::tensor::Device;
use clap::Parser;
use deepgen_diffusion::tasks::mnist::{DdpmMnistArgs, run};
use deepgen_diffusion::{
    DiffusionModel, DiffusionModelConfig, NoiseScheduleConfig, drop_labels, guide,
};
use deepgen_nn::UNetConfig;
use deepgen_tensor::HostRng;
use deepgen_train::CommonArgs;

const SIDE: usize = 8;

fn conditional_model(device: &Device) -> DiffusionModel {
    DiffusionModelConfig::new(
        UNetConfig::new(1, [SIDE, SIDE])
            .with_base_channels(4)
            .with_channel_mults(vec![1, 2])
            .with_num_res_blocks(1)
            .with_attention_resolutions(vec![])
            .with_zero_init(false),
    )
    .with_schedule(NoiseScheduleConfig::new().with_num_timesteps(40))
    .with_num_classes(Some(10))
    .init(device)
}

fn inputs(b: usize, device: &Device) -> (burn::tensor::Tensor<4>, Vec<usize>, Vec<usize>) {
    let mut rng = HostRng::seed_from_u64(11);
    let x: Vec<f64> = (0..b * SIDE * SIDE).map(|_| rng.normal()).collect();
    let t: Vec<usize> = (0..b).map(|i| (7 * i + 3) % 40).collect();
    let c: Vec<usize> = (0..b).map(|i| (3 * i + 1) % 10).collect();
    (tensor(&x, [b, 1, SIDE, SIDE], device), t, c)
}

#[test]
fn guided_output_is_the_formula_and_w_zero_is_the_conditional_prediction() {
    let _serial = crate::common::serial();
    let dev = device();
    dev.seed(4);
    let model = conditional_model(&dev);
    let b = 5;
    let (x, t, c) = inputs(b, &dev);
    let cond = host(model.forward_class(x.clone(), timesteps(&t, &dev), Some(timesteps(&c, &dev))));
    // The unconditional prediction: explicit null labels, and `forward` (no labels) alike.
    let uncond = host(model.forward_class(
        x.clone(),
        timesteps(&t, &dev),
        Some(timesteps(&vec![10; b], &dev)),
    ));
    assert_close(
        &host(model.forward(x.clone(), timesteps(&t, &dev))),
        &uncond,
        0.0,
        0.0,
        "forward without labels = null label",
    );
    // The class embedding matters (else the checks below could not fail).
    let gap = cond
        .iter()
        .zip(&uncond)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        gap > 1e-3,
        "conditional and unconditional outputs agree ({gap})"
    );

    let w0 = host(model.guided_forward(x.clone(), timesteps(&t, &dev), timesteps(&c, &dev), 0.0));
    assert_close(&w0, &cond, 0.0, 0.0, "w = 0");
    for w in [0.5, 3.0] {
        let guided =
            host(model.guided_forward(x.clone(), timesteps(&t, &dev), timesteps(&c, &dev), w));
        let expected: Vec<f64> = cond
            .iter()
            .zip(&uncond)
            .map(|(c, u)| (1.0 + w) * c - w * u)
            .collect();
        // One [2B] pass against two [B] passes: f32 rounding only.
        assert_close(&guided, &expected, 1e-4, 1e-5, &format!("w = {w}"));
        // The same at one timestep for the whole batch (what the samplers call).
        let at = host(model.guided_forward_at(x.clone(), 17, timesteps(&c, &dev), w));
        let c17 = host(model.forward_class(
            x.clone(),
            timesteps(&[17; 5], &dev),
            Some(timesteps(&c, &dev)),
        ));
        let u17 = host(model.forward_class(x.clone(), timesteps(&[17; 5], &dev), None));
        let e17: Vec<f64> = c17
            .iter()
            .zip(&u17)
            .map(|(c, u)| (1.0 + w) * c - w * u)
            .collect();
        assert_close(&at, &e17, 1e-4, 1e-5, &format!("at t = 17, w = {w}"));
    }
    // `guide` itself on host-known values: (1 + 2)·[1, −2] − 2·[0.5, 4] = [2, −14].
    let g = host(guide(
        tensor(&[1.0, -2.0], [2], &dev),
        tensor(&[0.5, 4.0], [2], &dev),
        2.0,
    ));
    assert_close(&g, &[2.0, -14.0], 0.0, 1e-6, "guide");
}

#[test]
fn a_conditional_model_with_heads_takes_labels_through_trunk_and_heads() {
    let _serial = crate::common::serial();
    let dev = device();
    dev.seed(5);
    let model = DiffusionModelConfig::new(
        UNetConfig::new(1, [SIDE, SIDE])
            .with_base_channels(4)
            .with_channel_mults(vec![1, 2])
            .with_num_res_blocks(1)
            .with_attention_resolutions(vec![])
            .with_zero_init(false),
    )
    .with_schedule(NoiseScheduleConfig::new().with_num_timesteps(40))
    .with_num_classes(Some(10))
    .with_second_moment_head(true)
    .with_residual_moment_head(true)
    .init(&dev);
    let b = 4;
    let (x, t, c) = inputs(b, &dev);
    let labelled =
        model.forward_class_with_moments(x.clone(), timesteps(&t, &dev), Some(timesteps(&c, &dev)));
    let cond = host(model.forward_class(x.clone(), timesteps(&t, &dev), Some(timesteps(&c, &dev))));
    assert_close(
        &host(labelled.out.clone()),
        &cond,
        0.0,
        0.0,
        "out = forward_class",
    );
    // Without labels: the null label, for the output and the heads alike.
    let plain = model.forward_with_moments(x.clone(), timesteps(&t, &dev));
    let null = model.forward_class_with_moments(
        x.clone(),
        timesteps(&t, &dev),
        Some(timesteps(&vec![10; b], &dev)),
    );
    assert_close(
        &host(plain.out.clone()),
        &host(model.forward(x.clone(), timesteps(&t, &dev))),
        0.0,
        0.0,
        "out = forward",
    );
    for (a, n, what) in [
        (&plain.second_moment, &null.second_moment, "sn"),
        (&plain.residual_moment, &null.residual_moment, "npr"),
    ] {
        let (a, n) = (a.clone().expect(what), n.clone().expect(what));
        assert_close(
            &host(a),
            &host(n),
            0.0,
            0.0,
            &format!("{what}: None = null label"),
        );
    }
    // The labels reach the heads (through the trunk features).
    let h_c = host(labelled.second_moment.expect("sn"));
    let h_u = host(plain.second_moment.expect("sn"));
    let gap = h_c
        .iter()
        .zip(&h_u)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(gap > 1e-4, "the SN head ignores the labels ({gap})");
}

#[test]
fn label_dropout_replaces_the_expected_fraction() {
    let _serial = crate::common::serial();
    let labels: Vec<usize> = (0..100_000).map(|i| i % 10).collect();
    for (p, seed) in [(0.1, 1u64), (0.2, 2), (0.5, 3)] {
        let mut rng = HostRng::seed_from_u64(seed);
        let (out, dropped) = drop_labels(&labels, p, 10, &mut rng);
        assert_eq!(out.len(), labels.len());
        assert_eq!(dropped, out.iter().filter(|&&l| l == 10).count());
        for (a, b) in out.iter().zip(&labels) {
            assert!(*a == 10 || a == b, "a kept label changed");
        }
        // Binomial(n, p): 5 standard deviations.
        let n = labels.len() as f64;
        let frac = dropped as f64 / n;
        let tol = 5.0 * (p * (1.0 - p) / n).sqrt();
        assert!(
            (frac - p).abs() < tol,
            "p = {p}: dropped {frac} (tolerance {tol})"
        );
    }
    let mut rng = HostRng::seed_from_u64(0);
    assert_eq!(drop_labels(&labels[..50], 0.0, 10, &mut rng).1, 0);
    assert_eq!(drop_labels(&labels[..50], 1.0, 10, &mut rng).1, 50);
}

#[test]
fn class_conditional_config_errors_name_the_field() {
    let _serial = crate::common::serial();
    let unet = || {
        UNetConfig::new(1, [SIDE, SIDE])
            .with_base_channels(4)
            .with_attention_resolutions(vec![])
    };
    let e = DiffusionModelConfig::new(unet().with_num_classes(Some(10)))
        .try_init(&device())
        .unwrap_err();
    assert!(e.to_string().contains("unet.num_classes"), "{e}");
    let e = DiffusionModelConfig::new(unet())
        .with_num_classes(Some(0))
        .try_init(&device())
        .unwrap_err();
    assert!(e.to_string().contains("num_classes"), "{e}");
    // The U-Net gets the null label as an eleventh class.
    let m = DiffusionModelConfig::new(unet())
        .with_num_classes(Some(10))
        .init(&device());
    assert_eq!(m.null_class(), Some(10));
    let rows = m.unet.class_embedding.as_ref().unwrap().weight.val().dims()[0];
    assert_eq!(rows, 11);
}

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    ddpm: DdpmMnistArgs,
}

#[test]
fn sample_labels_are_the_class_or_balanced() {
    let _serial = crate::common::serial();
    let cli = Cli::parse_from(["x", "--class-conditional", "--class", "3"]);
    assert_eq!(cli.ddpm.sample_labels(4), vec![3; 4]);
    let cli = Cli::parse_from(["x", "--class-conditional"]);
    assert_eq!(
        cli.ddpm.sample_labels(12),
        vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    );
    assert_eq!(cli.ddpm.guidance(), 3.0);
    assert_eq!(cli.ddpm.label_dropout(), 0.2);
}

#[test]
fn a_tiny_class_conditional_run_writes_labels_and_accuracy_and_guards_its_checkpoint() {
    let _serial = crate::common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let out_s = out.to_str().unwrap().to_string();
    let args = |extra: &[&str]| {
        let mut v = vec![
            "ddpm_mnist",
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--train-images",
            "64",
            "--timesteps",
            "50",
            "--base-channels",
            "8",
            "--test-images",
            "32",
            "--nll-images",
            "8",
            "--nll-timesteps",
            "2",
            "--gamma-images",
            "8",
            "--ddpm-steps",
            "5",
            "--ddim-steps",
            "5",
            "--dpm-steps",
            "4",
            "--fd-samples",
            "12",
            "--num-samples",
            "4",
            "--sample-steps",
            "5",
            "--eval-batch",
            "16",
            "--out",
            &out_s,
        ];
        // An extra `--flag value` replaces the default pair above.
        for flag in extra
            .iter()
            .filter(|f| f.starts_with("--") && !f.contains('='))
        {
            if let Some(i) = v.iter().position(|a| a == flag)
                && v.get(i + 1).is_some_and(|a| !a.starts_with("--"))
            {
                v.drain(i..i + 2);
            }
        }
        v.extend_from_slice(extra);
        Cli::parse_from(v)
    };
    let cli = args(&["--class-conditional", "--guidance", "2"]);
    run(&cli.common, &cli.ddpm).unwrap();
    let text = std::fs::read_to_string(out.join("eval.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["class_conditional"].as_str(), Some("on"));
    assert_eq!(json["guidance"].as_f64(), Some(2.0));
    assert_eq!(json["sample_class"].as_str(), Some("balanced"));
    let balanced: Vec<i64> = (0..12).map(|i| i % 10).collect();
    for s in [
        "ddpm_small_5",
        "ddpm_large_5",
        "ddim_5",
        "analytic_ddpm_5",
        "analytic_ddim_5",
        "dpm_solver_4",
    ] {
        let acc = json[format!("label_accuracy_{s}")]
            .as_f64()
            .unwrap_or_else(|| panic!("label_accuracy_{s} missing in {text}"));
        assert!((0.0..=1.0).contains(&acc), "{s}: {acc}");
        let (shape, labels) = read_npy_i64(&out.join(format!("labels_{s}.npy")));
        assert_eq!(shape, vec![12], "{s}");
        assert_eq!(labels, balanced, "{s}");
        let (shape, _) =
            deepgen_tensor::output::read_npy_f32(&out.join(format!("samples_{s}.npy"))).unwrap();
        assert_eq!(shape, vec![12, 1, 28, 28], "{s}");
    }
    // The per-epoch grid carries its labels too.
    let (shape, labels) = read_npy_i64(&out.join("labels.npy"));
    assert_eq!((shape, labels), (vec![4], vec![0, 1, 2, 3]));

    // Resuming the conditional run without the flag, or an unconditional one with it, is an
    // error naming --class-conditional.
    let cli = args(&["--resume", "--epochs", "2"]);
    let e = run(&cli.common, &cli.ddpm).unwrap_err().to_string();
    assert!(
        e.contains("class-conditional") && e.contains("trained class-conditionally"),
        "{e}"
    );
    let config_path = out.join("model_config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    assert_eq!(config["num_classes"].as_u64(), Some(10));
    // As an unconditional run written before `num_classes` existed would have it.
    config.as_object_mut().unwrap().remove("num_classes");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let cli = args(&["--class-conditional", "--resume"]);
    let e = run(&cli.common, &cli.ddpm).unwrap_err().to_string();
    assert!(
        e.contains("class-conditional") && e.contains("without class conditioning"),
        "{e}"
    );

    // Conditioning flags are checked before anything runs.
    for (extra, flag) in [
        (&["--guidance", "2"][..], "guidance"),
        (&["--class", "3"][..], "class"),
        (&["--class-conditional", "--class", "10"][..], "class"),
        (
            &["--class-conditional", "--label-dropout", "1"][..],
            "label-dropout",
        ),
        (&["--class-conditional", "--guidance=-1"][..], "guidance"),
        (&["--class-conditional", "--sn-dpm"][..], "sn-dpm"),
        (&["--class-conditional", "--npr-dpm"][..], "npr-dpm"),
    ] {
        let cli = args(extra);
        let e = run(&cli.common, &cli.ddpm).unwrap_err().to_string();
        assert!(e.contains(flag), "{extra:?}: {e}");
    }
}

/// `(shape, values)` of an int64 `.npy` file (little-endian, C order).
fn read_npy_i64(path: &std::path::Path) -> (Vec<usize>, Vec<i64>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'descr': '<i8'"), "{header}");
    let inside = &header[header.find("'shape': (").unwrap() + 10..];
    let shape: Vec<usize> = inside[..inside.find(')').unwrap()]
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let values = bytes[10 + header_len..]
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (shape, values)
}
