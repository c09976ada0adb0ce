//! Prediction targets (ε, x₀, v), their conversions, min-SNR-γ weights and the loss.

use deepgen_diffusion::{LossWeighting, Prediction, denoising_loss};
use deepgen_tensor::rng::HostRng;

use crate::common::{assert_close, device, host, linear_1000, normals, tensor, timesteps};

const X0: [f64; 6] = [0.5, -1.0, 0.25, 0.75, -0.3, 0.9];
const EPS: [f64; 6] = [0.1, 0.2, -1.5, 0.3, 0.7, -0.4];
const T: [usize; 3] = [10, 500, 990];
// golden.py: V_TARGET = √ᾱ ε − √(1 − ᾱ) x0 at t = [10, 500, 990].
const V: [f64; 6] = [
    0.07647324740910463,
    0.24661457886296828,
    -0.658459332331829,
    -0.6365594847503988,
    0.30486116649539896,
    -0.9027601885386853,
];

#[test]
fn targets_are_noise_sample_and_velocity() {
    let _serial = crate::common::serial();
    let dev = device();
    let s = linear_1000();
    let target = |p: Prediction| {
        host(p.target(
            &s,
            tensor(&X0, [3, 2], &dev),
            tensor(&EPS, [3, 2], &dev),
            timesteps(&T, &dev),
        ))
    };
    assert_close(&target(Prediction::Epsilon), &EPS, 1e-7, 0.0, "ε");
    assert_close(&target(Prediction::Sample), &X0, 1e-7, 0.0, "x₀");
    assert_close(&target(Prediction::VPrediction), &V, 1e-6, 1e-7, "v");
}

/// For each target: the exact output at `x_t` converts back to `x₀`, `ε` and `v`.
#[test]
fn every_target_converts_to_every_other() {
    let _serial = crate::common::serial();
    let dev = device();
    let s = linear_1000();
    let mut rng = HostRng::seed_from_u64(7);
    let shape = [4, 2, 3];
    let n = 24;
    let (x0v, epsv) = (normals(&mut rng, n), normals(&mut rng, n));
    let ts = [0usize, 250, 800, 999];
    let t = || timesteps(&ts, &dev);
    let x0 = || tensor(&x0v, shape, &dev);
    let eps = || tensor(&epsv, shape, &dev);
    let xt = s.add_noise(x0(), eps(), t());
    let v = host(Prediction::VPrediction.target(&s, x0(), eps(), t()));
    for p in [
        Prediction::Epsilon,
        Prediction::Sample,
        Prediction::VPrediction,
    ] {
        let out = p.target(&s, x0(), eps(), t());
        // x₀ from ε divides by √ᾱ_999 ≈ 0.006, ε from x₀ by √(1 − ᾱ_0) = 0.01: f32 rounding
        // of x_t is amplified ~160× there.
        let tol = 2e-4;
        let got = host(p.to_sample(&s, out.clone(), xt.clone(), t()));
        assert_close(&got, &x0v, tol, tol, &format!("{p:?} → x₀"));
        let got = host(p.to_epsilon(&s, out.clone(), xt.clone(), t()));
        assert_close(&got, &epsv, tol, tol, &format!("{p:?} → ε"));
        let got = host(p.to_v(&s, out.clone(), xt.clone(), t()));
        assert_close(&got, &v, tol, tol, &format!("{p:?} → v"));
        // The one-timestep form agrees with the per-sample form.
        let (x0_a, eps_a) = p.split_at(&s, out.clone(), xt.clone(), t());
        let row = |x: burn::tensor::Tensor<3>, i: usize| x.narrow(0, i, 1);
        for (i, &ti) in ts.iter().enumerate() {
            let (x0_b, eps_b) = p.split(row(out.clone(), i), row(xt.clone(), i), s.alpha_bar()[ti]);
            assert_close(
                &host(x0_b),
                &host(row(x0_a.clone(), i)),
                1e-5,
                1e-5,
                "split x₀",
            );
            assert_close(
                &host(eps_b),
                &host(row(eps_a.clone(), i)),
                1e-5,
                1e-5,
                "split ε",
            );
        }
    }
}

