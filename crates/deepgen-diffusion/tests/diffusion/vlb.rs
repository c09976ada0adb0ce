//! The variational bound (`vlb`): an exact ε-model of a one-point dataset against the closed
//! form (DDPM small/large and Analytic-DPM variances, full chain and a respaced trajectory),
//! the Monte-Carlo estimator against the full sum within its standard error, and the
//! discretized decoder against numerical integration; SN-DPM's / NPR-DPM's per-pixel variances:
//! the exact one-point model's closed form (zero residual moment: KL 0, the decoder at the
//! floor), and per-pixel variances that are all equal giving exactly the scalar bound.

use crate::common::{device, host, tensor, timesteps};

use burn::tensor::{Int, Tensor};
use deepgen_diffusion::scheduler::DdpmVariance;
use deepgen_diffusion::vlb::{
    MIN_DECODER_VARIANCE, discretized_gaussian_log_likelihood, isotropic_gaussian_kl,
};
use deepgen_diffusion::{
    CovarianceHead, NoiseSchedule, NoiseScheduleConfig, PixelVariances, Prediction,
    ReverseVariances, Spacing, VlbEstimator, VlbSummary, vlb_terms, vlb_terms_with_pixel_variances,
};
use deepgen_tensor::HostRng;

const HALF_BIN: f64 = 1.0 / 255.0;

