//! DDPM ancestral sampling: one step against diffusers, respaced variances, and the law of the
//! samples for Gaussian data with the exact ε-model.

use deepgen_diffusion::{
    DdpmConfig, DdpmVariance, Prediction, SampleClipping, SamplerState, Scheduler, Spacing,
    run_sampler,
};
use deepgen_tensor::rng::HostRng;

use crate::common::{
    assert_close, device, gaussian_eps, gaussian_eps_coefs, host, linear_1000, mean_var, normals,
    tensor,
};

// golden.py inputs of the one-step tests, shaped [2, 3].
pub const X: [f64; 6] = [0.5, -1.2, 0.3, 2.0, -0.7, 0.05];
pub const OUT: [f64; 6] = [0.1, -0.4, 1.3, -0.2, 0.6, -1.1];
pub const Z: [f64; 6] = [-0.3, 0.8, 0.2, -1.5, 0.4, 1.0];

fn one_step(config: DdpmConfig, index: usize) -> Vec<f64> {
    let dev = device();
    let s = linear_1000();
    let ddpm = config.init(&s);
    let out = ddpm.step(
        &mut SamplerState::new(),
        tensor(&OUT, [2, 3], &dev),
        index,
        tensor(&X, [2, 3], &dev),
        Some(tensor(&Z, [2, 3], &dev)),
    );
    host(out.prev_sample)
}

/// Linear T = 1000, leading spacing with n = 10, step 3 goes from t = 600 to t = 500.
#[test]
fn one_step_matches_diffusers() {
    let _serial = crate::common::serial();
    let base = || DdpmConfig::new(10);
    // golden.py: DDPM_SMALL_EPS
    assert_close(
        &one_step(base(), 3),
        &[
            0.5144152164562406,
            -0.981012483570198,
            -0.859525810230902,
            2.5303401975554487,
            -1.6140220007815027,
            2.189303906572165,
        ],
        1e-5,
        1e-5,
        "fixed small, ε",
    );
    // golden.py: DDPM_LARGE_EPS
    assert_close(
        &one_step(base().with_variance(DdpmVariance::FixedLarge), 3),
        &[
            0.5077368731170709,
            -0.963203567999079,
            -0.8550735813381223,
            2.4969484808596007,
            -1.6051175429959432,
            2.211565051036064,
        ],
        1e-5,
        1e-5,
        "fixed large, ε",
    );
    // golden.py: DDPM_SMALL_V
    assert_close(
        &one_step(base().with_prediction(Prediction::VPrediction), 3),
        &[
            0.028537952000410455,
            0.02562828198799738,
            0.08479901689802347,
            -0.011161369527108667,
            -0.19626973579028167,
            1.034430037996993,
        ],
        1e-5,
        1e-5,
        "fixed small, v",
    );
    // golden.py: DDPM_SMALL_SAMPLE_CLIP
    assert_close(
        &one_step(
            base()
                .with_prediction(Prediction::Sample)
                .with_clipping(SampleClipping::Clip { range: 1.0 }),
            3,
        ),
        &[
            0.0513606113860737,
            -0.09024422513116581,
            0.5143527064991373,
            -0.14898869921034885,
            0.054357367315057914,
            0.6320608551111451,
        ],
        1e-5,
        1e-5,
        "fixed small, x₀ clipped",
    );
    // golden.py: DDPM_LAST_EPS (t = 0 → clean: no noise, the posterior mean = x̂₀)
    assert_close(
        &one_step(base(), 9),
        &[
            0.499024951871406,
            -1.1960598044853739,
            0.2870143510763404,
            2.0021001075081255,
            -0.7060353026477203,
            0.06100305022876846,
        ],
        1e-5,
        1e-5,
        "last step",
    );
}

/// The respaced β' of a kept pair `s < r` is `1 − Π_{s<i≤r} α_i` (improved-DDPM's
/// `space_timesteps`); the full chain has the schedule's own β̃_t and β_t.
#[test]
fn respaced_variances_come_from_the_kept_alpha_bars() {
    let _serial = crate::common::serial();
    let s = linear_1000();
    for variance in [DdpmVariance::FixedSmall, DdpmVariance::FixedLarge] {
        let ddpm = DdpmConfig::new(10)
            .with_spacing(Spacing::Trailing)
            .with_variance(variance)
            .init(&s);
        let ts = ddpm.timesteps().to_vec();
        let v = ddpm.variances();
        for i in 0..ts.len() - 1 {
            let (r, lo) = (ts[i], ts[i + 1]);
            let skip_beta = 1.0 - ((lo + 1)..=r).map(|j| 1.0 - s.betas()[j]).product::<f64>();
            let expected = match variance {
                DdpmVariance::FixedSmall => {
                    skip_beta * (1.0 - s.alpha_bar()[lo]) / (1.0 - s.alpha_bar()[r])
                }
                DdpmVariance::FixedLarge => skip_beta,
            };
            assert!(
                (v[i] - expected).abs() < 1e-12 * expected.max(1e-3),
                "{variance:?} {i}"
            );
        }
        assert_eq!(*v.last().unwrap(), 0.0, "no noise on the last step");
        assert!(!ddpm.step_uses_noise(ts.len() - 1));

        let full = DdpmConfig::new(1000).with_variance(variance).init(&s);
        let v = full.variances();
        for t in 1..1000 {
            let expected = match variance {
                DdpmVariance::FixedSmall => {
                    s.values(deepgen_diffusion::ScheduleTerm::PosteriorVariance)[t]
                }
                DdpmVariance::FixedLarge => s.betas()[t],
            };
            assert!(
                (v[999 - t] - expected).abs() < 1e-12,
                "{variance:?}, full chain t = {t}"
            );
        }
    }
}

