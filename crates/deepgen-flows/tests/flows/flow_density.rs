//! Flows as densities: the 2-D density integrates to 1, every parameter receives a gradient,
//! ActNorm's data-dependent initialisation (statistics, saved with the model, never repeated
//! after loading), sampling (temperature, log-density along the sampling path), the
//! `Distribution`/`Rsample` view, bits/dim and dequantisation.

use crate::common::bij::{assert_all_params_have_grads, perturb, tensor_r};
use crate::common::{host, max_abs_diff};

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use deepgen_distributions::{Distribution, Rsample};
use deepgen_flows::{
    ActNormConfig, Bijection, CouplingBijection, CouplingFlowConfig, GlowConfig, ImageStep,
    MultiScaleFlow, NormalizingFlow, Preprocess, RealNvpConfig, bits_per_dim, dequantize,
};
use deepgen_tensor::rng::HostRng;

fn points(n: usize, m: usize, scale: f64, seed: u64) -> Vec<f64> {
    let mut rng = HostRng::seed_from_u64(seed);
    (0..n * m).map(|_| scale * rng.normal()).collect()
}

#[test]
fn two_d_flow_densities_integrate_to_one() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    let g = 200;
    let (lo, hi) = (-6.0, 6.0);
    let step = (hi - lo) / g as f64;
    let grid: Vec<f64> = (0..g * g)
        .flat_map(|k| {
            let (i, j) = (k / g, k % g);
            [lo + (i as f64 + 0.5) * step, lo + (j as f64 + 0.5) * step]
        })
        .collect();
    let x = tensor_r(&grid, [g * g, 2], &dev);
    for (name, cfg) in [
        ("nice", CouplingFlowConfig::nice(2, 4)),
        ("realnvp", CouplingFlowConfig::realnvp(2, 4)),
        ("spline", CouplingFlowConfig::spline(2, 4, 8, 4.0)),
    ] {
        dev.seed(1);
        let flow = perturb(cfg.with_hidden(vec![32, 32]).init(&dev), 0.15);
        let lp = host(flow.log_prob(x.clone(), None));
        let mass: f64 = lp.iter().map(|l| l.exp()).sum::<f64>() * step * step;
        // A non-trivial density: not the standard normal any more.
        let std_normal: Vec<f64> = grid
            .chunks(2)
            .map(|p| -0.5 * (p[0] * p[0] + p[1] * p[1]) - (2.0 * std::f64::consts::PI).ln())
            .collect();
        let moved = max_abs_diff(&lp, &std_normal);
        eprintln!("{name}: ∫p = {mass:.5} on [−6, 6]², max |ln p − ln N| = {moved:.3}");
        assert!((mass - 1.0).abs() < 1e-2, "{name}: mass {mass}");
        assert!(
            moved > 0.05,
            "{name}: the perturbed flow must differ from N(0, I)"
        );
    }
}

#[test]
fn every_parameter_receives_a_gradient() {
    let _serial = crate::common::serial();
    let ad = Device::flex().autodiff();
    let mut rng = HostRng::seed_from_u64(2);
    let ctx = tensor_r(&points(4, 3, 1.0, 3), [4, 3], &ad);
    for (name, cfg) in [
        ("nice", CouplingFlowConfig::nice(4, 2)),
        (
            "realnvp",
            CouplingFlowConfig::realnvp(4, 2)
                .with_actnorm(true)
                .with_lu_linear(true),
        ),
        ("spline", CouplingFlowConfig::spline(4, 2, 5, 3.0)),
    ] {
        ad.seed(4);
        let flow = perturb(cfg.with_hidden(vec![8]).with_context_dim(3).init(&ad), 0.3);
        let x = tensor_r(&points(4, 4, 1.0, 5), [4, 4], &ad);
        let loss = flow.log_prob(x, Some(&ctx)).mean().neg()
            + flow.rsample(4, Some(&ctx), &mut rng).square().mean();
        assert_all_params_have_grads(name, &flow, &loss.backward());
    }
    let u: Vec<f64> = points(4, 16, 1.0, 6)
        .iter()
        .map(|v| 0.5 + 0.2 * v.tanh())
        .collect();
    let images = tensor_r(&u, [4, 1, 4, 4], &ad);
    let flows: Vec<(&str, MultiScaleFlow)> = vec![
        (
            "realnvp",
            RealNvpConfig::new([1, 4, 4])
                .with_levels(2)
                .with_checkerboard_steps(1)
                .with_channel_steps(1)
                .with_final_steps(2)
                .with_hidden_channels(4)
                .with_actnorm(true)
                .with_context_dim(3)
                .init(&ad),
        ),
        (
            "glow-lu",
            GlowConfig::new([1, 4, 4])
                .with_levels(2)
                .with_steps_per_level(1)
                .with_hidden_channels(4)
                .with_context_dim(3)
                .init(&ad),
        ),
        (
            "glow-plain-spline",
            GlowConfig::new([1, 4, 4])
                .with_levels(2)
                .with_steps_per_level(1)
                .with_hidden_channels(4)
                .with_lu_decomposed(false)
                .with_coupling(CouplingBijection::spline(4, 3.0))
                .with_preprocess(Preprocess::Logit(0.05))
                .with_context_dim(3)
                .init(&ad),
        ),
    ];
    for (name, flow) in flows {
        let flow = perturb(flow, 0.1);
        let loss = flow.log_prob(images.clone(), Some(&ctx)).mean().neg()
            + flow.rsample(4, Some(&ctx), &mut rng).square().mean();
        assert_all_params_have_grads(name, &flow, &loss.backward());
    }
}