/// `∫_a^b N(y; 0, σ²) dy` by Simpson's rule (`a`, `b` finite).
fn gauss_mass(a: f64, b: f64, sigma: f64) -> f64 {
    let n = 20_000;
    let h = (b - a) / n as f64;
    let f =
        |y: f64| (-0.5 * (y / sigma).powi(2)).exp() / (sigma * (2.0 * std::f64::consts::PI).sqrt());
    let mut s = f(a) + f(b);
    for i in 1..n {
        s += f(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    s * h / 3.0
}

/// `−ln P(bin of x | N(x, σ²))` for the exact mean: interior bins `[−δ, δ]`, edge bins
/// `(−∞, δ]` (mass ½ + `[0, δ]`).
fn decoder_nll_exact_mean(x: f64, sigma: f64) -> f64 {
    let p = if !(-0.999..=0.999).contains(&x) {
        0.5 + gauss_mass(0.0, HALF_BIN, sigma)
    } else {
        gauss_mass(-HALF_BIN, HALF_BIN, sigma)
    };
    -p.ln()
}

/// The ε of the one-point dataset `x_0 = c`: `(x_t − √ᾱ_t c)/√(1 − ᾱ_t)`, per-sample `t`.
fn one_point_eps(
    schedule: &NoiseSchedule,
    c: Tensor<4>,
) -> impl FnMut(Tensor<4>, Tensor<1, Int>) -> Tensor<4> + '_ {
    move |x_t, t| {
        let b = x_t.dims()[0];
        let ab: Vec<f64> = host(t.clone().float())
            .iter()
            .map(|&s| schedule.alpha_bar()[s as usize])
            .collect();
        let a: Vec<f64> = ab.iter().map(|v| v.sqrt()).collect();
        let s: Vec<f64> = ab.iter().map(|v| (1.0 - v).sqrt()).collect();
        let dev = x_t.device();
        let a = tensor(&a, [b, 1, 1, 1], &dev);
        let s = tensor(&s, [b, 1, 1, 1], &dev);
        (x_t - c.clone().repeat_dim(0, b) * a) / s
    }
}

/// 16 pixels of one image with both edges and interior levels.
fn image_levels() -> Vec<f64> {
    [
        0u8, 255, 128, 37, 0, 0, 200, 255, 1, 254, 64, 0, 90, 180, 255, 10,
    ]
    .iter()
    .map(|&k| f64::from(k) * 2.0 / 255.0 - 1.0)
    .collect()
}

fn schedule_50() -> NoiseSchedule {
    NoiseScheduleConfig::new().with_num_timesteps(50).init()
}

#[test]
fn exact_model_of_a_one_point_dataset_matches_the_closed_form() {
    let _serial = crate::common::serial();
    let dev = device();
    let schedule = schedule_50();
    let c_vals = image_levels();
    let d = c_vals.len();
    let b = 3;
    let c = tensor(&c_vals, [1, 1, 4, 4], &dev);
    let x0 = c.clone().repeat_dim(0, b);
    let ab = schedule.alpha_bar();
    for traj in [
        (0..50).rev().collect::<Vec<usize>>(),
        Spacing::Leading.timesteps(50, 10, 0),
    ] {
        let variances = [
            ReverseVariances::ddpm(&schedule, &traj, DdpmVariance::FixedSmall).unwrap(),
            ReverseVariances::ddpm(&schedule, &traj, DdpmVariance::FixedLarge).unwrap(),
            ReverseVariances::analytic(&schedule, &traj, &vec![1.0; traj.len()]).unwrap(),
        ];
        let mut rng = HostRng::seed_from_u64(3);
        let terms = vlb_terms(
            &schedule,
            Prediction::Epsilon,
            &traj,
            &variances,
            x0.clone(),
            one_point_eps(&schedule, c.clone()),
            VlbEstimator::Full,
            true,
            &mut rng,
        )
        .unwrap();
        // Closed form: the prior, the step KLs with equal means, the decoder at the exact mean.
        let top = traj[0];
        let sum_c2: f64 = c_vals.iter().map(|v| v * v).sum();
        let prior =
            0.5 * (d as f64 * (-(1.0 - ab[top]).ln() + (1.0 - ab[top]) - 1.0) + ab[top] * sum_c2);
        let var_q: Vec<f64> = traj
            .windows(2)
            .map(|w| {
                let (r, s) = (ab[w[0]], ab[w[1]]);
                (1.0 - r / s) * (1.0 - s) / (1.0 - r)
            })
            .collect();
        let beta: Vec<f64> = traj.windows(2).map(|w| 1.0 - ab[w[0]] / ab[w[1]]).collect();
        if traj.len() == 50 {
            // The full chain's posterior variance is the schedule's β̃ table.
            let table = schedule.values(deepgen_diffusion::ScheduleTerm::PosteriorVariance);
            for (k, w) in traj.windows(2).enumerate() {
                assert!((var_q[k] - table[w[0]]).abs() < 1e-12 * table[w[0]].max(1e-30));
            }
        }
        let kl_large: f64 = var_q
            .iter()
            .zip(&beta)
            .map(|(q, p)| 0.5 * d as f64 * ((p / q).ln() + q / p - 1.0))
            .sum();
        let dec_var = *var_q.last().unwrap();
        let decoder = |var: f64| -> f64 {
            c_vals
                .iter()
                .map(|&x| decoder_nll_exact_mean(x, var.sqrt()))
                .sum()
        };
        let expected = [
            (prior, 0.0, decoder(dec_var)),
            (prior, kl_large, decoder(dec_var)),
            // Γ = 1: the covariance term vanishes, σ² = λ² = β̃ (KL 0) and the decoder's
            // variance is the floor, where the exact mean gets all the mass.
            (prior, 0.0, decoder(MIN_DECODER_VARIANCE)),
        ];
        for (v, (vt, (p, kl, dec))) in variances.iter().zip(terms.iter().zip(expected)) {
            for (i, t) in vt.iter().enumerate() {
                let what = format!("K = {}, {}, image {i}", traj.len(), v.name);
                assert!(
                    (t.prior - p).abs() < 1e-9 * p.abs().max(1.0),
                    "{what}: prior {} vs {p}",
                    t.prior
                );
                assert!(
                    (t.kl - kl).abs() < 1e-3 * kl.max(1.0),
                    "{what}: KL {} vs {kl}",
                    t.kl
                );
                assert!(
                    (t.decoder - dec).abs() < 2e-3 * dec.max(1.0),
                    "{what}: decoder {} vs {dec}",
                    t.decoder
                );
            }
        }
        // In bits/dim, fixed small is the tighter DDPM bound here, and Analytic-DPM the
        // tightest.
        let s: Vec<VlbSummary> = variances
            .iter()
            .zip(&terms)
            .map(|(v, t)| VlbSummary::new(v.name.clone(), t, d))
            .collect();
        assert!(s[2].bpd < s[0].bpd && s[0].bpd < s[1].bpd, "{s:?}");
        assert_eq!(s[0].stderr, Some(0.0));
        let per_dim = (prior + decoder(dec_var)) / (d as f64 * std::f64::consts::LN_2);
        assert!(
            (s[0].bpd - per_dim).abs() < 1e-3 * per_dim,
            "{} vs {per_dim}",
            s[0].bpd
        );
    }
}

#[test]
fn monte_carlo_estimate_agrees_with_the_full_sum_within_its_standard_error() {
    let _serial = crate::common::serial();
    let dev = device();
    let schedule = NoiseScheduleConfig::new().with_num_timesteps(100).init();
    // Gaussian data N(0, s²) quantised to 8 bits, and the exact ε-model of the unquantised
    // Gaussian: nearly Bayes-optimal, so x̂₀ misses each image by about the posterior's spread,
    // like a trained model.
    let s = 0.3;
    let mut rng = HostRng::seed_from_u64(11);
    let (b, d) = (6, 16);
    let vals: Vec<f64> = (0..b * d)
        .map(|_| {
            let k = ((s * rng.normal() + 1.0) * 127.5).round().clamp(0.0, 255.0);
            k * 2.0 / 255.0 - 1.0
        })
        .collect();
    let x0 = tensor(&vals, [b, 1, 4, 4], &dev);
    let gaussian = |x: Tensor<4>, t: Tensor<1, Int>| {
        let k: Vec<f64> = host(t.float())
            .iter()
            .map(|&ti| {
                crate::common::gaussian_eps_coefs(schedule.alpha_bar()[ti as usize], 0.0, s).0
            })
            .collect();
        let bsz = x.dims()[0];
        let dev = x.device();
        x * tensor(&k, [bsz, 1, 1, 1], &dev)
    };
    let traj: Vec<usize> = (0..100).rev().collect();
    let variances = [
        ReverseVariances::ddpm(&schedule, &traj, DdpmVariance::FixedSmall).unwrap(),
        ReverseVariances::ddpm(&schedule, &traj, DdpmVariance::FixedLarge).unwrap(),
    ];
    let run = |est, seed| {
        let mut rng = HostRng::seed_from_u64(seed);
        vlb_terms(
            &schedule,
            Prediction::Epsilon,
            &traj,
            &variances,
            x0.clone(),
            gaussian,
            est,
            true,
            &mut rng,
        )
        .unwrap()
    };
    let full = run(VlbEstimator::Full, 1);
    let mc = run(VlbEstimator::MonteCarlo(40), 2);
    for vi in 0..2 {
        let f = VlbSummary::new("full", &full[vi], d);
        let m = VlbSummary::new("mc", &mc[vi], d);
        let se = m.stderr.unwrap();
        eprintln!(
            "{}: full {:.4} bpd, MC {:.4} ± {se:.4}",
            variances[vi].name, f.bpd, m.bpd
        );
        assert!(se > 0.0);
        // Prior and decoder are exact in both (the decoder's noise differs, so allow its
        // spread); the KL part must agree within 4 standard errors.
        assert!((f.prior_bpd - m.prior_bpd).abs() < 1e-9);
        assert!((f.kl_bpd - m.kl_bpd).abs() < 4.0 * se, "{f:?} vs {m:?}");
        assert!(f.kl_bpd > 0.01, "the model must be imperfect: {f:?}");
    }
    // One draw per image: no standard error.
    let one = run(VlbEstimator::MonteCarlo(1), 3);
    assert_eq!(VlbSummary::new("x", &one[0], d).stderr, None);
    // Monte Carlo with 0 draws is an error naming the estimator.
    let mut rng = HostRng::seed_from_u64(0);
    let e = vlb_terms(
        &schedule,
        Prediction::Epsilon,
        &traj,
        &variances,
        x0,
        gaussian,
        VlbEstimator::MonteCarlo(0),
        true,
        &mut rng,
    )
    .unwrap_err();
    assert_eq!(e.field, "estimator");
}

#[test]
fn discretized_decoder_and_kl_helpers() {
    let _serial = crate::common::serial();
    let dev = device();
    // Interior bin, off-centre mean; lower and upper edge bins.
    let x = [0.2, -1.0, 1.0];
    let mean = [0.21, -0.98, 0.97];
    let sigma: f64 = 0.02;
    let got = host(discretized_gaussian_log_likelihood(
        tensor(&x, [3], &dev),
        tensor(&mean, [3], &dev),
        tensor(&[sigma.ln(); 3], [3], &dev),
    ));
    let want = [
        gauss_mass(x[0] - mean[0] - HALF_BIN, x[0] - mean[0] + HALF_BIN, sigma).ln(),
        (0.5 + gauss_mass(0.0, x[1] - mean[1] + HALF_BIN, sigma)).ln(),
        (0.5 + gauss_mass(0.0, mean[2] - (x[2] - HALF_BIN), sigma)).ln(),
    ];
    for i in 0..3 {
        assert!(
            (got[i] - want[i]).abs() < 1e-4,
            "[{i}] {} vs {}",
            got[i],
            want[i]
        );
    }
    // KL(N(μ, q) ‖ N(μ, q)) = 0; the mean term is ‖Δμ‖²/(2p).
    assert!(isotropic_gaussian_kl(10, 0.0, 0.3, 0.3).abs() < 1e-15);
    assert!((isotropic_gaussian_kl(10, 2.0, 0.3, 0.3) - 2.0 / 0.6).abs() < 1e-12);
    let _ = timesteps(&[0], &dev);
}

/// `h` of a head for the model `eps`: SN gets `ε̂² + m(t)`, NPR `m(t)`, so that the residual
/// moment is `m(t)` in every pixel.
fn head_with_moment<'a>(
    head: CovarianceHead,
    m: impl Fn(usize) -> f64 + 'a,
    mut eps: impl FnMut(Tensor<4>, Tensor<1, Int>) -> Tensor<4> + 'a,
) -> impl FnMut(Tensor<4>, Tensor<1, Int>) -> (Tensor<4>, Vec<Tensor<4>>) + 'a {
    move |x_t, t| {
        let b = x_t.dims()[0];
        let ms: Vec<f64> = host(t.clone().float())
            .iter()
            .map(|&s| m(s as usize))
            .collect();
        let out = eps(x_t, t);
        let m = tensor(&ms, [b, 1, 1, 1], &out.device());
        let h = match head {
            CovarianceHead::SecondMoment => out.clone().square() + m,
            CovarianceHead::ResidualMoment => out.zeros_like() + m,
        };
        (out, vec![h])
    }
}

