//! SN-DPM / NPR-DPM samplers (`LearnedVarianceSampler`): the per-pixel variances against a
//! host f64 recomputation for both heads and both families (η = 1: DDPM, η = 0: DDIM), the
//! exact-mean special case (zero residual moment → `λ²`: DDPM's fixed small `β̃`, DDIM's 0),
//! Analytic-DPM's bounds `λ² ≤ σ² ≤ λ² + c² ((max − min)/2)²` for arbitrary head outputs, the
//! last-step pixel clipping, and one whole SN-DDIM / NPR-DDIM / NPR-DDPM step with injected
//! noise against f64 host arithmetic.

use crate::common::{assert_close, device, host, tensor};

use deepgen_diffusion::scheduler::SamplerState;
use deepgen_diffusion::{
    AnalyticDpmConfig, AnalyticStep, CovarianceHead, DdimConfig, DdpmConfig,
    LearnedVarianceSampler, NoiseSchedule, NoiseScheduleConfig,
};
use deepgen_tensor::HostRng;

fn schedule() -> NoiseSchedule {
    NoiseScheduleConfig::new().with_num_timesteps(100).init()
}

fn sampler(
    head: CovarianceHead,
    eta: f64,
    steps: usize,
    clip: Option<f64>,
) -> LearnedVarianceSampler {
    let analytic = AnalyticDpmConfig::new().with_clip_pixels(clip);
    let s = schedule();
    if eta == 1.0 {
        LearnedVarianceSampler::ddpm(head, &DdpmConfig::new(steps), &analytic, &s).unwrap()
    } else {
        LearnedVarianceSampler::ddim(head, &DdimConfig::new(steps).with_eta(eta), &analytic, &s)
            .unwrap()
    }
}

const EPS: [f64; 5] = [0.5, -1.0, 2.0, 0.1, 0.0];
const H: [f64; 5] = [0.3, 1.2, 3.0, 50.0, 0.02];

fn host_variance(head: CovarianceHead, step: &AnalyticStep, e: f64, h: f64) -> f64 {
    let m = match head {
        CovarianceHead::SecondMoment => h - e * e,
        CovarianceHead::ResidualMoment => h,
    };
    step.lambda_sq + step.cov_coef * (step.cov_scale * m).clamp(0.0, 1.0)
}

#[test]
fn variances_follow_the_formula_and_reduce_to_lambda_for_an_exact_mean() {
    let _serial = crate::common::serial();
    let dev = device();
    let ab = schedule().alpha_bar().to_vec();
    for head in CovarianceHead::ALL {
        for eta in [1.0, 0.0] {
            let s = sampler(head, eta, 5, None);
            let ts = s.timesteps().to_vec();
            assert_eq!(ts, [80, 60, 40, 20, 0]);
            for i in 0..ts.len() {
                let got = s.variance(i, tensor(&EPS, [5], &dev), tensor(&H, [5], &dev));
                if i + 1 == ts.len() {
                    assert!(got.is_none(), "no noise onto the clean level");
                    continue;
                }
                let (r, t_s) = (ab[ts[i]], ab[ts[i + 1]]);
                let step = AnalyticStep::new(r, t_s, eta);
                assert_eq!(s.step(i), step);
                let want: Vec<f64> = (0..5)
                    .map(|k| host_variance(head, &step, EPS[k], H[k]))
                    .collect();
                let what = format!("{} η={eta} step {i}", head.name());
                assert_close(&host(got.unwrap()), &want, 1e-5, 1e-9, &what);

                // A zero residual moment (an exact mean): σ² = λ² = η² β̃.
                let exact = match head {
                    CovarianceHead::SecondMoment => EPS.map(|e| e * e),
                    CovarianceHead::ResidualMoment => [0.0; 5],
                };
                let v = host(
                    s.variance(i, tensor(&EPS, [5], &dev), tensor(&exact, [5], &dev))
                        .unwrap(),
                );
                let beta_tilde = (1.0 - r / t_s) * (1.0 - t_s) / (1.0 - r);
                let lambda_sq = eta * eta * beta_tilde;
                assert_close(
                    &v,
                    &[lambda_sq; 5],
                    1e-5,
                    1e-12,
                    &format!("{what}, exact mean"),
                );

                // Analytic-DPM's bounds (Theorem 2, data in [−1, 1]) for any head output.
                let mut rng = HostRng::seed_from_u64(i as u64);
                let e: Vec<f64> = (0..200).map(|_| 3.0 * rng.normal()).collect();
                let h: Vec<f64> = (0..200).map(|_| 10.0 * rng.normal()).collect();
                let v = host(
                    s.variance(i, tensor(&e, [200], &dev), tensor(&h, [200], &dev))
                        .unwrap(),
                );
                let upper = step.lambda_sq + step.cov_coef; // c² ((max − min)/2)², data in [−1, 1]
                for x in v {
                    assert!(
                        x >= step.lambda_sq * (1.0 - 1e-6) && x <= upper * (1.0 + 1e-6),
                        "{what}: {x} outside [{}, {upper}]",
                        step.lambda_sq
                    );
                }
            }
        }
    }
}

