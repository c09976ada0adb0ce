//! The f-VAE: its ELBO terms are the conditional flow's `log_prob` at `z = μ + σε` and the
//! closed-form Gaussian KL (recomputed on the host), the importance-weighted bound is at least
//! the mean of its single-sample bounds, every parameter gets a gradient, samples are finite.

use burn::tensor::{Device, Tensor};
use deepgen_flows::{FVaeConfig, GlowConfig, NormalizingFlow};
use deepgen_tensor::HostRng;

use crate::common::bij::{assert_all_params_have_grads, perturb, tensor_r};
use crate::common::host;

const L: usize = 3;

fn config() -> FVaeConfig {
    FVaeConfig::new()
        .with_flow(
            GlowConfig::new([1, 4, 4])
                .with_levels(2)
                .with_steps_per_level(1)
                .with_hidden_channels(6),
        )
        .with_latent_dim(L)
        .with_encoder_channels(vec![4])
}

fn images(n: usize, dev: &Device) -> Tensor<4> {
    let v: Vec<f64> = (0..n * 16)
        .map(|i| ((i * 13 + 7) % 17) as f64 / 17.0 + 0.01)
        .collect();
    tensor_r(&v, [n, 1, 4, 4], dev)
}

#[test]
fn elbo_terms_match_an_independent_computation() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    let model = perturb(config().init(&dev), 0.3);
    let x = images(2, &dev);
    let eps = tensor_r(&[0.3, -1.0, 0.5, 1.2, 0.0, -0.4], [2, L], &dev);
    let terms = model.terms_with_noise(x.clone(), eps.clone());
    let q = model.posterior(x.clone());
    let (mu, log_std, e) = (host(q.mean.clone()), host(q.log_std.clone()), host(eps));
    // KL(N(μ, σ²) ‖ N(0, 1)) = Σ (σ² + μ² − 1)/2 − ln σ, on the host.
    let kl = host(terms.kl.clone());
    let z: Vec<f64> = (0..2 * L)
        .map(|i| mu[i] + log_std[i].exp() * e[i])
        .collect();
    for r in 0..2 {
        let expected: f64 = (0..L)
            .map(|j| {
                let (m, ls) = (mu[r * L + j], log_std[r * L + j]);
                0.5 * ((2.0 * ls).exp() + m * m - 1.0) - ls
            })
            .sum();
        assert!(
            (kl[r] - expected).abs() < 1e-4,
            "KL row {r}: {} vs {expected}",
            kl[r]
        );
    }
    let lp = host(model.flow.log_prob(x, Some(&tensor_r(&z, [2, L], &dev))));
    let got = host(terms.log_px_given_z.clone());
    for r in 0..2 {
        assert!((got[r] - lp[r]).abs() < 1e-3, "ln p(x|z) row {r}");
    }
    let elbo = host(terms.elbo());
    // f32 on the device: relative to the magnitude (the perturbation draws from the backend's
    // global RNG, so the values vary with the order the tests run in).
    let diff = got[0] - kl[0];
    assert!(
        (elbo[0] - diff).abs() < 1e-6 * diff.abs().max(10.0),
        "{} vs {diff}",
        elbo[0]
    );
}

#[test]
fn importance_weighted_bound_is_at_least_the_mean_single_sample_bound() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    let model = perturb(config().init(&dev), 0.3);
    let x = images(2, &dev);
    let k = 4;
    let e: Vec<f64> = (0..k * 2 * L)
        .map(|i| ((i * 29 + 3) % 19) as f64 / 6.0 - 1.5)
        .collect();
    let eps = tensor_r(&e, [k, 2, L], &dev);
    let iw = host(model.iw_log_prob_with_noise(x.clone(), eps.clone()));
    // Each single-sample bound: ln p(x|z_j) + ln p(z_j) − ln q(z_j|x).
    let mut mean_single = [0.0f64; 2];
    for j in 0..k {
        let ej: Tensor<2> = eps.clone().narrow(0, j, 1).reshape([2, L]);
        let single = host(model.iw_log_prob_with_noise(x.clone(), ej.unsqueeze_dim::<3>(0)));
        for r in 0..2 {
            mean_single[r] += single[r] / k as f64;
        }
    }
    for r in 0..2 {
        assert!(iw[r].is_finite());
        assert!(
            iw[r] >= mean_single[r] - 1e-4,
            "row {r}: IW {} < mean single {}",
            iw[r],
            mean_single[r]
        );
    }
}

#[test]
fn every_parameter_gets_a_gradient_and_samples_are_finite() {
    let _serial = crate::common::serial();
    let ad = Device::flex().autodiff();
    let model = perturb(config().init(&ad), 0.3);
    let x = images(3, &ad);
    let model = model.initialize_actnorm(x.clone());
    let mut rng = HostRng::seed_from_u64(5);
    let loss = -model.terms(x, &mut rng).elbo().mean();
    let grads = loss.backward();
    assert_all_params_have_grads("FVae", &model, &grads);
    let s = host(model.sample(4, 0.7, &mut rng));
    assert_eq!(s.len(), 4 * 16);
    assert!(s.iter().all(|v| v.is_finite()));
}

