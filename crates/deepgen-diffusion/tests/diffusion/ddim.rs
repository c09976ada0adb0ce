//! DDIM: one step against diffusers, determinism at η = 0, η = 1 = DDPM, the inversion round
//! trip, and the deterministic map for Gaussian data.

use burn::tensor::Tensor;
use deepgen_diffusion::{
    DdimConfig, DdpmConfig, Prediction, SampleClipping, SamplerState, Scheduler, Spacing,
    run_sampler,
};
use deepgen_tensor::rng::HostRng;

use crate::common::{
    assert_close, device, devices, gaussian_eps, host, linear_1000, normals, tensor,
};
use crate::ddpm::{OUT, X, Z};

fn one_step(config: DdimConfig, index: usize, dev: &burn::tensor::Device) -> Vec<f64> {
    let s = linear_1000();
    let ddim = config.init(&s);
    let out = ddim.step(
        &mut SamplerState::new(),
        tensor(&OUT, [2, 3], dev),
        index,
        tensor(&X, [2, 3], dev),
        Some(tensor(&Z, [2, 3], dev)),
    );
    host(out.prev_sample)
}

/// Linear T = 1000, leading spacing with n = 10, step 3 goes from t = 600 to t = 500.
#[test]
fn one_step_matches_diffusers() {
    let _serial = crate::common::serial();
    let base = || DdimConfig::new(10);
    for (name, dev) in devices() {
        // golden.py: DDIM_ETA0_EPS
        assert_close(
            &one_step(base(), 3, &dev),
            &[
                0.7960202634153004,
                -1.7885921360814814,
                -0.4667756868439279,
                3.641042914093351,
                -1.678014663314404,
                0.924981468141006,
            ],
            1e-5,
            1e-5,
            &format!("{name}: η = 0"),
        );
    }
    let dev = device();
    // golden.py: DDIM_ETA05_EPS
    assert_close(
        &one_step(base().with_eta(0.5), 3, &dev),
        &[
            0.6677941597171018,
            -1.4351079889511649,
            -0.49965729138010806,
            3.0605387162617372,
            -1.5705598133599654,
            1.4188020697619412,
        ],
        1e-5,
        1e-5,
        "η = 0.5",
    );
    // golden.py: DDIM_ETA1_V
    assert_close(
        &one_step(
            base()
                .with_eta(1.0)
                .with_prediction(Prediction::VPrediction),
            3,
            &dev,
        ),
        &[
            0.02853795200041051,
            0.02562828198799727,
            0.08479901689802347,
            -0.011161369527108445,
            -0.19626973579028167,
            1.034430037996993,
        ],
        1e-5,
        1e-5,
        "η = 1, v",
    );
    // golden.py: DDIM_ETA0_EPS_CLIP (ε recomputed from the clipped x̂₀)
    assert_close(
        &one_step(
            base().with_clipping(SampleClipping::Clip { range: 1.0 }),
            3,
            &dev,
        ),
        &[
            0.6097819691038647,
            -1.2907637672063004,
            0.1684829430132047,
            2.06902867932337,
            -0.804348197133132,
            0.17200795603801317,
        ],
        1e-5,
        1e-5,
        "η = 0, clipped",
    );
    // golden.py: DDIM_LAST_NOT_ONE (set_alpha_to_one = false: the last step from t = 0 stays at
    // ᾱ_0, so it is the identity)
    assert_close(
        &one_step(base().with_set_alpha_to_one(false), 9, &dev),
        &X,
        1e-6,
        1e-6,
        "last step, ᾱ_prev = ᾱ_0",
    );
}