#[test]
fn the_step_onto_the_lowest_timestep_is_clipped_to_pixel_bins() {
    let _serial = crate::common::serial();
    let dev = device();
    for head in CovarianceHead::ALL {
        let s = sampler(head, 0.0, 5, Some(2.0));
        let big = [50.0; 5];
        let v = host(
            s.variance(3, tensor(&EPS, [5], &dev), tensor(&big, [5], &dev))
                .unwrap(),
        );
        let b = 2.0 * 2.0 / 255.0 * std::f64::consts::FRAC_PI_2.sqrt();
        assert_close(&v, &[b * b; 5], 1e-5, 0.0, head.name());
        // Earlier steps are not clipped.
        let v = host(
            s.variance(2, tensor(&EPS, [5], &dev), tensor(&big, [5], &dev))
                .unwrap(),
        );
        assert!(v.iter().all(|&x| x > 10.0 * b * b), "{}", head.name());
    }
}

#[test]
fn one_step_with_injected_noise_equals_a_host_recomputation() {
    let _serial = crate::common::serial();
    let dev = device();
    let sched = schedule();
    let ab = sched.alpha_bar().to_vec();
    let mut rng = HostRng::seed_from_u64(17);
    let n = 12;
    let x: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    let out: Vec<f64> = (0..n).map(|_| 0.8 * rng.normal()).collect();
    let h: Vec<f64> = (0..n).map(|_| 0.05 + 0.5 * rng.uniform()).collect();
    let z: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    for head in CovarianceHead::ALL {
        for eta in [0.0, 1.0] {
            let s = sampler(head, eta, 5, None);
            let i = 1;
            let ts = s.timesteps();
            let (r, t_s) = (ab[ts[i]], ab[ts[i + 1]]);
            let step = AnalyticStep::new(r, t_s, eta);
            let got = host(s.step_with(
                &mut SamplerState::new(),
                i,
                tensor(&out, [n], &dev),
                tensor(&h, [n], &dev),
                tensor(&x, [n], &dev),
                tensor(&z, [n], &dev),
            ));
            let want: Vec<f64> = (0..n)
                .map(|k| {
                    // ε-prediction, no clipping: x̂_0 = (x − √β̄_r ε̂)/√ᾱ_r, and the DDIM-family
                    // mean √ᾱ_s x̂_0 + √(β̄_s − λ²) (x − √ᾱ_r x̂_0)/√β̄_r (= DDPM's for η = 1).
                    let x0 = (x[k] - (1.0 - r).sqrt() * out[k]) / r.sqrt();
                    let mean = t_s.sqrt() * x0
                        + (1.0 - t_s - step.lambda_sq).sqrt() * (x[k] - r.sqrt() * x0)
                            / (1.0 - r).sqrt();
                    mean + host_variance(head, &step, out[k], h[k]).sqrt() * z[k]
                })
                .collect();
            assert_close(&got, &want, 1e-4, 1e-5, &format!("{} η={eta}", head.name()));
        }
    }
}

#[test]
fn ddim_needs_the_clean_final_level() {
    let _serial = crate::common::serial();
    let e = LearnedVarianceSampler::ddim(
        CovarianceHead::ResidualMoment,
        &DdimConfig::new(5).with_set_alpha_to_one(false),
        &AnalyticDpmConfig::new(),
        &schedule(),
    )
    .unwrap_err();
    assert_eq!(e.field, "set_alpha_to_one");
}
