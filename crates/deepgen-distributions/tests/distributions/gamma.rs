//! Host Gamma/Beta samplers, the incomplete gamma function and the implicit
//! reparameterisation gradient of `deepgen_distributions::gamma`.
//!
//! Statistical tests use fixed seeds with tolerances of ~5 standard errors (each
//! also run locally with the committed seeds + 1000, 2000 and 3000 to check it
//! is not flaky); the distributional tests use the Dvoretzky–Kiefer–Wolfowitz bound
//! `P(sup |F_n − F| > ε) ≤ 2 exp(−2nε²)`, with `ε = √(ln(2/δ)/(2n))`, δ = 1e-6.

use burn::tensor::Device;
use deepgen_distributions::DistributionError;
use deepgen_distributions::gamma::{
    beta, beta_from_log_gammas, beta_pair, beta_sample, gamma, gamma_cdf, gamma_log, gamma_log_grad,
};
use deepgen_tensor::rng::HostRng;

/// Probabilities at which the quantile references below were taken.
const QS: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// DKW half-width for `n` draws at confidence 1 − 1e-6.
fn dkw_eps(n: usize) -> f64 {
    ((2.0f64 / 1e-6).ln() / (2.0 * n as f64)).sqrt()
}

/// Max over the 9 points of |empirical CDF(x_q) − q|.
fn max_cdf_gap(mut draws: Vec<f64>, quantiles: &[f64; 9]) -> f64 {
    draws.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = draws.len() as f64;
    QS.iter()
        .zip(quantiles)
        .map(|(q, x)| {
            let below = draws.partition_point(|d| d <= x) as f64;
            (below / n - q).abs()
        })
        .fold(0.0, f64::max)
}

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    (
        m,
        xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0),
    )
}

#[test]
fn gamma_moments() {
    // Gamma(α): mean α, variance α, fourth central moment 3α² + 6α. With n draws
    // SE(mean) = √(α/n) and SE(sample variance) ≈ √((μ₄ − σ⁴)/n) = √((2α² + 6α)/n).
    let n = 200_000;
    let mut rng = HostRng::seed_from_u64(1);
    for alpha in [0.3, 1.0, 2.5, 50.0] {
        let xs: Vec<f64> = (0..n).map(|_| gamma(&mut rng, alpha)).collect();
        assert!(xs.iter().all(|x| x.is_finite() && *x >= 0.0));
        let (m, v) = mean_var(&xs);
        let se_m = (alpha / n as f64).sqrt();
        let se_v = ((2.0 * alpha * alpha + 6.0 * alpha) / n as f64).sqrt();
        assert!((m - alpha).abs() < 5.0 * se_m, "α={alpha}: mean {m}");
        assert!((v - alpha).abs() < 5.0 * se_v, "α={alpha}: var {v}");
    }
}

#[test]
fn gamma_log_is_log_of_gamma_with_same_stream() {
    for alpha in [0.3, 1.0, 2.5, 50.0] {
        let mut a = HostRng::seed_from_u64(9);
        let mut b = HostRng::seed_from_u64(9);
        for _ in 0..1000 {
            let x = gamma(&mut a, alpha);
            let lx = gamma_log(&mut b, alpha);
            assert!((x.ln() - lx).abs() < 1e-12, "α={alpha}: {x} {lx}");
        }
    }
    // Tiny shapes: X underflows (ln X ≈ −1000·Exp(1)) but ln X stays finite.
    let mut rng = HostRng::seed_from_u64(5);
    let logs: Vec<f64> = (0..1000).map(|_| gamma_log(&mut rng, 1e-3)).collect();
    assert!(logs.iter().all(|l| l.is_finite()));
    assert!(
        logs.iter().any(|l| *l < -745.0),
        "some draws underflow in linear space"
    );
}

