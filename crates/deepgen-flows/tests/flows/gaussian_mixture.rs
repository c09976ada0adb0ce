//! The ex-post Gaussian mixture: EM recovers known mixtures, k = 1 is the sample mean and
//! covariance, the density is normalised and matches the closed form, EM's likelihood never
//! decreases, and bad input is rejected by name.

use deepgen_flows::{GaussianMixture, GaussianMixtureFit};
use deepgen_tensor::HostRng;

/// `n` draws of `Σ w_j N(μ_j, Σ_j)` built with `GaussianMixture::new`, and the mixture.
fn two_clusters() -> GaussianMixture {
    GaussianMixture::new(
        vec![0.3, 0.7],
        vec![vec![-4.0, 1.0], vec![3.0, -2.0]],
        vec![vec![1.0, 0.5, 0.5, 2.0], vec![0.5, -0.2, -0.2, 1.5]],
    )
    .unwrap()
}

#[test]
fn em_recovers_two_separated_clusters() {
    let truth = two_clusters();
    let mut rng = HostRng::seed_from_u64(3);
    let n = 4000;
    let data = truth.sample(n, &mut rng);
    let fit = GaussianMixture::fit(&data, n, 2, &GaussianMixtureFit::new(2), &mut rng).unwrap();
    assert!(fit.converged, "{} iterations", fit.iterations);
    // Match components by their first mean coordinate.
    let order: Vec<usize> = if fit.means[0][0] < fit.means[1][0] {
        vec![0, 1]
    } else {
        vec![1, 0]
    };
    for (t, &j) in order.iter().enumerate() {
        // Standard errors: weight √(0.21/4000) ≈ 0.007; mean ≤ √(2/1200) ≈ 0.04; tolerances ≈ 4–5 SE.
        assert!(
            (fit.weights[j] - truth.weights[t]).abs() < 0.03,
            "{:?}",
            fit.weights
        );
        for a in 0..2 {
            assert!(
                (fit.means[j][a] - truth.means[t][a]).abs() < 0.15,
                "{:?}",
                fit.means
            );
        }
        for e in 0..4 {
            assert!(
                (fit.covariances[j][e] - truth.covariances[t][e]).abs() < 0.25,
                "{:?}",
                fit.covariances
            );
        }
    }
    // The fitted mixture explains the data about as well as the truth does.
    let ll_truth: f64 = (0..n)
        .map(|i| truth.log_prob(&data[2 * i..2 * i + 2]))
        .sum::<f64>()
        / n as f64;
    assert!(
        fit.mean_log_likelihood >= ll_truth - 1e-9,
        "{} < {ll_truth}",
        fit.mean_log_likelihood
    );
    assert!(fit.mean_log_likelihood - ll_truth < 0.01);
}

