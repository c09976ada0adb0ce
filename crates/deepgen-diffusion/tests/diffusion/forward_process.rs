//! The forward process: `add_noise` on any rank, `q(x_t | x_0)` and the posterior against Bayes'
//! rule.

use deepgen_diffusion::ScheduleTerm;
use deepgen_tensor::rng::HostRng;

use crate::common::{assert_close, device, host, linear_1000, normals, tensor, timesteps};

#[test]
fn add_noise_matches_the_reference() {
    let _serial = crate::common::serial();
    // golden.py: X_T = √ᾱ x0 + √(1 − ᾱ) ε at t = [10, 500, 990].
    let dev = device();
    let s = linear_1000();
    let x0 = tensor(&[0.5, -1.0, 0.25, 0.75, -0.3, 0.9], [3, 2], &dev);
    let eps = tensor(&[0.1, 0.2, -1.5, 0.3, 0.7, -0.4], [3, 2], &dev);
    let xt = s.add_noise(x0, eps, timesteps(&[10, 500, 990], &dev));
    let expected = [
        0.5041347463037098,
        -0.9895358757984679,
        -1.3707411526853355,
        0.4972846492445817,
        0.6978966034901335,
        -0.393730925874,
    ];
    assert_close(&host(xt), &expected, 1e-6, 1e-6, "x_t");
}

#[test]
fn add_noise_broadcasts_over_images() {
    let _serial = crate::common::serial();
    let dev = device();
    let s = linear_1000();
    let mut rng = HostRng::seed_from_u64(1);
    let shape = [3, 2, 4, 5];
    let n: usize = shape.iter().product();
    let (x0v, epsv) = (normals(&mut rng, n), normals(&mut rng, n));
    let ts = [999usize, 0, 321];
    let xt = s.add_noise(
        tensor(&x0v, shape, &dev),
        tensor(&epsv, shape, &dev),
        timesteps(&ts, &dev),
    );
    assert_eq!(xt.dims(), shape);
    let per = n / 3;
    let expected: Vec<f64> = (0..n)
        .map(|i| {
            let ab = s.alpha_bar()[ts[i / per]];
            ab.sqrt() * x0v[i] + (1.0 - ab).sqrt() * epsv[i]
        })
        .collect();
    assert_close(&host(xt), &expected, 1e-5, 1e-6, "x_t");
}

#[test]
fn q_sample_moments_are_the_marginal() {
    let _serial = crate::common::serial();
    let dev = device();
    let s = linear_1000();
    let ts = [3usize, 700];
    let m = s.q_sample_moments(
        tensor(&[1.0, -2.0, 0.5, 4.0], [2, 2], &dev),
        timesteps(&ts, &dev),
    );
    let ab: Vec<f64> = ts.iter().map(|&t| s.alpha_bar()[t]).collect();
    assert_close(
        &host(m.mean),
        &[
            ab[0].sqrt(),
            -2.0 * ab[0].sqrt(),
            0.5 * ab[1].sqrt(),
            4.0 * ab[1].sqrt(),
        ],
        1e-6,
        0.0,
        "mean",
    );
    assert_eq!(m.variance.dims(), [2, 1]);
    assert_close(
        &host(m.variance),
        &[1.0 - ab[0], 1.0 - ab[1]],
        1e-5,
        0.0,
        "var",
    );
    assert_close(
        &host(m.log_variance),
        &[(1.0 - ab[0]).ln(), (1.0 - ab[1]).ln()],
        1e-6,
        0.0,
        "log var",
    );
}

/// `q(x_{t−1} | x_t, x_0) ∝ q(x_t | x_{t−1}) q(x_{t−1} | x_0)`, product of two Gaussians in
/// `x_{t−1}`: precision `α_t/β_t + 1/(1 − ᾱ_{t−1})`, mean
/// `var·(√α_t x_t/β_t + √ᾱ_{t−1} x_0/(1 − ᾱ_{t−1}))`.
#[test]
fn posterior_is_bayes_rule() {
    let _serial = crate::common::serial();
    let dev = device();
    let s = linear_1000();
    let ts = [1usize, 2, 100, 999];
    let x0 = [0.3, -0.8, 1.5, 0.0];
    let xt = [1.1, 0.4, -2.0, 0.7];
    let post = s.q_posterior(
        tensor(&x0, [4, 1], &dev),
        tensor(&xt, [4, 1], &dev),
        timesteps(&ts, &dev),
    );
    let (mut mean, mut var) = (vec![], vec![]);
    for (i, &t) in ts.iter().enumerate() {
        let (b, a) = (s.betas()[t], 1.0 - s.betas()[t]);
        let ab_prev = s.alpha_bar()[t - 1];
        let v = 1.0 / (a / b + 1.0 / (1.0 - ab_prev));
        mean.push(v * (a.sqrt() * xt[i] / b + ab_prev.sqrt() * x0[i] / (1.0 - ab_prev)));
        var.push(v);
    }
    assert_close(&host(post.mean), &mean, 1e-5, 1e-6, "μ̃");
    assert_close(&host(post.variance), &var, 1e-5, 0.0, "β̃");
    let logv: Vec<f64> = var.iter().map(|v| v.ln()).collect();
    assert_close(&host(post.log_variance), &logv, 1e-6, 0.0, "ln β̃");
}

#[test]
fn posterior_at_t0_is_the_data_with_clipped_log_variance() {
    let _serial = crate::common::serial();
    let dev = device();
    let s = linear_1000();
    let post = s.q_posterior(
        tensor(&[0.25, -0.5], [1, 2], &dev),
        tensor(&[3.0, 3.0], [1, 2], &dev),
        timesteps(&[0], &dev),
    );
    assert_close(&host(post.mean), &[0.25, -0.5], 1e-6, 0.0, "mean");
    assert_eq!(host(post.variance), vec![0.0]);
    let l1 = s.values(ScheduleTerm::PosteriorVariance)[1].ln();
    assert_close(&host(post.log_variance), &[l1], 1e-6, 0.0, "ln β̃_1");
}

#[test]
#[should_panic(expected = "the batch has 2 samples but t has 3 timesteps")]
fn add_noise_checks_the_batch() {
    let _serial = crate::common::serial();
    let dev = device();
    let s = linear_1000();
    let x = tensor(&[0.0; 4], [2, 2], &dev);
    s.add_noise(x.clone(), x, timesteps(&[1, 2, 3], &dev));
}