#[test]
fn gamma_matches_scipy_cdf_dkw() {
    // scipy 1.17.1: [repr(float(v)) for v in scipy.stats.gamma.ppf(
    //     [0.1, 0.2, ..., 0.9], a)] for a in [0.3, 1.0, 2.5, 50.0]
    let cases: [(f64, [f64; 9]); 4] = [
        (
            0.3,
            [
                0.0003237246218234327,
                0.0032703395246849493,
                0.012726657769948713,
                0.03373979264658412,
                0.07313113586695198,
                0.14125250363107117,
                0.2565649133210521,
                0.4600738869878518,
                0.8848107733602443,
            ],
        ),
        (
            1.0,
            [
                0.10536051565782636,
                0.22314355131420974,
                0.35667494393873245,
                0.5108256237659908,
                0.6931471805599455,
                0.9162907318741557,
                1.203972804325936,
                1.6094379124341005,
                std::f64::consts::LN_10, // scipy: 2.302585092994046 (= ln 10)
            ],
        ),
        (
            2.5,
            [
                0.8051539934811613,
                1.1712671529205605,
                1.499954066379953,
                1.8277498115707937,
                2.175730095547763,
                2.5659335372009084,
                3.032214992077454,
                3.6446380633244804,
                4.618178449890562,
            ],
        ),
        (
            50.0,
            [
                41.179067906178574,
                43.97266796137551,
                46.06447216944835,
                47.90392392898677,
                49.66706461799423,
                51.4729721077284,
                53.45288032692255,
                55.83335657914517,
                59.24900190553106,
            ],
        ),
    ];
    let n = 100_000;
    let eps = dkw_eps(n); // 0.0085
    let mut rng = HostRng::seed_from_u64(2);
    for (alpha, quantiles) in cases {
        let draws: Vec<f64> = (0..n).map(|_| gamma(&mut rng, alpha)).collect();
        let gap = max_cdf_gap(draws, &quantiles);
        assert!(gap < eps, "α={alpha}: gap {gap} ≥ DKW ε {eps}");
        // The same points through our own CDF: gamma_cdf(α, ppf(q)) = q.
        for (q, x) in QS.iter().zip(quantiles) {
            let p = gamma_cdf(alpha, x);
            assert!(
                (p - q).abs() < 1e-13,
                "gamma_cdf({alpha}, {x}) = {p}, want {q}"
            );
        }
    }
}

#[test]
fn beta_matches_scipy_cdf_dkw() {
    // scipy 1.17.1: [repr(float(v)) for v in scipy.stats.beta.ppf(
    //     [0.1, 0.2, ..., 0.9], a, b)] for (a, b) in
    //     [(0.3, 0.5), (1.0, 1.5), (2.5, 2.5), (50.0, 1.0)]
    let cases: [(f64, f64, [f64; 9]); 4] = [
        (
            0.3,
            0.5,
            [
                0.0013131137154795674,
                0.013174791021094772,
                0.05016357642506319,
                0.12680843675975564,
                0.25220501012895724,
                0.42366163216905683,
                0.6218699773391089,
                0.8114333830331851,
                0.9493778627668765,
            ],
        ),
        (
            1.0,
            1.5,
            [
                0.06783024821384234,
                0.1382261239872465,
                0.21162648368947576,
                0.28862133910198745,
                0.3700394750525634,
                0.4571164766810188,
                0.5518595253442835,
                0.6580048106646605,
                0.7845565309968117,
            ],
        ),
        (
            2.5,
            2.5,
            [
                0.22456860241035653,
                0.3098355525419824,
                0.3786479422654177,
                0.44067851150455284,
                0.5,
                0.5593214884954474,
                0.6213520577345824,
                0.6901644474580176,
                0.7754313975896435,
            ],
        ),
        (
            50.0,
            1.0,
            [
                0.954992586021436,
                0.9683237857256298,
                0.9762081409977836,
                0.9818410820426713,
                0.9862327044933592,
                0.9898354988129041,
                0.9928918841319302,
                0.9955470727844663,
                0.9978950082958632,
            ],
        ),
    ];
    let n = 100_000;
    let eps = dkw_eps(n);
    let mut rng = HostRng::seed_from_u64(3);
    for (a, b, quantiles) in cases {
        let draws: Vec<f64> = (0..n).map(|_| beta(&mut rng, a, b)).collect();
        assert!(draws.iter().all(|z| (0.0..=1.0).contains(z)));
        // Mean a/(a+b), variance ab/((a+b)²(a+b+1)); SE = √(var/n).
        let (m, _) = mean_var(&draws);
        let var = a * b / ((a + b).powi(2) * (a + b + 1.0));
        let se = (var / n as f64).sqrt();
        assert!(
            (m - a / (a + b)).abs() < 5.0 * se,
            "Beta({a},{b}): mean {m}"
        );
        let gap = max_cdf_gap(draws, &quantiles);
        assert!(gap < eps, "Beta({a},{b}): gap {gap} ≥ DKW ε {eps}");
    }
}

