//! Noise schedules: golden values, the cosine formula at every t, and the invariants of every
//! table.

use std::f64::consts::FRAC_PI_2;

use deepgen_diffusion::schedule::{COSINE_MAX_BETA, SIGMOID_MAX_BETA};
use deepgen_diffusion::{BetaSchedule, NoiseSchedule, NoiseScheduleConfig, ScheduleTerm};

use crate::common::{assert_close, assert_rel, device, host, linear_1000, timesteps};

fn schedule(kind: BetaSchedule, t: usize) -> NoiseSchedule {
    NoiseScheduleConfig::new()
        .with_schedule(kind)
        .with_num_timesteps(t)
        .init()
}

#[test]
fn linear_matches_improved_ddpm() {
    let _serial = crate::common::serial();
    // golden.py: LIN_BETA_0_500_999, LIN_AB_0_499_999 (np.linspace in float64, cumprod).
    let s = linear_1000();
    let b = s.betas();
    assert_close(
        &[b[0], b[500], b[999]],
        &[0.0001, 0.010059959959959959, 0.02],
        1e-14,
        0.0,
        "β",
    );
    let ab = s.alpha_bar();
    assert_close(
        &[ab[0], ab[499], ab[999]],
        &[0.9999, 0.07858724288177824, 4.035829765375676e-05],
        1e-12,
        0.0,
        "ᾱ",
    );
}

#[test]
fn linear_is_scaled_by_1000_over_t() {
    let _serial = crate::common::serial();
    // golden.py: LIN100_BETA_0_99, LIN100_AB_99 (scale = 1000/T as in improved-DDPM).
    let s = schedule(BetaSchedule::linear(), 100);
    assert_close(
        &[s.betas()[0], s.betas()[99]],
        &[0.001, 0.2],
        1e-14,
        0.0,
        "β",
    );
    assert_rel(s.alpha_bar()[99], 2.039008975564078e-05, 1e-12, "ᾱ_99");
}

#[test]
fn cosine_matches_diffusers_betas_for_alpha_bar() {
    let _serial = crate::common::serial();
    // golden.py: COS_AB at t = [0, 1, 10, 100, 250, 500, 750, 900, 998, 999], COS_BETA_0_999.
    let s = schedule(BetaSchedule::cosine(), 1000);
    let ts = [0, 1, 10, 100, 250, 500, 750, 900, 998, 999];
    let expected = [
        0.999958715775178,
        0.9999125759273678,
        0.9992789037733427,
        0.9715756818078386,
        0.8458879864968832,
        0.49228517244880304,
        0.14317864642609812,
        0.023616108794393863,
        2.4287669070348544e-06,
        2.4287669070348567e-09,
    ];
    let got: Vec<f64> = ts.iter().map(|&t| s.alpha_bar()[t]).collect();
    assert_close(&got, &expected, 1e-11, 0.0, "cosine ᾱ");
    assert_rel(s.betas()[0], 4.128422482196914e-05, 1e-10, "β_0");
    assert_eq!(s.betas()[999], 0.999, "the last β is capped at max_beta");
}

/// `ᾱ_t = f((t+1)/T)/f(0)` with `f(τ) = cos²((τ + s)/(1 + s)·π/2)` at every `t` whose `β` is not
/// capped. An implementation that divides integers (`i / T` = 0 for `i < T`, as candle's and
/// diffusers-rs' `betas_for_alpha_bar` do) has `ᾱ_t = 1` up to the last step and fails here at
/// `t = 0`.
#[test]
fn cosine_is_the_float_formula_at_every_t() {
    let _serial = crate::common::serial();
    let f = |tau: f64| {
        let c = ((tau + 0.008) / 1.008 * FRAC_PI_2).cos();
        c * c
    };
    for big_t in [1000, 250, 50, 7, 2] {
        let s = schedule(BetaSchedule::cosine(), big_t);
        for t in 0..big_t {
            if s.betas()[t] == COSINE_MAX_BETA {
                assert_eq!(t, big_t - 1, "T = {big_t}: only the last β is capped");
                continue;
            }
            let exact = f((t + 1) as f64 / big_t as f64) / f(0.0);
            assert_rel(
                s.alpha_bar()[t],
                exact,
                1e-11,
                &format!("T = {big_t}, ᾱ_{t}"),
            );
        }
        // The integer-division bug in one line: its β_t is 0 for every t < T − 1.
        assert!(s.betas()[..big_t - 1].iter().all(|&b| b > 1e-6));
    }
}

#[test]
fn sigmoid_matches_lucidrains() {
    let _serial = crate::common::serial();
    // golden.py: SIG_BETA_0_500_999, SIG_AB_0_500_998 (sigmoid_beta_schedule in float64).
    let s = schedule(BetaSchedule::sigmoid(), 1000);
    assert_close(
        &[s.betas()[0], s.betas()[500], s.betas()[999]],
        &[0.00030027919974917605, 0.003314364235860956, 0.999],
        1e-10,
        0.0,
        "β",
    );
    assert_close(
        &[s.alpha_bar()[0], s.alpha_bar()[500], s.alpha_bar()[998]],
        &[
            0.9996997208002508,
            0.49834281788206963,
            0.00030027919974932816,
        ],
        1e-10,
        0.0,
        "ᾱ",
    );
    assert_eq!(s.betas()[999], SIGMOID_MAX_BETA);
}