#[test]
fn one_component_is_the_sample_mean_and_covariance_and_the_closed_form_density() {
    let data = [0.5, 1.0, -1.0, 2.0, 2.0, 0.0, 1.5, -0.5, 0.0, 0.25];
    let n = 5;
    let mut rng = HostRng::seed_from_u64(0);
    let mut settings = GaussianMixtureFit::new(1);
    settings.reg_covar = 0.0;
    let fit = GaussianMixture::fit(&data, n, 2, &settings, &mut rng).unwrap();
    let mean = [0.6, 0.55];
    // MLE covariance (divide by n), computed by hand.
    let xs: Vec<[f64; 2]> = data
        .chunks(2)
        .map(|c| [c[0] - mean[0], c[1] - mean[1]])
        .collect();
    let s = |a: usize, b: usize| xs.iter().map(|x| x[a] * x[b]).sum::<f64>() / n as f64;
    let cov = [s(0, 0), s(0, 1), s(1, 0), s(1, 1)];
    for (got, want) in fit.means[0].iter().zip(mean) {
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
    for (got, want) in fit.covariances[0].iter().zip(cov) {
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
    // ln N(z; μ, Σ) = −ln 2π − ½ ln det Σ − ½ (z−μ)ᵀ Σ⁻¹ (z−μ), 2×2 inverse by hand.
    let det = cov[0] * cov[3] - cov[1] * cov[2];
    let z = [1.0, -2.0];
    let (u, v) = (z[0] - mean[0], z[1] - mean[1]);
    let maha = (cov[3] * u * u - 2.0 * cov[1] * u * v + cov[0] * v * v) / det;
    let want = -(2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln() - 0.5 * maha;
    assert!(
        (fit.log_prob(&z) - want).abs() < 1e-12,
        "{} vs {want}",
        fit.log_prob(&z)
    );
}

#[test]
fn the_density_integrates_to_one_on_a_grid() {
    let gm = two_clusters();
    let (lo, hi, h) = (-12.0, 10.0, 0.05);
    let m = ((hi - lo) / h) as usize;
    let mut total = 0.0;
    for a in 0..m {
        for b in 0..m {
            let z = [lo + (a as f64 + 0.5) * h, lo + (b as f64 + 0.5) * h];
            total += gm.log_prob(&z).exp() * h * h;
        }
    }
    assert!((total - 1.0).abs() < 1e-3, "{total}");
}

#[test]
fn samples_have_the_mixture_moments() {
    let gm = two_clusters();
    let mut rng = HostRng::seed_from_u64(9);
    let n = 40_000;
    let x = gm.sample(n, &mut rng);
    // E[z] = Σ w μ = (0.3·(−4) + 0.7·3, 0.3·1 + 0.7·(−2)) = (0.9, −1.1).
    let m0 = x.iter().step_by(2).sum::<f64>() / n as f64;
    let m1 = x.iter().skip(1).step_by(2).sum::<f64>() / n as f64;
    // Var z₀ = Σ w (Σ₀₀ + μ₀²) − 0.9² = 0.3·17 + 0.7·9.5 − 0.81 = 10.94; SE of the mean √(10.94/n) ≈ 0.017.
    assert!((m0 - 0.9).abs() < 0.08, "{m0}");
    assert!((m1 + 1.1).abs() < 0.05, "{m1}");
    let v0 = x
        .iter()
        .step_by(2)
        .map(|v| (v - m0) * (v - m0))
        .sum::<f64>()
        / n as f64;
    assert!((v0 - 10.94).abs() < 0.3, "{v0}");
}

#[test]
fn temperature_scales_each_component_covariance_by_t_squared() {
    let gm = GaussianMixture::new(
        vec![1.0],
        vec![vec![1.0, 2.0]],
        vec![vec![2.0, 0.6, 0.6, 1.0]],
    )
    .unwrap();
    let n = 40_000;
    let x = gm.sample_with_temperature(n, 0.5, &mut HostRng::seed_from_u64(4));
    let mean = |k: usize| x.iter().skip(k).step_by(2).sum::<f64>() / n as f64;
    let (m0, m1) = (mean(0), mean(1));
    let cov = |a: usize, b: usize| {
        x.chunks(2)
            .map(|r| (r[a] - [m0, m1][a]) * (r[b] - [m0, m1][b]))
            .sum::<f64>()
            / n as f64
    };
    // t²Σ = [[0.5, 0.15], [0.15, 0.25]]; standard errors ≈ 0.0035, 0.0019, 0.0018.
    assert!(
        (m0 - 1.0).abs() < 0.02 && (m1 - 2.0).abs() < 0.02,
        "{m0} {m1}"
    );
    assert!((cov(0, 0) - 0.5).abs() < 0.02, "{}", cov(0, 0));
    assert!((cov(0, 1) - 0.15).abs() < 0.012, "{}", cov(0, 1));
    assert!((cov(1, 1) - 0.25).abs() < 0.012, "{}", cov(1, 1));
    // t = 1 is `sample` (same draws); t = 0 gives the component means exactly.
    let two = two_clusters();
    assert_eq!(
        two.sample_with_temperature(50, 1.0, &mut HostRng::seed_from_u64(8)),
        two.sample(50, &mut HostRng::seed_from_u64(8))
    );
    for r in two
        .sample_with_temperature(50, 0.0, &mut HostRng::seed_from_u64(8))
        .chunks(2)
    {
        assert!(r == [-4.0, 1.0] || r == [3.0, -2.0], "{r:?}");
    }
}

#[test]
fn em_never_lowers_the_likelihood() {
    let truth = GaussianMixture::new(
        vec![0.2, 0.5, 0.3],
        vec![
            vec![0.0, 0.0, 0.0],
            vec![1.5, 1.0, -1.0],
            vec![-1.0, 2.0, 1.0],
        ],
        vec![
            vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            vec![0.5, 0.1, 0.0, 0.1, 0.5, 0.0, 0.0, 0.0, 0.5],
            vec![0.8, -0.2, 0.1, -0.2, 0.6, 0.0, 0.1, 0.0, 0.4],
        ],
    )
    .unwrap();
    let n = 1500;
    let data = truth.sample(n, &mut HostRng::seed_from_u64(5));
    let mut previous = f64::NEG_INFINITY;
    for iters in 1..=12 {
        let mut s = GaussianMixtureFit::new(3);
        s.tol = 0.0;
        s.max_iter = iters;
        // The same seed: the same initialisation, so run `iters` extends run `iters − 1`.
        let fit = GaussianMixture::fit(&data, n, 3, &s, &mut HostRng::seed_from_u64(1)).unwrap();
        assert!(
            fit.mean_log_likelihood >= previous - 1e-9,
            "iteration {iters}: {} < {previous}",
            fit.mean_log_likelihood
        );
        previous = fit.mean_log_likelihood;
    }
}

#[test]
fn bad_input_is_rejected_by_name() {
    let mut rng = HostRng::seed_from_u64(0);
    let err = |r: Result<GaussianMixture, deepgen_tensor::ConfigError>| r.unwrap_err().to_string();
    let e = err(GaussianMixture::fit(
        &[0.0; 4],
        2,
        2,
        &GaussianMixtureFit::new(0),
        &mut rng,
    ));
    assert!(e.contains("components"), "{e}");
    let e = err(GaussianMixture::fit(
        &[0.0; 4],
        2,
        2,
        &GaussianMixtureFit::new(3),
        &mut rng,
    ));
    assert!(e.contains("cannot fit 3 components"), "{e}");
    let e = err(GaussianMixture::fit(
        &[0.0, f64::NAN],
        1,
        2,
        &GaussianMixtureFit::new(1),
        &mut rng,
    ));
    assert!(e.contains("NaN"), "{e}");
    let e = err(GaussianMixture::fit(
        &[0.0; 3],
        2,
        2,
        &GaussianMixtureFit::new(1),
        &mut rng,
    ));
    assert!(e.contains("expected 2·2 values"), "{e}");
    let e = err(GaussianMixture::new(
        vec![1.0],
        vec![vec![0.0, 0.0]],
        vec![vec![1.0, 2.0, 2.0, 1.0]],
    ));
    assert!(e.contains("not positive definite"), "{e}");
}