#[test]
fn beta_pair_complement_is_accurate() {
    // 1 − Z is computed as σ(ln Y − ln X), not by subtraction: it keeps its
    // relative precision when Z rounds to 1.
    let (z, zc) = beta_from_log_gammas(50.0, 0.0);
    assert_eq!(z, 1.0);
    let want = (-50.0f64).exp() / (1.0 + (-50.0f64).exp());
    assert!((zc - want).abs() <= 1e-15 * want, "{zc} {want}");
    let mut rng = HostRng::seed_from_u64(4);
    for _ in 0..1000 {
        let (z, zc) = beta_pair(&mut rng, 50.0, 0.5);
        assert!(z > 0.0 && zc > 0.0);
        assert!((z + zc - 1.0).abs() < 1e-15);
    }
}

#[test]
fn gamma_cdf_matches_mpmath() {
    // mpmath 1.4.1, mp.dps = 50: mp.gammainc(a, 0, x, regularized=True), rounded
    // to the nearest f64.
    let cases = [
        (0.3, 0.01, 0.27924099635901484),
        (0.3, 2.0, 0.977974019172853),
        (1.0, 0.5, 0.3934693402873666),
        (2.5, 3.6, 0.7938140802904441),
        (50.0, 45.0, 0.24680203440017026),
        (50.0, 60.0, 0.9155933189063081),
        (1e4, 1e4, 0.5013298083399552),
        (0.5, 1e-8, 0.00011283791633342487),
    ];
    for (a, x, want) in cases {
        let got = gamma_cdf(a, x);
        // Measured worst: 1.1e-13 relative at α = x = 1e4 (the prefactor exponent
        // α ln x − x − lgamma(α+1) is a difference of ~1e5-sized terms).
        assert!(
            (got - want).abs() <= 1e-12 * want,
            "P({a}, {x}) = {got}, want {want}"
        );
    }
    assert_eq!(gamma_cdf(2.0, 0.0), 0.0);
    assert_eq!(gamma_cdf(2.0, f64::INFINITY), 1.0);
}

#[test]
fn gamma_log_grad_matches_mpmath() {
    // ∂ ln X/∂α = (∂Q(α, x)/∂α) / (x·f(x; α)), with Q the regularised upper
    // incomplete gamma function. mpmath 1.4.1, mp.dps = 50:
    //   a, x = mp.mpf(a), mp.mpf(x)
    //   g = x**(a-1)*mp.exp(-x)/mp.gamma(a)
    //   dQ = mp.diff(lambda aa: mp.gammainc(aa, x, mp.inf, regularized=True), a)
    //   mp.nstr(dQ/g/x, 17)   (as f64 literals)
    // The grid covers both tails (series and continued-fraction branches and
    // their switch at x = α + 1) for α ∈ {0.3, 1, 2.5, 50, 1e4}.
    let cases = [
        (0.3, 1e-10, 76.18886680963678),
        (0.3, 0.01, 14.920695356145887),
        (0.3, 0.3, 5.086666057399236),
        (0.3, 2.0, 1.7820551606234607),
        (0.3, 30.0, 0.22606488863841904),
        (1.0, 1e-05, 11.935771978830514),
        (1.0, 0.5, 1.613958233650636),
        (1.0, 1.9, 0.8393926793383224),
        (1.0, 2.1, 0.7938804586198231),
        (1.0, 40.0, 0.10726248085237744),
        (2.5, 0.1, 1.4054979297366988),
        (2.5, 2.0, 0.47673135145930825),
        (2.5, 3.4, 0.3651891413301188),
        (2.5, 3.6, 0.35433014290477245),
        (2.5, 25.0, 0.1085123268398661),
        (50.0, 30.0, 0.025625805084174788),
        (50.0, 49.5, 0.020167805501477494),
        (50.0, 51.5, 0.01977168427968965),
        (50.0, 70.0, 0.016879608039505795),
        (50.0, 120.0, 0.012547459016381746),
        (10000.0, 9700.0, 0.00010153238375822036),
        (10000.0, 9999.0, 0.00010000666710002905),
        (10000.0, 10001.5, 9.999416730825927e-05),
        (10000.0, 10300.0, 9.85309829296649e-05),
        (10000.0, 11000.0, 9.531176784310087e-05),
    ];
    let mut worst = 0.0f64;
    for (a, x, want) in cases {
        let got = gamma_log_grad(f64::ln(x), a);
        let rel = ((got - want) / want).abs();
        worst = worst.max(rel);
        assert!(
            rel < 1e-11,
            "∂lnX/∂α at α={a}, x={x}: {got}, want {want} (rel {rel:e})"
        );
    }
    // Tiny shape, ln x = −500 (x underflows): same snippet with a = 0.001,
    // x = mp.exp(-500).
    let got = gamma_log_grad(-500.0, 1e-3);
    let want = 499424.4280681897;
    assert!(((got - want) / want).abs() < 1e-11, "{got} {want}");
    eprintln!("worst relative error vs mpmath: {worst:e}");
}