#[test]
fn pixel_variances_of_the_exact_one_point_model_match_the_closed_form() {
    let _serial = crate::common::serial();
    let dev = device();
    let schedule = schedule_50();
    let c_vals = image_levels();
    let d = c_vals.len();
    let c = tensor(&c_vals, [1, 1, 4, 4], &dev);
    let x0 = c.clone().repeat_dim(0, 2);
    let ab = schedule.alpha_bar();
    for traj in [
        (0..50).rev().collect::<Vec<usize>>(),
        Spacing::Leading.timesteps(50, 10, 0),
    ] {
        let top = traj[0];
        let sum_c2: f64 = c_vals.iter().map(|v| v * v).sum();
        let prior =
            0.5 * (d as f64 * (-(1.0 - ab[top]).ln() + (1.0 - ab[top]) - 1.0) + ab[top] * sum_c2);
        // The decoder's variance is DDPM's fixed small one of the trajectory (the authors'
        // likelihood code), whatever the head says.
        let dec_var = ReverseVariances::ddpm(&schedule, &traj, DdpmVariance::FixedSmall)
            .unwrap()
            .decoder;
        let decoder: f64 = c_vals
            .iter()
            .map(|&x| decoder_nll_exact_mean(x, dec_var.sqrt()))
            .sum();
        for head in CovarianceHead::ALL {
            // The exact mean has a zero residual: σ² = λ² = β̃ (KL 0).
            let pixel = [PixelVariances::new(head, &schedule, &traj).unwrap()];
            let mut rng = HostRng::seed_from_u64(4);
            let terms = vlb_terms_with_pixel_variances(
                &schedule,
                Prediction::Epsilon,
                &traj,
                &[],
                &pixel,
                x0.clone(),
                head_with_moment(head, |_| 0.0, one_point_eps(&schedule, c.clone())),
                VlbEstimator::Full,
                true,
                &mut rng,
            )
            .unwrap();
            assert_eq!(terms.len(), 1);
            for (i, t) in terms[0].iter().enumerate() {
                let what = format!("K = {}, {}, image {i}", traj.len(), head.name());
                assert!(
                    (t.prior - prior).abs() < 1e-9 * prior.abs().max(1.0),
                    "{what}"
                );
                // SN's m = h − ε̂² cancels in f32: |m| ≲ 1e-6 ε̂², so the KL is ~0, not exactly.
                assert!(t.kl.abs() < 1e-3, "{what}: KL {}", t.kl);
                assert!(
                    (t.decoder - decoder).abs() < 2e-3 * decoder.max(1.0),
                    "{what}: decoder {} vs {decoder}",
                    t.decoder
                );
            }
        }
    }
}