/// With `base_channels` the decoder's density is `ln N(u; μ(z), σ(z)²) + ln|det|` at
/// `(u, ln|det|) = f(x; z)`: recomputed on the host from the flow's forward pass and the base
/// net's outputs (ln σ soft-clamped `5·tanh(s/5)`); a fresh model's base is exactly `N(0, I)`
/// (zero last layer), so it equals the flow's own `log_prob`; `decode` at temperature 0 is
/// `f⁻¹(μ(z))`; every parameter, the base net's included, gets a gradient.
#[test]
fn conditional_base_density_matches_an_independent_computation() {
    let _serial = crate::common::serial();
    use deepgen_flows::Bijection;
    let dev = Device::flex();
    let cfg = config().with_base_channels(vec![4]);
    let x = images(2, &dev);
    let z = tensor_r(&[0.3, -1.0, 0.5, 1.2, 0.0, -0.4], [2, L], &dev);
    // Fresh: the base is N(0, I).
    let fresh = cfg.init(&dev);
    let a = host(fresh.log_px_given_z(x.clone(), &z));
    let b = host(fresh.flow.log_prob(x.clone(), Some(&z)));
    for r in 0..2 {
        assert!(
            (a[r] - b[r]).abs() < 1e-3,
            "fresh row {r}: {} vs {}",
            a[r],
            b[r]
        );
    }
    // Perturbed: an independent host computation.
    let model = perturb(cfg.init(&dev), 0.3);
    let net = model.base.as_ref().expect("a base net");
    let out = host(net.forward(z.clone()));
    let (u, ladj) = model.flow.forward_and_ladj(x.clone(), Some(&z));
    let (u, ladj) = (host(u), host(ladj));
    let got = host(model.log_px_given_z(x.clone(), &z));
    let d = 16;
    let mut spread = 0.0f64;
    for r in 0..2 {
        let mut lp = ladj[r];
        for i in 0..d {
            let mean = out[r * 2 * d + i];
            let log_std = 5.0 * (out[r * 2 * d + d + i] / 5.0).tanh();
            spread += log_std.abs();
            let e = (u[r * d + i] - mean) / log_std.exp();
            lp += -0.5 * e * e - log_std - 0.5 * (2.0 * std::f64::consts::PI).ln();
        }
        assert!(
            (got[r] - lp).abs() < 1e-3 * lp.abs().max(1.0),
            "row {r}: {} vs {lp}",
            got[r]
        );
    }
    assert!(spread > 0.1, "the perturbed base must not be N(0, I)");
    // The ELBO uses it.
    let eps = tensor_r(&[0.0; 2 * L], [2, L], &dev);
    let terms = model.terms_with_noise(x.clone(), eps);
    let mu = model.posterior(x.clone()).mean;
    let direct = host(model.log_px_given_z(x, &mu));
    let via = host(terms.log_px_given_z);
    assert!((direct[0] - via[0]).abs() < 1e-3 * direct[0].abs().max(1.0));
    // Temperature 0: the inverse of the base mean.
    let mut rng = HostRng::seed_from_u64(1);
    let s = host(model.decode(&z, 0.0, &mut rng));
    let means = net.forward(z.clone()).narrow(1, 0, 1);
    let expected = host(model.flow.inverse(means, Some(&z)));
    for (g, e) in s.iter().zip(&expected) {
        assert!((g - e).abs() < 1e-4, "{g} vs {e}");
    }
    // Gradients reach the base net.
    let ad = Device::flex().autodiff();
    let model = perturb(cfg.init(&ad), 0.3);
    let x = images(3, &ad);
    let model = model.initialize_actnorm(x.clone());
    let loss = -model.terms(x, &mut rng).elbo().mean();
    let grads = loss.backward();
    assert_all_params_have_grads("FVae with a conditional base", &model, &grads);
}

#[test]
fn config_errors_name_the_field() {
    let _serial = crate::common::serial();
    use deepgen_tensor::Validate;
    let e = config().with_latent_dim(0).validate().unwrap_err();
    assert_eq!((e.config, e.field.as_str()), ("FVaeConfig", "latent_dim"));
    let e = config().with_base_channels(vec![0]).validate().unwrap_err();
    assert!(e.field.starts_with("base_channels"), "{e}");
    let e = config()
        .with_flow(GlowConfig::new([1, 6, 6]).with_levels(2))
        .validate()
        .unwrap_err();
    assert!(e.field.starts_with("flow."), "{e}");
}