/// `F⁻¹(u; α)` by bisection on [`gamma_cdf`] (to f64 resolution).
fn gamma_quantile(u: f64, alpha: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, alpha + 50.0 * alpha.sqrt() + 50.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if gamma_cdf(alpha, mid) < u {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[test]
fn gamma_log_grad_is_the_quantile_derivative() {
    // Implicit gradient = derivative of the inverse CDF at fixed u: compare with a
    // central f64 finite difference of F⁻¹(u; α ± h), h = 1e-5·α (truncation
    // ~h², bisection resolution ~1e-16·x/h).
    for alpha in [0.7, 3.0, 40.0] {
        for u in [0.01, 0.3, 0.5, 0.8, 0.999] {
            let h = 1e-5 * alpha;
            let x = gamma_quantile(u, alpha);
            let fd = (gamma_quantile(u, alpha + h) - gamma_quantile(u, alpha - h)) / (2.0 * h);
            let got = x * gamma_log_grad(x.ln(), alpha);
            assert!(
                (got - fd).abs() < 1e-6 * fd.abs(),
                "α={alpha}, u={u}: implicit {got}, finite difference {fd}"
            );
        }
    }
}

#[test]
fn implicit_gradient_is_unbiased() {
    // d/dα E[X] = 1 and d/dα E[X²/2] = α + ½, so E[∂X/∂α] = 1 and
    // E[X·∂X/∂α] = α + ½ over X ~ Gamma(α). Tolerance: 5 SE from the sample std.
    let n = 50_000;
    let mut rng = HostRng::seed_from_u64(6);
    for alpha in [0.3, 2.5, 50.0] {
        let (mut g1, mut g2) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            let lx = gamma_log(&mut rng, alpha);
            let dx = lx.exp() * gamma_log_grad(lx, alpha);
            g1.push(dx);
            g2.push(lx.exp() * dx);
        }
        for (g, want) in [(g1, 1.0), (g2, alpha + 0.5)] {
            let (m, v) = mean_var(&g);
            let se = (v / n as f64).sqrt();
            assert!(
                (m - want).abs() < 5.0 * se,
                "α={alpha}: {m} vs {want} (SE {se})"
            );
        }
    }
}

#[test]
fn beta_sample_tensor_and_errors() {
    #[allow(deprecated)]
    for device in [Device::flex(), Device::ndarray()] {
        let mut rng = HostRng::seed_from_u64(8);
        let z = beta_sample(&mut rng, &[0.5, 2.0, 30.0], &[0.5, 2.0, 1.0], &device).unwrap();
        assert_eq!(z.dims(), [3]);
        let v = z.into_data().convert::<f64>().try_to_vec::<f64>().unwrap();
        // Same stream on the host.
        let mut rng = HostRng::seed_from_u64(8);
        for (i, (a, b)) in [(0.5, 0.5), (2.0, 2.0), (30.0, 1.0)].iter().enumerate() {
            let want = beta(&mut rng, *a, *b);
            assert!((v[i] - want).abs() < 1e-7, "{} {}", v[i], want);
        }

        let mut rng = HostRng::seed_from_u64(8);
        match beta_sample(&mut rng, &[1.0, -1.0], &[1.0, 1.0], &device) {
            Err(DistributionError::InvalidParameter { argument: "a", .. }) => {}
            other => panic!("{other:?}"),
        }
        match beta_sample(&mut rng, &[1.0], &[f64::NAN], &device) {
            Err(DistributionError::InvalidParameter { argument: "b", .. }) => {}
            other => panic!("{other:?}"),
        }
        match beta_sample(&mut rng, &[1.0, 2.0], &[1.0], &device) {
            Err(DistributionError::Shape { argument: "b", .. }) => {}
            other => panic!("{other:?}"),
        }
        match beta_sample(&mut rng, &[], &[], &device) {
            Err(DistributionError::Shape { argument: "a", .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}

#[test]
#[should_panic(expected = "shape parameter must be finite and > 0")]
fn gamma_rejects_zero_shape() {
    let mut rng = HostRng::seed_from_u64(0);
    gamma(&mut rng, 0.0);
}