#[test]
fn actnorm_data_dependent_init_standardises_each_channel() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    let (n, c, h, w) = (8, 3, 4, 4);
    let mut rng = HostRng::seed_from_u64(7);
    let means = [5.0, -2.0, 0.3];
    let stds = [0.1, 3.0, 1.7];
    let mut x = vec![0.0; n * c * h * w];
    for (k, v) in x.iter_mut().enumerate() {
        let ch = (k / (h * w)) % c;
        *v = means[ch] + stds[ch] * rng.normal();
    }
    let act = ActNormConfig::new(c).init(&dev);
    assert!(!act.is_initialized());
    let act = act.initialize(tensor_r(&x, [n, c, h, w], &dev));
    assert!(act.is_initialized());
    let y = host(act.forward(tensor_r(&x, [n, c, h, w], &dev), None));
    for ch in 0..c {
        let vals: Vec<f64> = (0..y.len())
            .filter(|k| (k / (h * w)) % c == ch)
            .map(|k| y[k])
            .collect();
        let m = vals.iter().sum::<f64>() / vals.len() as f64;
        let s = (vals.iter().map(|v| (v - m).powi(2)).sum::<f64>() / vals.len() as f64).sqrt();
        assert!(
            m.abs() < 1e-4 && (s - 1.0).abs() < 1e-3,
            "channel {ch}: mean {m}, std {s}"
        );
    }
    // A second initialize is a no-op.
    let again = act
        .clone()
        .initialize(tensor_r(&points(n, c * h * w, 9.0, 8), [n, c, h, w], &dev));
    assert_eq!(host(again.bias.val()), host(act.bias.val()));
    // Vectors too.
    let v = ActNormConfig::new(2).init(&dev).initialize(tensor_r(
        &[1.0, 10.0, 3.0, 20.0],
        [2, 2],
        &dev,
    ));
    let yv = host(v.forward(tensor_r(&[1.0, 10.0, 3.0, 20.0], [2, 2], &dev), None));
    assert!(max_abs_diff(&yv, &[-1.0, -1.0, 1.0, 1.0]) < 1e-4, "{yv:?}");
}

fn small_glow(dev: &Device) -> MultiScaleFlow {
    GlowConfig::new([1, 4, 4])
        .with_levels(2)
        .with_steps_per_level(2)
        .with_hidden_channels(8)
        .init(dev)
}

fn actnorm_flags(flow: &MultiScaleFlow) -> Vec<bool> {
    flow.levels
        .iter()
        .flat_map(|l| l.steps.iter())
        .filter_map(|s| match s {
            ImageStep::ActNorm(a) => Some(a.is_initialized()),
            _ => None,
        })
        .collect()
}

#[test]
fn actnorm_initialisation_is_saved_and_never_repeated_after_loading() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    dev.seed(9);
    let u: Vec<f64> = points(6, 16, 1.0, 10)
        .iter()
        .map(|v| 0.5 + 0.3 * v.tanh())
        .collect();
    let x = tensor_r(&u, [6, 1, 4, 4], &dev);
    let flow = small_glow(&dev);
    assert!(actnorm_flags(&flow).iter().all(|f| !f));
    let before = host(flow.log_prob(x.clone(), None));
    let flow = flow.initialize_actnorm(x.clone(), None);
    assert!(actnorm_flags(&flow).iter().all(|&f| f));
    let want = host(flow.log_prob(x.clone(), None));
    assert!(
        max_abs_diff(&want, &before) > 1e-2,
        "initialisation must change the density"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("glow.bpk");
    flow.clone().save_file(&path).expect("save");

    dev.seed(123);
    let fresh = small_glow(&dev);
    let loaded = fresh.try_load_file(&path).expect("load");
    assert!(
        actnorm_flags(&loaded).iter().all(|&f| f),
        "the flag must come back from the record"
    );
    let got = host(loaded.log_prob(x.clone(), None));
    assert_eq!(got, want, "a loaded model gives the same log_prob");

    // The trainer's first-step hook calls initialize_actnorm on whatever batch it has: a
    // loaded model must ignore it.
    let other = tensor_r(
        &points(6, 16, 1.0, 11)
            .iter()
            .map(|v| 0.2 + 0.1 * v.tanh())
            .collect::<Vec<_>>(),
        [6, 1, 4, 4],
        &dev,
    );
    let again = loaded.initialize_actnorm(other, None);
    assert_eq!(
        host(again.log_prob(x, None)),
        want,
        "no re-initialisation after loading"
    );
}