#[test]
fn eta_zero_is_deterministic_and_eta_one_is_ddpm() {
    let _serial = crate::common::serial();
    let dev = device();
    let s = linear_1000();
    let ddim = DdimConfig::new(10).init(&s);
    assert!((0..10).all(|i| !ddim.step_uses_noise(i)));
    let step = |noise: Option<Tensor<2>>| {
        host(
            ddim.step(
                &mut SamplerState::new(),
                tensor(&OUT, [2, 3], &dev),
                3,
                tensor(&X, [2, 3], &dev),
                noise,
            )
            .prev_sample,
        )
    };
    assert_eq!(step(None), step(Some(tensor(&Z, [2, 3], &dev))));

    let ddim1 = DdimConfig::new(10)
        .with_eta(1.0)
        .with_spacing(Spacing::Trailing)
        .init(&s);
    let ddpm = DdpmConfig::new(10).with_spacing(Spacing::Trailing).init(&s);
    for i in 0..9 {
        let (a, b) = (ddim1.variances()[i], ddpm.variances()[i]);
        assert!((a - b).abs() < 1e-14, "σ² at step {i}: {a} vs {b}");
        let x = || tensor(&X, [2, 3], &dev);
        let o = || tensor(&OUT, [2, 3], &dev);
        let z = || Some(tensor(&Z, [2, 3], &dev));
        let a = host(
            ddim1
                .step(&mut SamplerState::new(), o(), i, x(), z())
                .prev_sample,
        );
        let b = host(
            ddpm.step(&mut SamplerState::new(), o(), i, x(), z())
                .prev_sample,
        );
        assert_close(&a, &b, 1e-4, 1e-4, &format!("η = 1 vs DDPM at step {i}"));
    }
}

/// Data that is one point `x*`: the exact ε-model is `ε = (x_t − √ᾱ x*)/√(1 − ᾱ)`, under which
/// every DDIM step keeps `ε` and predicts `x̂₀ = x*`. Encoding `x` at the lowest kept level up
/// to `x_T` and decoding back returns `x` (to f32 rounding), and the last step gives `x*`.
#[test]
fn inversion_round_trips_with_an_exact_model() {
    let _serial = crate::common::serial();
    let dev = device();
    let s = linear_1000();
    let x_star = [0.3, -0.6, 0.9, 0.1];
    let eps_model = |x: Tensor<2>, t: usize| {
        let ab = s.alpha_bar()[t];
        (x - tensor(&x_star, [1, 4], &dev).mul_scalar(ab.sqrt())).div_scalar((1.0 - ab).sqrt())
    };
    for spacing in [Spacing::Leading, Spacing::Trailing, Spacing::Quadratic] {
        let ddim = DdimConfig::new(20).with_spacing(spacing).init(&s);
        let ts = ddim.timesteps().to_vec();
        let n = ts.len();
        let mut rng = HostRng::seed_from_u64(3);
        let lowest = ts[n - 1];
        let ab = s.alpha_bar()[lowest];
        let e0 = normals(&mut rng, 8);
        let start: Vec<f64> = (0..8)
            .map(|i| ab.sqrt() * x_star[i % 4] + (1.0 - ab).sqrt() * e0[i])
            .collect();
        // Encode: invert steps n−2 … 0 (from the lowest kept level up to ts[0]).
        let mut x = tensor(&start, [2, 4], &dev);
        for i in (0..n - 1).rev() {
            let out = eps_model(x.clone(), ddim.inversion_model_timestep(i));
            x = ddim.invert_step(out, i, x).prev_sample;
        }
        // Decode: steps 0 … n−2 come back to the lowest kept level.
        let mut state = SamplerState::new();
        for (i, &t) in ts.iter().enumerate().take(n - 1) {
            let out = eps_model(x.clone(), t);
            x = ddim.step(&mut state, out, i, x, None).prev_sample;
        }
        assert_close(
            &host(x.clone()),
            &start,
            1e-4,
            1e-4,
            &format!("{spacing:?}: x round trip"),
        );
        let out = eps_model(x.clone(), lowest);
        let last = ddim.step(&mut state, out, n - 1, x, None).prev_sample;
        let expected: Vec<f64> = (0..8).map(|i| x_star[i % 4]).collect();
        assert_close(
            &host(last),
            &expected,
            1e-4,
            1e-4,
            &format!("{spacing:?}: x*"),
        );
    }
}