#[test]
fn min_snr_weights_per_target() {
    let _serial = crate::common::serial();
    // golden.py: MINSNR_EPS, MINSNR_X0, MINSNR_V with γ = 5 at t = [0, 100, 500, 999].
    let s = linear_1000();
    let w = LossWeighting::MinSnr { gamma: 5.0 };
    let at = |p| {
        let all = w.weights(&s, p);
        vec![all[0], all[100], all[500], all[999]]
    };
    assert_close(
        &at(Prediction::Epsilon),
        &[0.000500050005000445, 0.5857085078424549, 1.0, 1.0],
        1e-10,
        0.0,
        "ε",
    );
    assert_close(
        &at(Prediction::Sample),
        &[5.0, 5.0, 0.0843595494103264, 4.0359926511684205e-05],
        1e-10,
        0.0,
        "x₀",
    );
    assert_close(
        &at(Prediction::VPrediction),
        &[
            0.0004999999999999449,
            0.5242920455123173,
            0.07779665836502389,
            4.035829765375676e-05,
        ],
        1e-10,
        0.0,
        "v",
    );
    // The three weights put the same weight on the x₀-space error:
    // w_ε·SNR = w_x₀ = w_v·(SNR + 1) = min(SNR, γ).
    for (t, &snr) in s.snr().iter().enumerate() {
        let target = snr.min(5.0);
        assert!((w.weight(snr, Prediction::Epsilon) * snr - target).abs() < 1e-9 * target.max(1.0));
        assert!(
            (w.weight(snr, Prediction::Sample) - target).abs() < 1e-12,
            "t = {t}"
        );
        assert!(
            (w.weight(snr, Prediction::VPrediction) * (snr + 1.0) - target).abs()
                < 1e-9 * target.max(1.0)
        );
    }
    for p in [
        Prediction::Epsilon,
        Prediction::Sample,
        Prediction::VPrediction,
    ] {
        assert!(
            LossWeighting::Uniform
                .weights(&s, p)
                .iter()
                .all(|&w| w == 1.0)
        );
    }
}

#[test]
fn weights_gather_on_device() {
    let _serial = crate::common::serial();
    let dev = device();
    let s = linear_1000();
    let w = LossWeighting::MinSnr { gamma: 5.0 };
    let got = host(w.gather(&s, Prediction::Epsilon, timesteps(&[999, 0, 100], &dev)));
    assert_close(
        &got,
        &[1.0, 0.000500050005000445, 0.5857085078424549],
        1e-6,
        0.0,
        "w",
    );
}

#[test]
fn denoising_loss_is_the_weighted_mean_square_error() {
    let _serial = crate::common::serial();
    let dev = device();
    let s = linear_1000();
    let ts = [0usize, 500];
    let x0 = [0.1, 0.2, 0.3, 0.4, -0.1, -0.2, -0.3, -0.4];
    let eps = [1.0, -1.0, 0.5, 0.0, 0.2, 0.3, -0.7, 0.9];
    let delta = [0.1, -0.2, 0.0, 0.3, 0.5, 0.5, -0.5, 0.1];
    let out: Vec<f64> = eps.iter().zip(delta).map(|(e, d)| e + d).collect();
    let mse = [
        (0.01 + 0.04 + 0.0 + 0.09) / 4.0,
        (0.25 + 0.25 + 0.25 + 0.01) / 4.0,
    ];
    for weighting in [LossWeighting::Uniform, LossWeighting::MinSnr { gamma: 5.0 }] {
        let loss = denoising_loss(
            &s,
            Prediction::Epsilon,
            &weighting,
            tensor(&out, [2, 2, 2], &dev),
            tensor(&x0, [2, 2, 2], &dev),
            tensor(&eps, [2, 2, 2], &dev),
            timesteps(&ts, &dev),
        );
        let w = weighting.weights(&s, Prediction::Epsilon);
        let expected = [mse[0] * w[0], mse[1] * w[500]];
        assert_close(
            &host(loss),
            &expected,
            1e-5,
            1e-9,
            &format!("{weighting:?}"),
        );
    }
}