#[test]
fn sampling_temperature_and_the_distribution_view() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    dev.seed(12);
    let flow = perturb(
        RealNvpConfig::new([1, 4, 4])
            .with_levels(2)
            .with_checkerboard_steps(1)
            .with_channel_steps(1)
            .with_final_steps(1)
            .with_hidden_channels(4)
            .init(&dev),
        0.05,
    );
    let mut rng = HostRng::seed_from_u64(13);
    let s = flow.sample(5, None, &mut rng);
    assert_eq!(s.dims(), [5, 1, 4, 4]);
    let sv = host(s);
    // Logit preprocessing: samples lie in the data range (−α/(1−2α), 1 + α/(1−2α)).
    assert!(sv.iter().all(|v| v.is_finite() && *v > -0.06 && *v < 1.06));

    // Temperature 0: every sample is f⁻¹(0).
    let t0 = host(flow.sample_with_temperature(3, 0.0, None, &mut rng));
    let mode = host(flow.inverse(Tensor::zeros([1, 1, 4, 4], &dev), None));
    for r in 0..3 {
        assert!(max_abs_diff(&t0[r * 16..(r + 1) * 16], &mode) < 1e-6);
    }

    // The log-density along the sampling path equals log_prob at the samples.
    let noise = flow.sample_noise(4, 0.7, &mut rng);
    let (x, lp_path) = flow.sample_from_noise(noise, None);
    let lp = flow.log_prob(x, None);
    let e = max_abs_diff(&host(lp_path), &host(lp));
    assert!(e < 2e-3, "sampling-path log p vs log_prob: {e}");

    // Distribution / Rsample view.
    let d = flow.distribution(4, None).with_temperature(0.5);
    assert_eq!(d.shape().event, vec![1, 4, 4]);
    assert_eq!(d.shape().batch, vec![4]);
    let x = d.sample(&mut rng);
    assert_eq!(host(d.log_prob(x.clone())), host(flow.log_prob(x, None)));
    let eps = d.sample_noise(&mut HostRng::seed_from_u64(1));
    let a = host(d.rsample_from_noise(eps.clone()));
    assert_eq!(a, host(flow.inverse(eps, None)));

    // Vector flows too (Value = Tensor<2>).
    let vf = CouplingFlowConfig::realnvp(2, 2).init(&dev);
    let dv = vf.distribution(7, None);
    let _ = (d.device(), dv.device());
    assert_eq!(dv.sample(&mut rng).dims(), [7, 2]);
}

#[test]
fn bits_per_dim_and_dequantisation() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    // ln p(x) = D·ln 256 − 3·D·ln 2 ⇒ 3 bits/dim.
    let d = 784usize;
    let lp = d as f64 * 256f64.ln() - 3.0 * d as f64 * 2f64.ln();
    let bpd = host(bits_per_dim(Tensor::from_floats([lp as f32], &dev), d));
    assert!((bpd[0] - 3.0).abs() < 1e-4, "{bpd:?}");
    // A uniform density on [0, 1]^D (ln p = 0) is 8 bits/dim.
    let bpd = host(bits_per_dim(Tensor::zeros([1], &dev), d));
    assert!((bpd[0] - 8.0).abs() < 1e-5);

    let pixels: Vec<f64> = (0..256).map(|k| k as f64).collect();
    let mut rng = HostRng::seed_from_u64(14);
    let x = host(dequantize(tensor_r(&pixels, [1, 256], &dev), &mut rng));
    for (k, v) in x.iter().enumerate() {
        assert!(
            *v >= k as f64 / 256.0 && *v < (k + 1) as f64 / 256.0,
            "{k}: {v}"
        );
    }
}

#[test]
fn vector_flows_survive_a_record_round_trip() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    dev.seed(15);
    let cfg = CouplingFlowConfig::spline(3, 3, 4, 2.0)
        .with_actnorm(true)
        .with_lu_linear(true)
        .with_final_scaling(true);
    let flow = perturb(cfg.init(&dev), 0.3);
    let x = tensor_r(&points(5, 3, 1.0, 16), [5, 3], &dev);
    let flow = flow.initialize_actnorm(x.clone(), None);
    let want = host(flow.log_prob(x.clone(), None));
    let rec =
        burn::store::ModuleRecord::from_bytes(flow.into_record().into_bytes().unwrap()).unwrap();
    dev.seed(16);
    let loaded = cfg.init(&dev).load_record(rec);
    assert_eq!(host(loaded.log_prob(x, None)), want);
}