#[test]
fn inversion_from_clean_data_is_the_forward_ddim_map() {
    let _serial = crate::common::serial();
    // From the clean level with an ε-model that ignores x (ε̂ ≡ e), inverting the last step gives
    // √ᾱ x + √(1 − ᾱ) e at the lowest kept timestep: add_noise.
    let dev = device();
    let s = linear_1000();
    let ddim = DdimConfig::new(10).with_spacing(Spacing::Trailing).init(&s);
    let x = [0.2, -0.4, 0.6];
    let e = [1.0, 0.5, -2.0];
    let up = ddim.invert_step(tensor(&e, [1, 3], &dev), 9, tensor(&x, [1, 3], &dev));
    let ab = s.alpha_bar()[99];
    let expected: Vec<f64> = (0..3)
        .map(|i| ab.sqrt() * x[i] + (1.0 - ab).sqrt() * e[i])
        .collect();
    assert_close(&host(up.prev_sample), &expected, 1e-6, 1e-6, "x_99");
    assert_eq!(ddim.inversion_model_timestep(9), 99);
    assert_eq!(ddim.inversion_model_timestep(3), 599);
}

/// With the exact ε-model of Gaussian data the η = 0 sampler is an affine map `x_T ↦ A x_T + B`
/// (checked on every sample); with 1000 steps it carries `N(0, 1)` to nearly `N(μ, s²)`.
#[test]
fn gaussian_data_deterministic_map() {
    let _serial = crate::common::serial();
    let dev = device();
    let sched = linear_1000();
    let (mu, sd) = (0.7, 0.4);
    let ddim = DdimConfig::new(1000).init(&sched);
    let run = |x: Tensor<2>| {
        run_sampler(
            &ddim,
            x,
            |x, t| gaussian_eps(&sched, x, t, mu, sd),
            |_| None,
        )
    };
    let ends = host(run(tensor(&[0.0, 1.0], [2, 1], &dev)));
    let (b, a) = (ends[0], ends[1] - ends[0]);
    let mut rng = HostRng::seed_from_u64(5);
    let x_t = normals(&mut rng, 64);
    let got = host(run(tensor(&x_t, [16, 4], &dev)));
    let expected: Vec<f64> = x_t.iter().map(|x| a * x + b).collect();
    assert_close(&got, &expected, 1e-4, 1e-4, "affine map");
    // golden-free check of the law: mean within 0.005 (x_T's mean is √ᾱ_T μ ≠ 0, not
    // modelled), variance within 2 % (first-order discretisation error).
    assert!((b - mu).abs() < 5e-3, "mean {b}");
    assert!(
        (a * a - sd * sd).abs() < 0.02 * sd * sd,
        "variance {}",
        a * a
    );
}

#[test]
fn explicit_timesteps_are_any_subsequence() {
    let _serial = crate::common::serial();
    let dev = device();
    let s = linear_1000();
    let ddim = DdimConfig::new(1)
        .try_init_with_timesteps(&s, &[999, 500, 20])
        .unwrap();
    assert_eq!(ddim.timesteps(), [999, 500, 20]);
    // Step 1 goes from 500 to 20: x' = √ᾱ_20 x̂₀ + √(1 − ᾱ_20) ε̂ (η = 0).
    let out = ddim.step(
        &mut SamplerState::new(),
        tensor(&OUT, [2, 3], &dev),
        1,
        tensor(&X, [2, 3], &dev),
        None,
    );
    let (a5, a2) = (s.alpha_bar()[500], s.alpha_bar()[20]);
    let expected: Vec<f64> = (0..6)
        .map(|i| {
            let x0 = (X[i] - (1.0 - a5).sqrt() * OUT[i]) / a5.sqrt();
            a2.sqrt() * x0 + (1.0 - a2).sqrt() * OUT[i]
        })
        .collect();
    assert_close(&host(out.prev_sample), &expected, 1e-5, 1e-5, "500 → 20");
    for bad in [&[5usize, 5][..], &[3, 5], &[1000, 3], &[]] {
        let e = DdimConfig::new(1)
            .try_init_with_timesteps(&s, bad)
            .unwrap_err();
        assert_eq!(e.field, "timesteps", "{bad:?}");
    }
    assert!(
        DdpmConfig::new(1)
            .try_init_with_timesteps(&s, &[10, 0])
            .is_ok()
    );
    assert!(
        deepgen_diffusion::DpmSolverConfig::new(1)
            .try_init_with_timesteps(&s, &[10, 0])
            .is_ok()
    );
}