#[test]
fn task_test_bpd_is_the_elbo_in_bits_per_dim_with_fixed_noise() {
    let _serial = crate::common::serial();
    use deepgen_distributions::noise;
    use deepgen_flows::tasks::fvae::FVaeTask;
    use deepgen_flows::tasks::image::pixel_levels;
    use deepgen_flows::{bits_per_dim, dequantize};
    use deepgen_tensor::Stream;

    let dev = Device::flex();
    let model = perturb(
        config()
            .with_flow(
                GlowConfig::new([1, 8, 8])
                    .with_levels(2)
                    .with_steps_per_level(1)
                    .with_hidden_channels(6),
            )
            .init(&dev),
        0.3,
    );
    let (train, test) = (
        crate::image_task::synthetic(32, 1),
        crate::image_task::synthetic(7, 2),
    );
    let seed = 9;
    let task = FVaeTask::new(train, test.clone(), 8, L, 7, seed).unwrap();
    let got = task.test_bpd_elbo(&model, &dev).unwrap();
    // Independently: the same noise stream, dequantisation then ε, one chunk.
    let mut rng = HostRng::stream(seed, Stream::EvalNoise);
    let idx: Vec<usize> = (0..7).collect();
    let x = dequantize(pixel_levels(&test, &idx, &dev), &mut rng);
    let eps = noise::standard_normal(&mut rng, [7, L], &dev);
    let elbo = host(model.terms_with_noise(x, eps).elbo());
    let expected: f64 = elbo
        .iter()
        .map(|lp| -(lp - 64.0 * 256f64.ln()) / (64.0 * 2f64.ln()))
        .sum::<f64>()
        / 7.0;
    // f32 bits/dim summed in f64 on both sides: relative agreement.
    assert!(
        (got - expected).abs() <= 1e-6 * expected.abs().max(1.0),
        "{got} vs {expected}"
    );
    // And bits_per_dim agrees with the formula used above.
    let check = host(bits_per_dim(
        Tensor::<1>::from_data(
            burn::tensor::TensorData::new(vec![elbo[0] as f32], [1]),
            &dev,
        ),
        64,
    ));
    let formula = -(elbo[0] - 64.0 * 256f64.ln()) / (64.0 * 2f64.ln());
    assert!((check[0] - formula).abs() <= 1e-6 * formula.abs().max(1.0));
}

/// `fvae_mnist` end to end on 64 bundled MNIST images: one short epoch, then 16 decoder
/// samples at T = 0.7 and 1.0 (and the extra 0.5 and 0.65) scored by the bundled classifier;
/// `eval.json` holds the bound, the Fréchet distances and the label statistics,
/// `samples_t0.7.npy` (and the extra temperatures' files) the images in [0, 1]; the ex-post
/// Gaussian's samples, scores and fit (`expost_prior.json`) are written.
#[test]
fn fvae_run_scores_its_samples_in_eval_json() {
    let _serial = crate::common::serial();
    use clap::Parser;
    use deepgen_flows::tasks::fvae::{FVaeArgs, run};
    use deepgen_train::CommonArgs;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        fvae: FVaeArgs,
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let cli = Cli::parse_from([
        "fvae_mnist",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--train-images",
        "64",
        "--test-images",
        "16",
        "--latent",
        "4",
        "--steps",
        "1",
        "--hidden",
        "8",
        "--fd-samples",
        "16",
        "--num-samples",
        "4",
        "--extra-temperatures",
        "0.5,0.65",
        "--out",
        out.to_str().unwrap(),
    ]);
    run(&cli.common, &cli.fvae).unwrap();
    let text = std::fs::read_to_string(out.join("eval.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let number = |k: &str| {
        json.get(k)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or_else(|| panic!("{k} missing or not a number in {text}"))
    };
    assert!(number("test_bpd_elbo").is_finite() && number("test_bpd_elbo") > 0.0);
    for t in ["t0.7", "t1.0", "t0.5", "t0.65"] {
        assert!(number(&format!("fd_{t}")) > 0.0, "{t}");
        let balance = number(&format!("label_balance_{t}"));
        assert!((0.0..=1.0).contains(&balance), "{t}: {balance}");
        assert_eq!(number(&format!("non_finite_samples_{t}")), 0.0, "{t}");
    }
    assert_eq!(number("fd_samples"), 16.0);
    let accuracy = number("reconstruction_label_accuracy_t0.7");
    assert!((0.0..=1.0).contains(&accuracy), "{accuracy}");
    assert!(out.join("reconstructions.png").exists());
    // The aggregate posterior's variance and the ex-post mixture's samples and fit.
    assert!(number("aggregate_posterior_variance") > 0.0);
    assert!(number("active_latent_dimensions") <= 4.0);
    assert!(number("expost_fd_t0.7") > 0.0);
    assert!((0.0..=1.0).contains(&number("expost_label_balance_t0.7")));
    assert_eq!(number("latent_temperature"), 1.0);
    let prior: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("expost_prior.json")).unwrap())
            .unwrap();
    // The default ex-post prior: a 30-component mixture over the 4-D codes, sampled at 0.7.
    assert_eq!(number("expost_components"), 30.0);
    assert_eq!(number("expost_code_temperature"), 0.7);
    let mixture = &prior["mixture"];
    let weights: Vec<f64> = mixture["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_f64().unwrap())
        .collect();
    assert_eq!(weights.len(), 30);
    assert!(
        (weights.iter().sum::<f64>() - 1.0).abs() < 1e-9,
        "{weights:?}"
    );
    assert_eq!(mixture["means"][29].as_array().unwrap().len(), 4);
    assert_eq!(mixture["covariances"][29].as_array().unwrap().len(), 16);
    for file in [
        "samples_t0.7.npy",
        "samples_t0.5.npy",
        "samples_t0.65.npy",
        "samples_expost_t0.7.npy",
    ] {
        let (shape, data) = deepgen_tensor::output::read_npy_f32(&out.join(file)).unwrap();
        assert_eq!(shape, vec![16, 1, 28, 28], "{file}");
        assert!(data.iter().all(|v| (0.0..=1.0).contains(v)), "{file}");
    }
    assert!(
        !out.join("samples_t1.0.npy").exists(),
        "T = 1 is scored, not written"
    );
    // A temperature that is not a positive number is refused by the parser.
    assert!(Cli::try_parse_from(["fvae_mnist", "--extra-temperatures", "0.5,-1"]).is_err());
}