#[test]
fn posterior_tables_match_improved_ddpm() {
    let _serial = crate::common::serial();
    // golden.py: POST_VAR, POST_LOGVAR, POST_C1, POST_C2 at t = [0, 1, 500, 999].
    let s = linear_1000();
    let at = |term| {
        let v = s.values(term);
        [v[0], v[1], v[500], v[999]]
    };
    assert_close(
        &at(ScheduleTerm::PosteriorVariance),
        &[
            0.0,
            5.4531876613021935e-05,
            0.010051335778909593,
            0.01999998352656061,
        ],
        1e-10,
        0.0,
        "β̃",
    );
    assert_close(
        &at(ScheduleTerm::PosteriorLogVarianceClipped),
        &[
            -9.81672513529567,
            -9.81672513529567,
            -4.600049739984908,
            -3.912023829100455,
        ],
        1e-12,
        0.0,
        "ln β̃ clipped",
    );
    assert_close(
        &at(ScheduleTerm::PosteriorMeanCoefX0),
        &[
            1.0000000000001101,
            0.5452914995102903,
            0.003058057075629619,
            0.00012835148717224682,
        ],
        1e-10,
        0.0,
        "c₀",
    );
    assert_close(
        &at(ScheduleTerm::PosteriorMeanCoefXt),
        &[
            0.0,
            0.4547084989905303,
            0.9941043507567258,
            0.9899486782675173,
        ],
        1e-10,
        0.0,
        "c_t",
    );
}

#[test]
fn invariants_of_every_schedule() {
    let _serial = crate::common::serial();
    let kinds = [
        (BetaSchedule::linear(), 0.02),
        (BetaSchedule::cosine(), COSINE_MAX_BETA),
        (BetaSchedule::sigmoid(), SIGMOID_MAX_BETA),
    ];
    for (kind, max_beta) in kinds {
        let lengths: &[usize] = if matches!(kind, BetaSchedule::Linear { .. }) {
            &[21, 50, 1000, 4000]
        } else {
            &[1, 2, 10, 1000, 4000]
        };
        for &big_t in lengths {
            let s = schedule(kind.clone(), big_t);
            let what = format!("{kind:?}, T = {big_t}");
            let b = s.betas();
            let ab = s.alpha_bar();
            let max_beta = if matches!(kind, BetaSchedule::Linear { .. }) {
                max_beta * 1000.0 / big_t as f64
            } else {
                max_beta
            };
            assert!(
                b.iter().all(|&b| b > 0.0 && b <= max_beta * (1.0 + 1e-12)),
                "{what}: β"
            );
            assert!(ab[0] < 1.0 && ab[0] > 0.0, "{what}: ᾱ_0");
            assert!(
                ab.windows(2).all(|w| w[1] < w[0] && w[1] > 0.0),
                "{what}: ᾱ ↓"
            );
            let prev = s.values(ScheduleTerm::AlphaBarPrev);
            let pv = s.values(ScheduleTerm::PosteriorVariance);
            let c0 = s.values(ScheduleTerm::PosteriorMeanCoefX0);
            let ct = s.values(ScheduleTerm::PosteriorMeanCoefXt);
            let snr = s.snr();
            assert_eq!(prev[0], 1.0);
            assert_eq!(pv[0], 0.0, "{what}: β̃_0");
            for t in 0..big_t {
                assert!(pv[t] >= 0.0 && pv[t] <= b[t], "{what}: 0 ≤ β̃_{t} ≤ β_{t}");
                // A noiseless x_t = √ᾱ_t x_0 has posterior mean √ᾱ_{t−1} x_0.
                let lhs = c0[t] + ct[t] * ab[t].sqrt();
                assert!(
                    (lhs - prev[t].sqrt()).abs() < 1e-12,
                    "{what}: μ̃ identity at {t}"
                );
                assert_rel(snr[t], ab[t] / (1.0 - ab[t]), 1e-11, &what);
                if t > 0 {
                    assert_eq!(prev[t], ab[t - 1]);
                    assert!(snr[t] < snr[t - 1], "{what}: SNR ↓ at {t}");
                }
            }
            let lv = s.values(ScheduleTerm::PosteriorLogVarianceClipped);
            if big_t > 1 {
                assert_eq!(lv[0], lv[1], "{what}: ln β̃ clipped at 0");
            }
            assert!(lv.iter().all(|v| v.is_finite()), "{what}: finite ln β̃");
        }
    }
}

#[test]
fn gather_picks_each_samples_value_on_device() {
    let _serial = crate::common::serial();
    let s = linear_1000();
    let dev = device();
    let t = [0usize, 999, 500, 1];
    for term in [
        ScheduleTerm::AlphaBar,
        ScheduleTerm::SqrtOneMinusAlphaBar,
        ScheduleTerm::PosteriorLogVarianceClipped,
        ScheduleTerm::Snr,
    ] {
        let got = host(s.gather(term, timesteps(&t, &dev)));
        let expected: Vec<f64> = t
            .iter()
            .map(|&i| f64::from(s.values(term)[i] as f32))
            .collect();
        assert_eq!(got, expected, "{term:?}");
    }
    let b = s.gather_as::<4>(ScheduleTerm::Beta, timesteps(&t, &dev));
    assert_eq!(b.dims(), [4, 1, 1, 1]);
}

#[test]
fn from_betas_rejects_betas_outside_the_unit_interval() {
    let _serial = crate::common::serial();
    assert!(NoiseSchedule::from_betas(vec![0.1, 0.2]).is_ok());
    let e = NoiseSchedule::from_betas(vec![0.1, 1.0]).unwrap_err();
    assert_eq!(e.field, "betas[1]");
    let e = NoiseSchedule::from_betas(vec![0.0]).unwrap_err();
    assert_eq!(e.field, "betas[0]");
    assert!(NoiseSchedule::from_betas(vec![f64::NAN]).is_err());
    assert!(NoiseSchedule::from_betas(vec![]).is_err());
}
