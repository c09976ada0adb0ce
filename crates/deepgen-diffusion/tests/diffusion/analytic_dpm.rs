//! Analytic-DPM: the authors' variances, the bounds of Theorem 2, and the closed form for Gaussian
//! data.

use deepgen_diffusion::{
    AnalyticDpmConfig, AnalyticStep, DdimConfig, DdpmConfig, Scheduler, Spacing,
};
use deepgen_tensor::rng::HostRng;

use crate::common::{assert_close, linear_1000};

// golden.py: GAMMA (Γ at the kept timesteps 900, 800, …, 0 of leading n = 10).
const GAMMA: [f64; 10] = [0.83, 0.76, 0.69, 0.62, 0.55, 0.48, 0.41, 0.34, 0.27, 0.2];

#[test]
fn variances_match_the_authors_code() {
    let _serial = crate::common::serial();
    let s = linear_1000();
    let ts = DdpmConfig::new(10).init(&s).timesteps().to_vec();
    assert_eq!(ts, [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
    // golden.py: ANALYTIC_DDPM (reverse_ddpm_ms_eps, clip_sigma_idx = 1, clip_pixel = 2).
    let ddpm = AnalyticDpmConfig::new().variances(&s, &ts, &GAMMA).unwrap();
    assert_close(
        &ddpm,
        &[
            0.8207360992562117,
            0.7805159589171954,
            0.7314619705198819,
            0.6722990474186332,
            0.6044339297621746,
            0.5390649906253488,
            0.4857585319816712,
            0.26779908743593417,
            0.00038650890009563,
            0.0,
        ],
        1e-10,
        0.0,
        "Analytic-DDPM",
    );
    // golden.py: ANALYTIC_DDIM_ETA0, ANALYTIC_DDIM_ETA05 (reverse_ddim_ms_eps).
    let ddim0 = AnalyticDpmConfig::new()
        .with_eta(0.0)
        .variances(&s, &ts, &GAMMA)
        .unwrap();
    assert_close(
        &ddim0,
        &[
            0.0005016645245001661,
            0.0019494555721737109,
            0.006053962962275106,
            0.015219268409800991,
            0.03209213113954742,
            0.06066946776670177,
            0.10333406678501497,
            0.08590949633844831,
            0.00038650890009563,
            0.0,
        ],
        1e-9,
        0.0,
        "Analytic-DDIM η = 0",
    );
    let ddim05 = AnalyticDpmConfig::new()
        .with_eta(0.5)
        .variances(&s, &ts, &GAMMA)
        .unwrap();
    assert_close(
        &ddim05,
        &[
            0.20551471561572887,
            0.19639742320005357,
            0.18675176726488518,
            0.17772017276175195,
            0.17124363983078306,
            0.1726716217267335,
            0.18644676397672627,
            0.12275315807276432,
            0.00038650890009563,
            0.0,
        ],
        1e-10,
        0.0,
        "Analytic-DDIM η = 0.5",
    );
    // The authors' Analytic-DDIM preset (run_cifar10.py, phase "sample_analytic_ddim": η = 0,
    // clip_sigma_idx = 1, clip_pixel = 1): the η = 0 variances above, with the step onto the
    // lowest kept timestep clipped to one bin, (2/255·√(π/2))² = 9.66272250239075e-05 (Python
    // float arithmetic), a quarter of the two-bin bound.
    let preset = AnalyticDpmConfig::ddim();
    assert_eq!((preset.eta, preset.clip_pixels), (0.0, Some(1.0)));
    let ddim_authors = preset.variances(&s, &ts, &GAMMA).unwrap();
    let mut want = ddim0.clone();
    want[8] = 9.66272250239075e-05;
    assert_close(&ddim_authors, &want, 1e-12, 0.0, "Analytic-DDIM preset");
    assert!(
        ddim0[8] > 4.0 * 0.999 * want[8],
        "the two-bin bound clips ddim0 too"
    );
}

/// Theorem 2: `λ² ≤ σ*² ≤ λ² + (√(β̄_r/α) − √(β̄_s − λ²))²` for any `Γ ∈ [0, 1]`; for DDPM
/// (`λ² = β̃`) the upper bound is `β/α` of the (respaced) step — computed here independently from
/// `β = 1 − ᾱ_r/ᾱ_s`. With `Cov[x₀ | x_r] ≤ β̄_r` (e.g. Gaussian data of variance ≤ 1) the
/// optimal variance lies between Ho et al.'s two choices `β̃` and `β`.
#[test]
fn optimal_variance_lies_within_the_bounds() {
    let _serial = crate::common::serial();
    let s = linear_1000();
    let mut rng = HostRng::seed_from_u64(9);
    let ab = s.alpha_bar();
    for spacing in [Spacing::Leading, Spacing::Trailing, Spacing::Quadratic] {
        let ts = DdpmConfig::new(25)
            .with_spacing(spacing)
            .init(&s)
            .timesteps()
            .to_vec();
        let gamma: Vec<f64> = ts.iter().map(|_| rng.uniform()).collect();
        let config = AnalyticDpmConfig::new().with_clip_pixels(None);
        let v = config.variances(&s, &ts, &gamma).unwrap();
        for i in 0..ts.len() - 1 {
            let (ab_r, ab_s) = (ab[ts[i]], ab[ts[i + 1]]);
            let beta = 1.0 - ab_r / ab_s;
            let beta_tilde = beta * (1.0 - ab_s) / (1.0 - ab_r);
            let upper = beta / (1.0 - beta);
            let what = format!("{spacing:?} step {i}");
            assert!(
                v[i] >= beta_tilde * (1.0 - 1e-12),
                "{what}: {} < β̃ {beta_tilde}",
                v[i]
            );
            assert!(
                v[i] <= upper * (1.0 + 1e-12),
                "{what}: {} > β/α {upper}",
                v[i]
            );
            let step = AnalyticStep::new(ab_r, ab_s, 1.0);
            assert!((step.lambda_sq - beta_tilde).abs() < 1e-15 + 1e-12 * beta_tilde);
            assert!(
                (step.optimal_variance(0.0) - upper).abs() < 1e-9 * upper,
                "{what}: Γ = 0"
            );
            assert!(
                (step.optimal_variance(1.0) - beta_tilde).abs() < 1e-15,
                "{what}: Γ = 1"
            );
            // Γ ≥ 1 − ᾱ_r ⇔ Cov[x₀ | x_r] ≤ β̄_r ⇔ σ*² ≤ β.
            let g = 1.0 - ab_r + (ab_r) * rng.uniform();
            let sv = step.optimal_variance(g);
            assert!(
                sv >= beta_tilde && sv <= beta * (1.0 + 1e-12),
                "{what}: between β̃ and β"
            );
            // DDIM family: λ² ≤ σ*² ≤ λ² + c² β̄_r/ᾱ_r.
            for eta in [0.0, 0.3, 1.0] {
                let st = AnalyticStep::new(ab_r, ab_s, eta);
                let sv = st.optimal_variance(gamma[i]);
                assert!(sv >= st.lambda_sq && sv <= st.lambda_sq + st.cov_coef * st.cov_scale);
            }
        }
        assert_eq!(*v.last().unwrap(), 0.0);
    }
}

/// Gaussian data `N(μ, s²)`: `Γ_r = β̄_r/(ᾱ_r s² + β̄_r)`, and the optimal DDPM variance is the
/// conditional variance `Var[x_s | x_r]` of the jointly Gaussian pair
/// (`Var x_s = ᾱ_s s² + β̄_s`, `Cov(x_s, x_r) = √(ᾱ_r/ᾱ_s)·Var x_s`), computed without Theorem 1.
/// For the DDIM family it is `λ² + c²·s²β̄_r/(ᾱ_r s² + β̄_r)` (the posterior variance of x₀).
#[test]
fn gaussian_data_closed_form() {
    let _serial = crate::common::serial();
    let s = linear_1000();
    let ab = s.alpha_bar();
    for sd in [0.1, 0.5, 1.0] {
        let s2: f64 = sd * sd;
        let ts = DdpmConfig::new(20)
            .with_spacing(Spacing::Trailing)
            .init(&s)
            .timesteps()
            .to_vec();
        let gamma: Vec<f64> = ts
            .iter()
            .map(|&t| (1.0 - ab[t]) / (ab[t] * s2 + 1.0 - ab[t]))
            .collect();
        let config = AnalyticDpmConfig::new().with_clip_pixels(None);
        let v = config.variances(&s, &ts, &gamma).unwrap();
        for i in 0..ts.len() - 1 {
            let (ab_r, ab_s) = (ab[ts[i]], ab[ts[i + 1]]);
            let var_s = ab_s * s2 + 1.0 - ab_s;
            let var_r = ab_r * s2 + 1.0 - ab_r;
            let cov = (ab_r / ab_s).sqrt() * var_s;
            let exact = var_s - cov * cov / var_r;
            assert!(
                (v[i] - exact).abs() < 1e-10 * exact.max(1e-6),
                "s = {sd}, step {i}: {} vs {exact}",
                v[i]
            );
        }
        for eta in [0.0, 0.5] {
            let v = config
                .clone()
                .with_eta(eta)
                .variances(&s, &ts, &gamma)
                .unwrap();
            for i in 0..ts.len() - 1 {
                let (ab_r, ab_s) = (ab[ts[i]], ab[ts[i + 1]]);
                let (bb_r, bb_s) = (1.0 - ab_r, 1.0 - ab_s);
                let lambda_sq = eta * eta * bb_s / bb_r * (1.0 - ab_r / ab_s);
                let c = ab_s.sqrt() - ((bb_s - lambda_sq) * ab_r / bb_r).sqrt();
                let exact = lambda_sq + c * c * s2 * bb_r / (ab_r * s2 + bb_r);
                assert!(
                    (v[i] - exact).abs() < 1e-10 * exact.max(1e-6),
                    "η = {eta}, step {i}"
                );
            }
        }
    }
}

#[test]
fn clipping_of_covariance_and_first_step() {
    let _serial = crate::common::serial();
    let s = linear_1000();
    let ts = [900usize, 500, 100, 10, 0];
    // Γ > 1: the covariance clips to 0, σ² = λ² (β̃ for DDPM); Γ ≪ 0: it clips to
    // ((max − min)/2)² = 1.
    let ab = s.alpha_bar();
    let none = AnalyticDpmConfig::new().with_clip_pixels(None);
    let v = none.variances(&s, &ts, &[3.0; 5]).unwrap();
    for i in 0..4 {
        let st = AnalyticStep::new(ab[ts[i]], ab[ts[i + 1]], 1.0);
        assert!((v[i] - st.lambda_sq).abs() < 1e-15, "Γ > 1 at {i}");
    }
    let v = none.variances(&s, &ts, &[-1e6; 5]).unwrap();
    for i in 0..4 {
        let st = AnalyticStep::new(ab[ts[i]], ab[ts[i + 1]], 1.0);
        assert!(
            (v[i] - (st.lambda_sq + st.cov_coef)).abs() < 1e-12,
            "Γ ≪ 0 at {i}"
        );
    }
    // A wider data range raises that cap: [0, 4] → covariance ≤ 4.
    let wide = none.clone().with_data_min(0.0).with_data_max(4.0);
    let v4 = wide.variances(&s, &ts, &[-1e6; 5]).unwrap();
    let st = AnalyticStep::new(ab[900], ab[500], 1.0);
    assert!((v4[0] - (st.lambda_sq + 4.0 * st.cov_coef)).abs() < 1e-12);
    // The pixel clip acts on the step onto the lowest kept timestep only (index n − 2):
    // σ² ≤ (2·2/255·√(π/2))².
    let bound = (2.0 * 2.0 / 255.0 * std::f64::consts::FRAC_PI_2.sqrt()).powi(2);
    let clipped = AnalyticDpmConfig::new()
        .variances(&s, &ts, &[-1e6; 5])
        .unwrap();
    let unclipped = none.variances(&s, &ts, &[-1e6; 5]).unwrap();
    assert!(unclipped[3] > bound);
    assert!((clipped[3] - bound).abs() < 1e-15);
    assert_eq!(clipped[..3], unclipped[..3]);
    assert_eq!(clipped[4], 0.0);
}

#[test]
fn variances_plug_into_the_samplers() {
    let _serial = crate::common::serial();
    let s = linear_1000();
    let ddpm = DdpmConfig::new(10).init(&s);
    let v = AnalyticDpmConfig::new()
        .variances(&s, ddpm.timesteps(), &GAMMA)
        .unwrap();
    assert_eq!(ddpm.with_variances(&v).unwrap().variances(), v);
    let ddim = DdimConfig::new(10).init(&s);
    let v = AnalyticDpmConfig::new()
        .with_eta(0.0)
        .variances(&s, ddim.timesteps(), &GAMMA)
        .unwrap();
    let ddim = ddim.with_variances(&v).unwrap();
    assert_eq!(ddim.variances(), v);
    assert!(ddim.step_uses_noise(0) && !ddim.step_uses_noise(9));
}

#[test]
fn bad_arguments_are_rejected() {
    let _serial = crate::common::serial();
    let s = linear_1000();
    let c = AnalyticDpmConfig::new();
    assert_eq!(c.variances(&s, &[5, 3], &[0.5]).unwrap_err().field, "gamma");
    assert_eq!(
        c.variances(&s, &[3, 5], &[0.5, 0.5]).unwrap_err().field,
        "timesteps"
    );
    assert_eq!(
        c.variances(&s, &[1000, 5], &[0.5, 0.5]).unwrap_err().field,
        "timesteps"
    );
    assert_eq!(c.variances(&s, &[], &[]).unwrap_err().field, "timesteps");
    assert_eq!(
        c.variances(&s, &[5, 3], &[0.5, f64::NAN])
            .unwrap_err()
            .field,
        "gamma[1]"
    );
}