#[test]
fn equal_pixel_variances_give_the_scalar_bound() {
    let _serial = crate::common::serial();
    // An imperfect model (ε̂ shrunk towards 0) so that every KL term is non-zero; a head whose
    // residual moment is 1 − Γ(t) in every pixel makes the per-pixel variances Analytic-DPM's.
    let dev = device();
    let schedule = schedule_50();
    let c_vals = image_levels();
    let c = tensor(&c_vals, [1, 1, 4, 4], &dev);
    let x0 = c.clone().repeat_dim(0, 3);
    let gamma = |t: usize| 0.3 + 0.6 * (t as f64 / 50.0);
    let imperfect = |schedule| {
        let mut eps = one_point_eps(schedule, c.clone());
        move |x: Tensor<4>, t: Tensor<1, Int>| eps(x, t).mul_scalar(0.9)
    };
    for traj in [
        (0..50).rev().collect::<Vec<usize>>(),
        Spacing::Leading.timesteps(50, 10, 0),
    ] {
        let g: Vec<f64> = traj.iter().map(|&t| gamma(t)).collect();
        // Analytic-DPM's for the KL terms, DDPM's fixed small one for the decoder (which the
        // per-pixel variances share).
        let scalar = [
            ReverseVariances::analytic(&schedule, &traj, &g).unwrap(),
            ReverseVariances::ddpm(&schedule, &traj, DdpmVariance::FixedSmall).unwrap(),
        ];
        for head in CovarianceHead::ALL {
            let pixel = [PixelVariances::new(head, &schedule, &traj).unwrap()];
            for estimator in [VlbEstimator::Full, VlbEstimator::MonteCarlo(3)] {
                let mut rng = HostRng::seed_from_u64(8);
                let terms = vlb_terms_with_pixel_variances(
                    &schedule,
                    Prediction::Epsilon,
                    &traj,
                    &scalar,
                    &pixel,
                    x0.clone(),
                    head_with_moment(head, |t| 1.0 - gamma(t), imperfect(&schedule)),
                    estimator,
                    true,
                    &mut rng,
                )
                .unwrap();
                assert_eq!(terms.len(), 3);
                for (i, ((a, p), small)) in
                    terms[0].iter().zip(&terms[2]).zip(&terms[1]).enumerate()
                {
                    let what = format!(
                        "K = {}, {}, {estimator:?}, image {i}",
                        traj.len(),
                        head.name()
                    );
                    assert!(a.kl > 1.0, "{what}: a KL that can differ, got {}", a.kl);
                    assert!((a.prior - p.prior).abs() < 1e-12, "{what}");
                    assert!(
                        (a.kl - p.kl).abs() < 1e-4 * a.kl,
                        "{what}: KL {} vs {}",
                        p.kl,
                        a.kl
                    );
                    assert!(
                        (small.decoder - p.decoder).abs() < 1e-9 * small.decoder.abs().max(1.0),
                        "{what}: decoder {} vs DDPM's {}",
                        p.decoder,
                        small.decoder
                    );
                    if let (Some(va), Some(vp)) = (a.kl_variance, p.kl_variance) {
                        assert!((va - vp).abs() < 1e-3 * va.max(1e-9), "{what}: MC variance");
                    }
                }
            }
        }
    }
}