/// `sample_pixels` calls `draw` in chunks of at most `chunk`, clamps to [0, 1] and counts
/// (and zeroes) non-finite values.
#[test]
fn sample_pixels_chunks_clamps_and_counts_non_finite_values() {
    let _serial = crate::common::serial();
    use deepgen_flows::tasks::image::sample_pixels;

    let dev = Device::flex();
    let mut sizes = Vec::new();
    let values = [-0.5f32, 0.25, f32::NAN, 2.0, f32::INFINITY];
    let mut next = 0usize;
    let mut rng = HostRng::seed_from_u64(0);
    let (pixels, non_finite) = sample_pixels(5, 2, &mut rng, |m, _| {
        sizes.push(m);
        let v: Vec<f32> = (0..m).map(|i| values[next + i]).collect();
        next += m;
        Tensor::from_data(burn::tensor::TensorData::new(v, [m, 1, 1, 1]), &dev)
    })
    .unwrap();
    assert_eq!(sizes, vec![2, 2, 1]);
    assert_eq!(pixels, vec![0.0, 0.25, 0.0, 1.0, 0.0]);
    assert_eq!(non_finite, 2);
}

/// The host Cholesky behind the f-VAE's ex-post Gaussian: `L` of a hand-checkable matrix
/// (`[[4, 2, −2], [2, 10, 1], [−2, 1, 9]]` = `L·Lᵀ` with `L = [[2, 0, 0], [1, 3, 0], [−1, 2/3,
/// √(8 − 4/9)]]`), `L·Lᵀ` reproduces a random SPD matrix, and a non-positive-definite matrix
/// gives `None`.
#[test]
fn cholesky_factors_spd_matrices_and_rejects_the_rest() {
    use deepgen_flows::linalg::cholesky;
    let a = [4.0, 2.0, -2.0, 2.0, 10.0, 1.0, -2.0, 1.0, 9.0];
    let l = cholesky(&a, 3).unwrap();
    let expected = [
        2.0,
        0.0,
        0.0,
        1.0,
        3.0,
        0.0,
        -1.0,
        2.0 / 3.0,
        (8.0f64 - 4.0 / 9.0).sqrt(),
    ];
    for (g, e) in l.iter().zip(&expected) {
        assert!((g - e).abs() < 1e-12, "{l:?}");
    }
    // B·Bᵀ + I for a fixed B, n = 6.
    let n = 6;
    let b: Vec<f64> = (0..n * n)
        .map(|i| ((i * 7 + 3) % 11) as f64 / 5.0 - 1.0)
        .collect();
    let mut spd = vec![0.0; n * n];
    for r in 0..n {
        for c in 0..n {
            spd[r * n + c] = (0..n).map(|j| b[r * n + j] * b[c * n + j]).sum::<f64>()
                + if r == c { 1.0 } else { 0.0 };
        }
    }
    let l = cholesky(&spd, n).unwrap();
    for r in 0..n {
        for c in 0..n {
            let v: f64 = (0..n).map(|j| l[r * n + j] * l[c * n + j]).sum();
            assert!((v - spd[r * n + c]).abs() < 1e-10, "({r}, {c})");
        }
    }
    assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
}