/// Gaussian data `N(μ, s²)` and its exact ε-model: every step is affine in `x` plus Gaussian
/// noise, so the law of the output is `N(m, v)` with `(m, v)` propagated on the host. The samples
/// must match that law (5 standard errors), and the law must be close to the data's: the full
/// chain's fixed-small variance is slightly below `s²`, fixed-large slightly above.
#[test]
fn gaussian_data_is_recovered() {
    let _serial = crate::common::serial();
    let dev = device();
    let sched = linear_1000();
    let (mu, sd) = (0.7, 0.4);
    let (b, d) = (2048, 4);
    let n = b * d;
    let mut laws = vec![];
    for (variance, steps, seed) in [
        (DdpmVariance::FixedSmall, 1000, 11),
        (DdpmVariance::FixedLarge, 1000, 12),
        (DdpmVariance::FixedSmall, 100, 13),
    ] {
        let ddpm = DdpmConfig::new(steps).with_variance(variance).init(&sched);
        let ts = ddpm.timesteps().to_vec();
        // The law of the output, propagated on the host.
        let (mut m, mut v) = (0.0, 1.0);
        let var = ddpm.variances();
        for (i, &t) in ts.iter().enumerate() {
            let ab_t = sched.alpha_bar()[t];
            let ab_prev = ts.get(i + 1).map_or(1.0, |&p| sched.alpha_bar()[p]);
            let beta = 1.0 - ab_t / ab_prev;
            let c0 = ab_prev.sqrt() * beta / (1.0 - ab_t);
            let ct = (1.0 - beta).sqrt() * (1.0 - ab_prev) / (1.0 - ab_t);
            let (k, off) = gaussian_eps_coefs(ab_t, mu, sd);
            let (a, s) = (ab_t.sqrt(), (1.0 - ab_t).sqrt());
            // x̂₀ = (x − s(kx + off))/a
            let (p, q) = ((1.0 - s * k) / a, -s * off / a);
            let (aa, bb) = (c0 * p + ct, c0 * q);
            m = aa * m + bb;
            v = aa * aa * v + var[i];
        }
        let mut rng = HostRng::seed_from_u64(seed);
        let x_t = tensor(&normals(&mut rng, n), [b, d], &dev);
        let out = run_sampler(
            &ddpm,
            x_t,
            |x, t| gaussian_eps(&sched, x, t, mu, sd),
            |_| Some(tensor(&normals(&mut rng, n), [b, d], &dev)),
        );
        let (sm, sv) = mean_var(&host(out));
        let what = format!("{variance:?}, {steps} steps");
        let se_m = (v / n as f64).sqrt();
        let se_v = v * (2.0 / n as f64).sqrt();
        assert!(
            (sm - m).abs() < 5.0 * se_m,
            "{what}: sample mean {sm} vs law {m}"
        );
        assert!(
            (sv - v).abs() < 5.0 * se_v,
            "{what}: sample var {sv} vs law {v}"
        );
        assert!((m - mu).abs() < 1e-3, "{what}: law mean {m} vs data {mu}");
        laws.push(v);
    }
    let s2 = sd * sd;
    // Full chain: β̃ under-, β over-disperses, both within 3 %.
    assert!(
        laws[0] < s2 && laws[0] > 0.97 * s2,
        "fixed small: {}",
        laws[0]
    );
    assert!(
        laws[1] > s2 && laws[1] < 1.03 * s2,
        "fixed large: {}",
        laws[1]
    );
    // 100 respaced steps: coarser, still within 20 %.
    assert!((laws[2] - s2).abs() < 0.2 * s2, "100 steps: {}", laws[2]);
}

#[test]
fn with_variances_replaces_sigma() {
    let _serial = crate::common::serial();
    let s = linear_1000();
    let ddpm = DdpmConfig::new(4).init(&s);
    let v = [0.5, 0.25, 0.125, 0.0];
    let custom = ddpm.clone().with_variances(&v).unwrap();
    assert_eq!(custom.variances(), v);
    let e = ddpm.clone().with_variances(&[0.1, 0.2]).unwrap_err();
    assert_eq!(e.field, "variances");
    let e = ddpm.with_variances(&[0.1, -0.2, 0.0, 0.0]).unwrap_err();
    assert_eq!(e.field, "variances[1]");
}
