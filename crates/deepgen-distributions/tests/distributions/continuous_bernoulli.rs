//! Tests of `ContinuousBernoulli`: reference values (PyTorch, mpmath),
//! normalisation, closed forms vs quadrature and Monte Carlo, the inverse-CDF
//! sampler (DKW), gradients vs f64 finite differences, and continuity at the
//! series switch points. Value tests run on flex and ndarray.

// Reference values are pasted verbatim (17 significant digits) from the scripts.
#![allow(clippy::excessive_precision)]

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_distributions::{
    ContinuousBernoulli, Distribution, DistributionError, Entropy, KlDivergence, Rsample,
};
use deepgen_tensor::numerics::host;
use deepgen_tensor::rng::HostRng;

const EPS32: f64 = f32::EPSILON as f64;

fn devices() -> Vec<Device> {
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    vec![Device::flex(), ndarray]
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("f64 data")
}

fn tensor2(data: &[f64], shape: [usize; 2], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = data.iter().map(|&a| a as f32).collect();
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn cb(logits: &[f64], shape: [usize; 2], device: &Device) -> ContinuousBernoulli {
    ContinuousBernoulli::new(tensor2(logits, shape, device)).expect("valid logits")
}

// ---- f64 host mirrors, written in the plain closed forms (no series) -------

/// ln C = ln(ℓ / tanh(ℓ/2)), ln 2 at 0.
fn host_ln_c(l: f64) -> f64 {
    if l == 0.0 {
        std::f64::consts::LN_2
    } else {
        (l / (l / 2.0).tanh()).ln()
    }
}

fn host_log_prob(l: f64, x: f64) -> f64 {
    x * l - host::softplus(l) + host_ln_c(l)
}

fn host_mean(l: f64) -> f64 {
    if l == 0.0 {
        0.5
    } else {
        1.0 / -(-l).exp_m1() - 1.0 / l
    }
}

/// A(ℓ) = ln(expm1(ℓ)/ℓ), the log-partition function.
fn host_log_partition(l: f64) -> f64 {
    if l == 0.0 { 0.0 } else { (l.exp_m1() / l).ln() }
}

fn host_entropy(l: f64) -> f64 {
    host_log_partition(l) - l * host_mean(l)
}

fn host_kl(lp: f64, lq: f64) -> f64 {
    (lp - lq) * host_mean(lp) - host::softplus(lp) + host::softplus(lq) + host_ln_c(lp)
        - host_ln_c(lq)
}

fn host_icdf(u: f64, l: f64) -> f64 {
    if l == 0.0 {
        u
    } else {
        (u * l.exp_m1()).ln_1p() / l
    }
}

fn host_cdf(x: f64, l: f64) -> f64 {
    if l == 0.0 {
        x
    } else {
        (x * l).exp_m1() / l.exp_m1()
    }
}

/// Central difference with step `h`.
fn fd(f: impl Fn(f64) -> f64, x: f64, h: f64) -> f64 {
    (f(x + h) - f(x - h)) / (2.0 * h)
}

// ---- reference values ------------------------------------------------------

#[test]
fn log_prob_matches_pytorch_and_mpmath() {
    // (ℓ, x, PyTorch, mpmath), inputs rounded to f32 first. Generated once with
    //   torch 2.15 (float64):
    //     torch.distributions.ContinuousBernoulli(logits=l).log_prob(x)
    //   mpmath 1.4.1 (dps = 60), the λ-form density:
    //     lam = 1/(1+exp(-l)); C = 2*atanh(1-2*lam)/(1-2*lam)  (C = 2 at l = 0)
    //     log(C) + x*log(lam) + (1-x)*log(1-lam)
    // PyTorch works in λ and loses ~1.7e-7 at ℓ = 25 (1 − λ = 1.4e-11 in f64);
    // mpmath is exact. Both are within the f32 tolerance below.
    #[rustfmt::skip]
    let cases: [(f64, f64, f64, f64); 45] = [
        (-30.0, 0.0, 3.40119738166225, 3.401197381662249),
        (-30.0, 0.10000000149011612, 0.40119733695876647, 0.40119733695876537),
        (-30.0, 0.5, -11.59880261833775, -11.598802618337751),
        (-30.0, 0.7699999809265137, -19.69880204613316, -19.698802046133161),
        (-30.0, 1.0, -26.59880261833775, -26.598802618337751),
        (-5.0, 0.0, 1.6161986618835886, 1.6161986618835889),
        (-5.0, 0.10000000149011612, 1.116198654433008, 1.1161986544330083),
        (-5.0, 0.5, -0.8838013381164114, -0.88380133811641107),
        (-5.0, 0.7699999809265137, -2.2338012427489797, -2.2338012427489794),
        (-5.0, 1.0, -3.3838013381164114, -3.3838013381164111),
        (-0.5, 0.0, 0.2396049490072435, 0.23960494900724326),
        (-0.5, 0.10000000149011612, 0.18960494826218544, 0.1896049482621852),
        (-0.5, 0.5, -0.010395050992756505, -0.010395050992756738),
        (-0.5, 0.7699999809265137, -0.14539504145601334, -0.14539504145601357),
        (-0.5, 1.0, -0.2603950509927565, -0.26039505099275674),
        (-0.0010000000474974513, 0.0, 0.0004999583570783894, 0.00049995835707844809),
        (-0.0010000000474974513, 0.10000000149011612, 0.00039995835083850295, 0.00039995835083858677),
        (-0.0010000000474974513, 0.5, -4.166667033622673e-08, -4.166667027756542e-8),
        (-0.0010000000474974513, 0.7699999809265137, -0.00027004166042110533, -0.00027004166042110218),
        (-0.0010000000474974513, 1.0, -0.0005000416904190619, -0.00050004169041900322),
        (0.0, 0.0, 0.0, 0.0),
        (0.0, 0.10000000149011612, 0.0, 0.0),
        (0.0, 0.5, 0.0, 0.0),
        (0.0, 0.7699999809265137, 0.0, 0.0),
        (0.0, 1.0, 0.0, 0.0),
        (9.999999747378752e-05, 0.0, -5.00004154035949e-05, -5.0000415403539338e-5),
        (9.999999747378752e-05, 0.10000000149011612, -4.000041550722422e-05, -4.0000415507148979e-5),
        (9.999999747378752e-05, 0.5, -4.1666670114182125e-10, -4.1666664558017402e-10),
        (9.999999747378752e-05, 0.7699999809265137, 2.6999580743924945e-05, 2.6999580743928465e-5),
        (9.999999747378752e-05, 1.0, 4.9999582070192616e-05, 4.9999582070248178e-5),
        (0.30000001192092896, 0.0, -0.15374719776913104, -0.15374719776913094),
        (0.30000001192092896, 0.10000000149011612, -0.12374719613000329, -0.12374719613000319),
        (0.30000001192092896, 0.5, -0.003747191808666561, -0.0037471918086664638),
        (0.30000001192092896, 0.7699999809265137, 0.07725280568793813, 0.077252805687938228),
        (0.30000001192092896, 1.0, 0.14625281415179792, 0.14625281415179801),
        (4.0, 0.0, -2.5952201920542226, -2.5952201920542228),
        (4.0, 0.10000000149011612, -2.195220186093758, -2.1952201860937583),
        (4.0, 0.5, -0.5952201920542228, -0.59522019205422282),
        (4.0, 0.7699999809265137, 0.48477973165183197, 0.48477973165183187),
        (4.0, 1.0, 1.4047798079457774, 1.4047798079457772),
        (25.0, 0.0, -21.781124342154165, -21.781124175117911),
        (25.0, 0.10000000149011612, -19.28112430490126, -19.281124137865008),
        (25.0, 0.5, -9.281124342154166, -9.2811241751179113),
        (25.0, 0.7699999809265137, -2.5311248189913247, -2.5311246519550695),
        (25.0, 1.0, 3.218875657845833, 3.2188758248820887),
    ];
    let ls: Vec<f64> = cases.iter().map(|c| c.0).collect();
    let xs: Vec<f64> = cases.iter().map(|c| c.1).collect();
    for device in devices() {
        let d = cb(&ls, [1, ls.len()], &device);
        let got = to_vec(d.log_prob_per_dim(tensor2(&xs, [1, xs.len()], &device)));
        let mut worst: f64 = 0.0;
        for (i, &(l, x, torch, mpm)) in cases.iter().enumerate() {
            // f32 evaluation of x·ℓ − softplus(ℓ) + ln C: a few ulps of each term.
            let tol = 4.0 * EPS32 * ((x * l).abs() + host::softplus(l) + host_ln_c(l));
            for want in [torch, mpm] {
                assert!(
                    (got[i] - want).abs() <= tol,
                    "log_prob(ℓ={l}, x={x}) = {}, want {want} (tol {tol:e})",
                    got[i]
                );
            }
            worst = worst.max((got[i] - mpm).abs() / tol);
        }
        eprintln!("log_prob: worst |error|/tolerance = {worst:.3}");
        assert!(worst > 0.0, "an f32 computation cannot match f64 exactly");
    }
}

#[test]
fn log_norm_const_equals_lambda_form_and_is_even() {
    // C(λ) = 2 atanh(1 − 2λ)/(1 − 2λ) evaluated in f64 on λ = σ(ℓ) (where it is
    // well-conditioned: |ℓ| ∈ [0.05, 20]) against the logit form ℓ/tanh(ℓ/2).
    let ls: Vec<f64> = (-40..=40)
        .map(|i| i as f64 * 0.5)
        .filter(|l| l.abs() >= 0.05)
        .map(|l| l as f32 as f64)
        .collect();
    let neg: Vec<f64> = ls.iter().map(|l| -l).collect();
    for device in devices() {
        let got = to_vec(cb(&ls, [1, ls.len()], &device).log_norm_const());
        let got_neg = to_vec(cb(&neg, [1, neg.len()], &device).log_norm_const());
        for (i, &l) in ls.iter().enumerate() {
            let lam = 1.0 / (1.0 + (-l).exp());
            let want = (2.0 * (1.0 - 2.0 * lam).atanh() / (1.0 - 2.0 * lam)).ln();
            assert!(
                (got[i] - want).abs() <= 1e-6 * want.abs().max(1.0),
                "ln C({l}) = {}, λ form {want}",
                got[i]
            );
            assert_eq!(got[i], got_neg[i], "ln C must be even in ℓ (ℓ = {l})");
        }
    }
}

#[test]
fn density_integrates_to_one() {
    // Composite Simpson over [0, 1] with N = 20000 intervals of exp(log_prob)
    // from the tensor implementation. Quadrature error ≤ h⁴·max|p⁗|/180 ≈ 1e-12
    // for |ℓ| ≤ 30; f32 rounding of log_prob (≤ 4e-6 at |ℓ| = 30) bounds the
    // total error by ~5e-6 relative.
    let ls = [
        -30.0,
        -5.0,
        -1.0,
        -0.99999994,
        -1e-3,
        0.0,
        1e-4,
        0.5,
        1.0,
        5.0,
        30.0,
    ];
    let n = 20000usize;
    let xs: Vec<f64> = (0..=n).map(|i| i as f64 / n as f64).collect();
    for device in devices() {
        let mut logits = Vec::new();
        let mut x = Vec::new();
        for &l in &ls {
            logits.extend(std::iter::repeat_n(l, n + 1));
            x.extend(&xs);
        }
        let d = cb(&logits, [ls.len(), n + 1], &device);
        let lp = to_vec(d.log_prob_per_dim(tensor2(&x, [ls.len(), n + 1], &device)));
        for (r, &l) in ls.iter().enumerate() {
            let p = |i: usize| lp[r * (n + 1) + i].exp();
            let h = 1.0 / n as f64;
            let mut s = p(0) + p(n);
            for i in 1..n {
                s += if i % 2 == 1 { 4.0 } else { 2.0 } * p(i);
            }
            let integral = s * h / 3.0;
            eprintln!("ℓ = {l}: ∫p − 1 = {:.2e}", integral - 1.0);
            assert!(
                (integral - 1.0).abs() <= 1e-5,
                "∫p = {integral} for ℓ = {l}"
            );
        }
    }
}

#[test]
fn mean_and_entropy_match_quadrature() {
    // (ℓ, E[x], H) by mpmath 1.4.1 quadrature (dps = 60) of the λ-form density
    // p = C(λ) λ^x (1−λ)^{1−x}, inputs rounded to f32:
    //   mp.quad(lambda x: x*p(x), [0, 1/4, 1/2, 3/4, 1]),
    //   mp.quad(lambda x: -p(x)*log p(x), [0, 1/4, 1/2, 3/4, 1])
    // (∫p = 1 to 20 digits for every row). ±1 and 0.99999994 straddle the
    // series switch.
    #[rustfmt::skip]
    let cases: [(f64, f64, f64); 12] = [
        (-30.0, 0.033333333333239757, -2.4011973816650562),
        (-5.0, 0.19321634509369577, -0.65011693641511009),
        (-1.0, 0.41802329313067358, -0.040651852256408315),
        (-0.75, 0.43807819893098982, -0.023112743390330649),
        (-0.0010000000474974513, 0.49991666666409743, -4.1666669583120866e-8),
        (0.0, 0.5, 0.0),
        (9.999999747378752e-05, 0.50000833333312143, -4.1666664551072958e-10),
        (0.5, 0.54149408253679828, -0.010351990275642405),
        (0.9999999403953552, 0.58197670214110417, -0.040651847528186204),
        (1.0, 0.58197670686932642, -0.040651852256408315),
        (3.0, 0.71906236315792262, -0.30686855908457913),
        (40.0, 0.975, -2.6888794541139365),
    ];
    let ls: Vec<f64> = cases.iter().map(|c| c.0).collect();
    for device in devices() {
        let d = cb(&ls, [1, ls.len()], &device);
        let mean = to_vec(d.mean());
        let ent = to_vec(d.entropy_per_dim());
        let total = to_vec(d.entropy())[0];
        for (i, &(l, m, h)) in cases.iter().enumerate() {
            // f32: the mean is O(1) (abs 3e-7); the entropy's closed form has
            // O(1 + ln|ℓ|) terms (abs 4e-7·(1 + |H|)).
            eprintln!(
                "ℓ = {l}: mean err {:.1e}, entropy err {:.1e}",
                mean[i] - m,
                ent[i] - h
            );
            assert!(
                (mean[i] - m).abs() <= 3e-7,
                "mean(ℓ={l}) = {}, want {m}",
                mean[i]
            );
            let tol = 4e-7 * (1.0 + h.abs());
            assert!((ent[i] - h).abs() <= tol, "H(ℓ={l}) = {}, want {h}", ent[i]);
        }
        let want_total: f64 = cases.iter().map(|c| c.2).sum();
        assert!(
            (total - want_total).abs() <= 5e-6,
            "ΣH = {total}, want {want_total}"
        );
    }
}

#[test]
fn kl_matches_quadrature_and_monte_carlo() {
    // (ℓ_p, ℓ_q, KL) by mpmath 1.4.1 quadrature (dps = 60), inputs rounded to f32:
    //   mp.quad(lambda x: p(x)*(log p(x) - log q(x)), [0, 1/4, 1/2, 3/4, 1])
    // (torch.distributions.kl_divergence agrees to ≤ 4e-15).
    #[rustfmt::skip]
    let cases: [(f64, f64, f64); 7] = [
        (-3.0, 2.0, 0.90643264697162),
        (0.0, 0.5, 0.010395050992756738),
        (0.0010000000474974513, -0.0010000000474974513, 1.6666667972137257e-7),
        (0.4000000059604645, 0.4000000059604645, 0.0),
        (7.0, 1.5, 0.50818052268296782),
        (-20.0, -18.0, 0.0053605066113073185),
        (0.8999999761581421, 1.100000023841858, 0.00159144641948197),
    ];
    let k = cases.len();
    let lp: Vec<f64> = cases.iter().map(|c| c.0).collect();
    let lq: Vec<f64> = cases.iter().map(|c| c.1).collect();
    for device in devices() {
        let p = cb(&lp, [1, k], &device);
        let q = cb(&lq, [1, k], &device);
        // Per-dimension KL: one batch row per pair.
        let kl_rows = to_vec(cb(&lp, [k, 1], &device).kl_divergence(&cb(&lq, [k, 1], &device)));
        for (i, &(a, b, want)) in cases.iter().enumerate() {
            // f32 closed form: O(1) terms, abs 1e-6.
            eprintln!("KL({a} ‖ {b}): error {:.1e}", kl_rows[i] - want);
            assert!(
                (kl_rows[i] - want).abs() <= 1e-6,
                "KL({a} ‖ {b}) = {}, want {want}",
                kl_rows[i]
            );
        }
        let total = to_vec(p.kl_divergence(&q))[0];
        let want_total: f64 = cases.iter().map(|c| c.2).sum();
        assert!(
            (total - want_total).abs() <= 4e-6,
            "ΣKL {total} vs {want_total}"
        );
    }

    // Monte Carlo: n rows, each draws x ~ p for every pair (columns); the mean of
    // log p(x) − log q(x) must be within 5 standard errors of the closed form.
    // The additive 1e-6 covers f32 rounding of the per-sample log ratios (the
    // pair with p = q has zero variance). Seeds 1001–1003 also pass (largest
    // |MC − closed|/SE seen: 1.95).
    let n = 100_000;
    let device = Device::flex();
    let rep = |v: &[f64]| -> Vec<f64> { (0..n).flat_map(|_| v.iter().copied()).collect() };
    let p = cb(&rep(&lp), [n, k], &device);
    let q = cb(&rep(&lq), [n, k], &device);
    let mut rng = HostRng::seed_from_u64(20260417);
    let x = p.sample(&mut rng);
    let d = to_vec(p.log_prob_per_dim(x.clone()) - q.log_prob_per_dim(x));
    let closed = to_vec(cb(&lp, [k, 1], &device).kl_divergence(&cb(&lq, [k, 1], &device)));
    for (c, &(a, b, _)) in cases.iter().enumerate() {
        let col: Vec<f64> = (0..n).map(|r| d[r * k + c]).collect();
        let mean = col.iter().sum::<f64>() / n as f64;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let se = (var / n as f64).sqrt();
        if se > 0.0 {
            eprintln!(
                "KL({a} ‖ {b}): (MC − closed)/SE = {:.2}",
                (mean - closed[c]) / se
            );
        }
        assert!(
            (mean - closed[c]).abs() <= 5.0 * se + 1e-6,
            "KL({a} ‖ {b}): MC {mean} ± {se}, closed form {}",
            closed[c]
        );
    }
}

// ---- sampler -------------------------------------------------------------------

#[test]
fn inverse_cdf_matches_host_formula() {
    // Branches: series |ℓ| < 0.5, log1p(u·expm1(ℓ))/ℓ, and the ℓ > 16 form; the
    // grid straddles both switches. Reference: f64 log1p(u·expm1(ℓ))/ℓ.
    let ls = [
        -100.0,
        -30.0,
        -5.0,
        -0.5,
        -0.49999997,
        -0.1,
        -1e-4,
        0.0,
        1e-4,
        0.3,
        0.49999997,
        0.5,
        3.0,
        15.999999,
        16.0,
        16.000002,
        40.0,
        100.0,
    ];
    let us = [1e-7, 1e-3, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999, 0.99999994];
    let mut l_all = Vec::new();
    let mut u_all = Vec::new();
    for &l in &ls {
        for &u in &us {
            l_all.push(l as f32 as f64);
            u_all.push(u as f32 as f64);
        }
    }
    let m = l_all.len();
    for device in devices() {
        let d = cb(&l_all, [1, m], &device);
        let got = to_vec(d.icdf(tensor2(&u_all, [1, m], &device)));
        let via_noise = to_vec(d.rsample_from_noise(tensor2(&u_all, [1, m], &device)));
        assert_eq!(got, via_noise);
        let mut worst: f64 = 0.0;
        for i in 0..m {
            let (l, u) = (l_all[i], u_all[i]);
            let want = host_icdf(u, l);
            // f32: relative error of log1p/expm1 and of u; 1/|ℓ| amplifies an
            // absolute error of ln(·) in the ℓ > 16 branch.
            let tol = (6.0 * EPS32 * want.max(1.0 / l.abs().max(1.0))).max(4.0 * EPS32);
            worst = worst.max((got[i] - want).abs() / tol);
            assert!(
                (got[i] - want).abs() <= tol,
                "F⁻¹({u}; ℓ={l}) = {}, want {want}",
                got[i]
            );
            assert!((0.0..=1.0).contains(&got[i]));
        }
        eprintln!("icdf: worst |error|/tolerance = {worst:.3}");
    }
}

#[test]
fn samples_pass_dkw_test() {
    // n draws per column; Dvoretzky–Kiefer–Wolfowitz (Massart's constant):
    // P(sup |F_n − F| > ε) ≤ 2 exp(−2nε²). With α = 1e-6, ε = sqrt(ln(2/α)/(2n)) =
    // 0.0085 for n = 100000. Seeds 1, 2, 3 also pass (largest D seen: 0.0042).
    let ls = [-30.0, -3.0, -0.2, 0.0, 1e-3, 0.45, 0.7, 5.0, 40.0];
    let k = ls.len();
    let n = 100_000;
    let eps = ((2.0f64 / 1e-6).ln() / (2.0 * n as f64)).sqrt();
    let logits: Vec<f64> = (0..n).flat_map(|_| ls.iter().copied()).collect();
    let device = Device::flex();
    let d = cb(&logits, [n, k], &device);
    let mut rng = HostRng::seed_from_u64(7);
    let x = to_vec(d.sample(&mut rng));
    for (c, &l) in ls.iter().enumerate() {
        let mut col: Vec<f64> = (0..n).map(|r| x[r * k + c]).collect();
        col.sort_by(f64::total_cmp);
        let l32 = l as f32 as f64;
        let mut dmax: f64 = 0.0;
        for (i, &xi) in col.iter().enumerate() {
            let f = host_cdf(xi, l32);
            dmax = dmax
                .max((f - i as f64 / n as f64).abs())
                .max((f - (i + 1) as f64 / n as f64).abs());
        }
        eprintln!("ℓ = {l}: KS distance {dmax:.5} (ε = {eps:.5})");
        assert!(dmax <= eps, "ℓ = {l}: KS distance {dmax} > {eps}");
    }
}

#[test]
fn sample_is_detached_rsample_with_the_same_noise() {
    let device = Device::flex();
    let d = cb(&[-2.0, 0.0, 0.3, 9.0], [2, 2], &device);
    let a = to_vec(d.sample(&mut HostRng::seed_from_u64(3)));
    let b = to_vec(d.rsample(&mut HostRng::seed_from_u64(3)));
    assert_eq!(a, b);
}

// ---- gradients -----------------------------------------------------------------

/// Autodiff gradient of Σ f(logits) with respect to the logits.
fn grad_of(ls: &[f64], f: impl Fn(&ContinuousBernoulli) -> Tensor<1>) -> Vec<f64> {
    let device = Device::flex().autodiff();
    let logits = tensor2(ls, [1, ls.len()], &device).require_grad();
    let d = ContinuousBernoulli::new(logits.clone()).expect("valid");
    let grads = f(&d).sum().backward();
    to_vec(logits.grad(&grads).expect("logits require grad"))
}

/// Logits for gradient checks: 0, tiny, and both sides of every switch (±1 for
/// the series, ±0.5 for the inverse-CDF series, 16 for its large-ℓ form).
const GRAD_LOGITS: [f64; 22] = [
    -30.0,
    -4.0,
    -1.0000001,
    -1.0,
    -0.99999994,
    -0.5,
    -0.49999997,
    -0.2,
    -1e-4,
    0.0,
    1e-4,
    0.01,
    0.49999997,
    0.5,
    0.99999994,
    1.0,
    1.0000001,
    2.5,
    15.999999,
    16.000002,
    25.0,
    60.0,
];

#[test]
fn log_prob_gradient_matches_finite_differences() {
    // ∂/∂ℓ log p(x) = x − σ(ℓ) + (ln C)′(ℓ) vs central differences (h = 1e-5) of
    // the f64 closed form x·ℓ − softplus(ℓ) + ln(ℓ/tanh(ℓ/2)) (error ~1e-10).
    let mut worst: f64 = 0.0;
    for x in [0.0, 0.3, 0.5, 1.0] {
        let ls: Vec<f64> = GRAD_LOGITS.iter().map(|&l| l as f32 as f64).collect();
        let g = grad_of(&ls, |d| {
            let xt = Tensor::full([1, ls.len()], x, &d.device());
            d.log_prob(xt)
        });
        for (i, &l) in ls.iter().enumerate() {
            let want = fd(|t| host_log_prob(t, x), l, 1e-5);
            worst = worst.max((g[i] - want).abs());
            assert!(
                (g[i] - want).abs() <= 1e-6,
                "d/dℓ log p(x={x}; ℓ={l}) = {}, fd {want}",
                g[i]
            );
        }
    }
    eprintln!("log_prob gradient: worst abs error {worst:.2e}");
}

#[test]
fn closed_form_gradients_match_finite_differences() {
    let ls: Vec<f64> = GRAD_LOGITS.iter().map(|&l| l as f32 as f64).collect();
    // Mean, entropy: f64 references by central differences (h = 1e-5) of the
    // plain closed forms; near ℓ = 0 those cancel (error ~ε₆₄/(ℓh)), so there the
    // exact Taylor derivatives are used: E′(0) = 1/12 − 3ℓ²/720, H′ = −ℓ/12 + ℓ³/240.
    let g_mean = grad_of(&ls, |d| d.mean().sum_dim(1).squeeze_dim(1));
    let g_ent = grad_of(&ls, |d| d.entropy());
    let (mut worst_m, mut worst_h, mut worst_kl): (f64, f64, f64) = (0.0, 0.0, 0.0);
    for (i, &l) in ls.iter().enumerate() {
        let (want_m, want_h) = if l.abs() < 1e-3 {
            (1.0 / 12.0 - l * l / 240.0, -l / 12.0 + l.powi(3) / 240.0)
        } else {
            (fd(host_mean, l, 1e-5), fd(host_entropy, l, 1e-5))
        };
        worst_m = worst_m.max((g_mean[i] - want_m).abs());
        worst_h = worst_h.max((g_ent[i] - want_h).abs());
        assert!(
            (g_mean[i] - want_m).abs() <= 1e-6,
            "dE/dℓ at {l}: {} vs {want_m}",
            g_mean[i]
        );
        assert!(
            (g_ent[i] - want_h).abs() <= 1e-6,
            "dH/dℓ at {l}: {} vs {want_h}",
            g_ent[i]
        );
    }
    // KL(p ‖ q) in both arguments.
    let lq: Vec<f64> = ls.iter().map(|l| (0.5 - 0.7 * l) as f32 as f64).collect();
    let device = Device::flex().autodiff();
    let tp = tensor2(&ls, [1, ls.len()], &device).require_grad();
    let tq = tensor2(&lq, [1, lq.len()], &device).require_grad();
    let p = ContinuousBernoulli::new(tp.clone()).expect("valid");
    let q = ContinuousBernoulli::new(tq.clone()).expect("valid");
    let grads = p.kl_divergence(&q).sum().backward();
    let gp = to_vec(tp.grad(&grads).expect("grad"));
    let gq = to_vec(tq.grad(&grads).expect("grad"));
    for (i, (&a, &b)) in ls.iter().zip(&lq).enumerate() {
        if a.abs() < 1e-3 {
            continue; // host_mean cancels there (covered by the mean check above)
        }
        let wp = fd(|t| host_kl(t, b), a, 1e-5);
        let wq = fd(|t| host_kl(a, t), b, 1e-5);
        let tol = 2e-6 * (1.0 + a.abs().max(b.abs()));
        worst_kl = worst_kl.max((gp[i] - wp).abs().max((gq[i] - wq).abs()) / tol);
        assert!(
            (gp[i] - wp).abs() <= tol,
            "∂KL/∂ℓp at ({a},{b}): {} vs {wp}",
            gp[i]
        );
        assert!(
            (gq[i] - wq).abs() <= tol,
            "∂KL/∂ℓq at ({a},{b}): {} vs {wq}",
            gq[i]
        );
    }
    eprintln!(
        "worst abs errors: dE/dℓ {worst_m:.2e}, dH/dℓ {worst_h:.2e}; KL gradient error/tol {worst_kl:.3}"
    );
}

#[test]
fn rsample_pathwise_gradient_matches_finite_differences() {
    // ∂x/∂ℓ at fixed u vs central differences (h = 1e-5) of f64 log1p(u·expm1(ℓ))/ℓ.
    let ls: Vec<f64> = GRAD_LOGITS.iter().map(|&l| l as f32 as f64).collect();
    let mut worst: f64 = 0.0;
    for u in [1e-3, 0.2, 0.5, 0.77, 0.999] {
        let u32v = u as f32 as f64;
        let g = grad_of(&ls, |d| {
            let ut = Tensor::full([1, ls.len()], u32v, &d.device());
            d.rsample_from_noise(ut).sum_dim(1).squeeze_dim(1)
        });
        for (i, &l) in ls.iter().enumerate() {
            let want = fd(|t| host_icdf(u32v, t), l, 1e-5);
            worst = worst.max((g[i] - want).abs());
            assert!(
                (g[i] - want).abs() <= 2e-6,
                "∂F⁻¹({u})/∂ℓ at ℓ = {l}: {} vs {want}",
                g[i]
            );
        }
    }
    eprintln!("icdf gradient: worst abs error {worst:.2e}");
}

#[test]
fn no_jump_at_the_series_switches() {
    // Value and gradient on both sides of each switch (adjacent f32 values), for
    // ln C, the mean, the entropy (|ℓ| = 1) and the inverse CDF (|ℓ| = 0.5, ℓ = 16).
    // The true change over one f32 ulp of ℓ is < 1e-7, so any jump above the
    // tolerance would be a discontinuity of the implementation.
    let pairs = [
        (0.99999994f32, 1.0f32),
        (-0.99999994, -1.0),
        (0.49999997, 0.5),
        (-0.49999997, -0.5),
        (15.999999, 16.000002),
    ];
    let device = Device::flex();
    for (a, b) in pairs {
        let ls = [a as f64, b as f64];
        let d = cb(&ls, [1, 2], &device);
        let checks: [(&str, Vec<f64>); 3] = [
            ("ln C", to_vec(d.log_norm_const())),
            ("mean", to_vec(d.mean())),
            ("entropy", to_vec(d.entropy_per_dim())),
        ];
        for (name, v) in checks {
            eprintln!("{name} value jump at {a}|{b}: {:.1e}", v[0] - v[1]);
            assert!(
                (v[0] - v[1]).abs() <= 3e-7,
                "{name} jumps at {a}|{b}: {v:?}"
            );
        }
        for u in [0.05, 0.5, 0.95] {
            let v = to_vec(d.icdf(Tensor::full([1, 2], u, &device)));
            assert!(
                (v[0] - v[1]).abs() <= 3e-7,
                "icdf(u={u}) jumps at {a}|{b}: {v:?}"
            );
        }
        let grads: [(&str, Vec<f64>); 4] = [
            (
                "ln C",
                grad_of(&ls, |d| d.log_norm_const().sum_dim(1).squeeze_dim(1)),
            ),
            ("mean", grad_of(&ls, |d| d.mean().sum_dim(1).squeeze_dim(1))),
            ("entropy", grad_of(&ls, |d| d.entropy())),
            (
                "icdf",
                grad_of(&ls, |d| {
                    d.icdf(Tensor::full([1, 2], 0.3, &d.device()))
                        .sum_dim(1)
                        .squeeze_dim(1)
                }),
            ),
        ];
        for (name, g) in grads {
            eprintln!("{name} gradient jump at {a}|{b}: {:.1e}", g[0] - g[1]);
            assert!(
                (g[0] - g[1]).abs() <= 1e-6,
                "{name} gradient jumps at {a}|{b}: {g:?}"
            );
        }
    }
}

// ---- robustness and API --------------------------------------------------------

#[test]
fn saturated_logits_stay_finite_with_finite_gradients() {
    let ls = [-1e4, -200.0, -88.0, -40.0, 40.0, 88.0, 200.0, 1e4];
    let device = Device::flex().autodiff();
    let logits = tensor2(&ls, [1, ls.len()], &device).require_grad();
    let d = ContinuousBernoulli::new(logits.clone()).expect("valid");
    let q = cb(&[0.5; 8], [1, 8], &device);
    let x = tensor2(
        &[0.0, 1.0, 0.5, 0.001, 0.999, 0.0, 1.0, 0.3],
        [1, 8],
        &device,
    );
    let u = tensor2(
        &[1e-7, 0.5, 0.99999994, 0.3, 0.7, 1e-7, 0.5, 0.99999994],
        [1, 8],
        &device,
    );
    let total = d.log_prob(x.clone()).sum()
        + d.entropy().sum()
        + d.mean().sum()
        + d.kl_divergence(&q).sum()
        + d.rsample_from_noise(u.clone()).sum();
    let v = to_vec(total.clone());
    assert!(v[0].is_finite(), "{v:?}");
    let g = to_vec(logits.grad(&total.backward()).expect("grad"));
    assert!(g.iter().all(|g| g.is_finite()), "{g:?}");
    for t in [
        d.log_prob_per_dim(x),
        d.entropy_per_dim(),
        d.mean(),
        d.icdf(u),
    ] {
        let v = to_vec(t);
        assert!(v.iter().all(|v| v.is_finite()), "{v:?}");
    }
}

#[test]
fn constructors_check_their_arguments() {
    let device = Device::flex();
    let empty = Tensor::<2>::zeros([0, 3], &device);
    match ContinuousBernoulli::new(empty) {
        Err(DistributionError::Shape { argument, .. }) => assert_eq!(argument, "logits"),
        other => panic!("expected a shape error, got {other:?}"),
    }
    match ContinuousBernoulli::from_probs(tensor2(&[0.2, 1.0], [1, 2], &device)) {
        Err(DistributionError::InvalidParameter { argument, .. }) => {
            assert_eq!(argument, "probs")
        }
        other => panic!("expected an invalid-parameter error, got {other:?}"),
    }
    let d = ContinuousBernoulli::from_probs(tensor2(&[0.2, 0.5, 0.9, 0.5], [2, 2], &device))
        .expect("valid probs");
    let l = to_vec(d.logits.clone());
    assert!((l[0] - (0.2f64 / 0.8).ln()).abs() < 1e-6 && l[1].abs() < 1e-7);
    let p = to_vec(d.probs());
    assert!((p[2] - 0.9).abs() < 1e-6);
    let d = d.with_event_shape(vec![1, 2]).expect("2 elements");
    assert_eq!(d.shape().event, vec![1, 2]);
    assert_eq!(d.shape().batch, vec![2]);
    assert!(d.with_event_shape(vec![3]).is_err());
}
