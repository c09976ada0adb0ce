//! 2-D toy densities: exact log-densities against SciPy, normalisation on a
//! grid, sampler-vs-density agreement (Monte-Carlo E[log p], chi-square on a
//! histogram) and analytic moments for the samplers without a density.
//! Fixed seeds; every tolerance is stated where it is used.

use deepgen_data::{DataError, ToyDensity};
use deepgen_tensor::HostRng;

const N: usize = 200_000;

fn samples(t: ToyDensity, seed: u64) -> Vec<[f64; 2]> {
    t.sample(N, &mut HostRng::seed_from_u64(seed))
}

/// Midpoint-rule integral of `exp(log p)` over `[-half, half]²` with step `h`.
fn grid_integral(t: ToyDensity, half: f64, h: f64) -> f64 {
    let n = (2.0 * half / h).round() as usize;
    let mut total = 0.0;
    for i in 0..n {
        let x = -half + (i as f64 + 0.5) * h;
        let mut row = 0.0;
        for j in 0..n {
            let y = -half + (j as f64 + 0.5) * h;
            row += t.log_density([x, y]).unwrap().exp();
        }
        total += row;
    }
    total * h * h
}

#[test]
fn log_density_matches_scipy() {
    // scipy.stats (SciPy 1.17.1): logsumexp of multivariate_normal(c_k, σ²I).logpdf - ln 8
    // for 8gaussians; log(Σ w_k (norm.pdf(ρ, r_k, .08) + norm.pdf(ρ, -r_k, .08)) / (2πρ)) for rings.
    let cases = [
        (ToyDensity::EightGaussians, [1.0, 0.5], -14.611973604359687),
        (ToyDensity::EightGaussians, [2.0, 2.0], -1.837877051951358),
        (ToyDensity::EightGaussians, [0.0, 0.0], -31.758435524729506),
        (ToyDensity::Rings, [1.5, 0.1], -2.249073406266923),
        (ToyDensity::Rings, [0.0, 2.3], -2.463281382566801),
        (ToyDensity::Rings, [1.2, 1.2], -5.403105596063025),
    ];
    for (t, x, want) in cases {
        let got = t.log_density(x).unwrap();
        assert!(
            (got - want).abs() < 1e-10 * want.abs().max(1.0),
            "{t} {x:?}: {got} vs {want}"
        );
    }
    // Checkerboard: 1/32 on black squares, 0 elsewhere.
    let c = ToyDensity::Checkerboard;
    assert_eq!(c.log_density([0.5, 0.5]), Some(-(32f64.ln())));
    assert_eq!(c.log_density([-3.0, -3.0]), Some(-(32f64.ln())));
    assert_eq!(c.log_density([2.5, 0.5]), Some(f64::NEG_INFINITY));
    assert_eq!(c.log_density([4.5, 0.5]), Some(f64::NEG_INFINITY));
    for t in [
        ToyDensity::TwoMoons,
        ToyDensity::TwoSpirals,
        ToyDensity::Pinwheel,
        ToyDensity::SwissRoll,
    ] {
        assert_eq!(t.log_density([0.0, 0.0]), None);
        assert!(!t.has_log_density());
    }
}

#[test]
fn densities_integrate_to_one() {
    // 8gaussians: the nearest centre is 3.17/σ = 9σ inside the box edge, the
    // midpoint rule on a smooth integrand is accurate far below 1e-9 (NumPy
    // gives 1.0000000000000429 on the same grid). Checkerboard: the grid
    // lines never cut a square, so the sum is exact up to rounding. Rings:
    // 16 steps per radial σ; the 1/|x| singularity at 0 carries ~e^-44 mass.
    let i8 = grid_integral(ToyDensity::EightGaussians, 6.0, 0.01);
    assert!((i8 - 1.0).abs() < 1e-9, "{i8}");
    let ic = grid_integral(ToyDensity::Checkerboard, 5.0, 0.01);
    assert!((ic - 1.0).abs() < 1e-9, "{ic}");
    let ir = grid_integral(ToyDensity::Rings, 4.0, 0.005);
    assert!((ir - 1.0).abs() < 1e-6, "{ir}");
}

#[test]
fn sample_average_log_density_matches_entropy() {
    // E[log p] references: 8gaussians −2.8315783605266045 (NumPy midpoint
    // grid h=0.005, unchanged at h=0.01), Var[log p] = 8.968022 − 2.831578² =
    // 0.9502; rings −2.744786884209906 (mpmath 1.4.1 radial quad), Var 0.49987.
    // Tolerance 5 standard errors: 5·sqrt(Var/N).
    for (t, mean, var) in [
        (ToyDensity::EightGaussians, -2.8315783605266045, 0.9502),
        (ToyDensity::Rings, -2.744786884209906, 0.49987),
    ] {
        let xs = samples(t, 21);
        let avg = xs.iter().map(|&x| t.log_density(x).unwrap()).sum::<f64>() / N as f64;
        let tol = 5.0 * (var / N as f64).sqrt();
        assert!((avg - mean).abs() < tol, "{t}: {avg} vs {mean} (tol {tol})");
    }
    // Checkerboard: every sample lies on a black square, so log p = −ln 32 exactly.
    let c = ToyDensity::Checkerboard;
    for x in samples(c, 22) {
        assert_eq!(c.log_density(x), Some(-(32f64.ln())), "{x:?}");
    }
}

/// Chi-square of sample counts on a 20×20 grid of 0.4-wide cells over
/// `[-4, 4]²` against the integrated density (40×40 midpoint sub-grid per
/// cell); cells expecting fewer than 5 are pooled with the outside.
fn chi_square(t: ToyDensity, seed: u64) -> (f64, usize) {
    let (cells, w, sub) = (20usize, 0.4, 40usize);
    let mut observed = vec![0f64; cells * cells + 1];
    for x in samples(t, seed) {
        let i = ((x[0] + 4.0) / w).floor();
        let j = ((x[1] + 4.0) / w).floor();
        let k = if (0.0..cells as f64).contains(&i) && (0.0..cells as f64).contains(&j) {
            i as usize * cells + j as usize
        } else {
            cells * cells
        };
        observed[k] += 1.0;
    }
    let hs = w / sub as f64;
    let mut expected = vec![0f64; cells * cells + 1];
    for i in 0..cells {
        for j in 0..cells {
            let mut m = 0.0;
            for a in 0..sub {
                for b in 0..sub {
                    let x = -4.0 + i as f64 * w + (a as f64 + 0.5) * hs;
                    let y = -4.0 + j as f64 * w + (b as f64 + 0.5) * hs;
                    m += t.log_density([x, y]).unwrap().exp();
                }
            }
            expected[i * cells + j] = m * hs * hs * N as f64;
        }
    }
    expected[cells * cells] = N as f64 - expected[..cells * cells].iter().sum::<f64>();
    let (mut chi2, mut bins, mut pool_o, mut pool_e) = (0.0, 0usize, 0.0, 0.0);
    for (o, e) in observed.iter().zip(&expected) {
        if *e >= 5.0 {
            chi2 += (o - e).powi(2) / e;
            bins += 1;
        } else {
            pool_o += o;
            pool_e += e;
        }
    }
    if pool_e >= 1.0 {
        chi2 += (pool_o - pool_e).powi(2) / pool_e;
        bins += 1;
    } else {
        // Where the density puts (almost) no mass, the sampler must not either.
        assert!(
            pool_o <= 10.0,
            "{t}: {pool_o} samples where {pool_e} are expected"
        );
    }
    (chi2, bins - 1)
}

#[test]
fn histograms_match_the_densities() {
    // Critical values: scipy.stats.chi2.ppf(0.999, df) (SciPy 1.17.1) for the
    // degrees of freedom these grids produce, asserted first so a change in
    // binning cannot silently weaken the test.
    for (t, seed, df_want, crit) in [
        (ToyDensity::EightGaussians, 31, DF_8G, CRIT_8G),
        (ToyDensity::Checkerboard, 32, DF_CB, CRIT_CB),
        (ToyDensity::Rings, 33, DF_RINGS, CRIT_RINGS),
    ] {
        let (chi2, df) = chi_square(t, seed);
        assert_eq!(df, df_want, "{t}");
        assert!(
            chi2 < crit,
            "{t}: chi2 {chi2} with {df} dof, 0.999 quantile {crit}"
        );
    }
}

#[test]
fn moments_match_analytic_values() {
    // (density, E x0, E x1, E|x|²). Derivations (mpmath 1.4.1 where an integral is needed):
    // moons: mean (0, 0.3); E|x|² = 3.04 + (2.29 − 4/π + 0.09) = 4.14676045526483731.
    // 8gaussians: 8 + 2σ² = 8.25. checkerboard: uniform marginals on [-4,4): 2·16/3.
    // 2spirals: E|d|²/9 + 0.02 = 5.10300682502040021 (quad over s with density 2s/9π²).
    // rings: Σ w_k (r_k² + σ²) = 5.6314. pinwheel: 4(1 + 0.3² + 0.1²) = 4.4, mean 0 by symmetry.
    // swissroll: mean (E[t cos t], E[t sin t])/5 = (0.4, 0.04244131815783876),
    // E|x|² = (E t² + 2)/25 = 3.92914571642484986.
    let cases = [
        (ToyDensity::TwoMoons, 0.0, 0.3, 4.146_760_455_264_837),
        (ToyDensity::EightGaussians, 0.0, 0.0, 8.25),
        (ToyDensity::Checkerboard, 0.0, 0.0, 32.0 / 3.0),
        (ToyDensity::TwoSpirals, 0.0, 0.0, 5.103_006_825_020_4),
        (ToyDensity::Rings, 0.0, 0.0, 5.6314),
        (ToyDensity::Pinwheel, 0.0, 0.0, 4.4),
        (
            ToyDensity::SwissRoll,
            0.4,
            0.04244131815783876,
            3.929_145_716_424_85,
        ),
    ];
    // Tolerance: 5 standard errors, estimated from the samples themselves.
    let check = |t: ToyDensity, what: &str, v: &[f64], want: f64| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        let tol = 5.0 * sd / (v.len() as f64).sqrt();
        assert!(
            (m - want).abs() < tol,
            "{t} {what}: {m} vs {want} (tol {tol})"
        );
    };
    for (k, (t, m0, m1, r2)) in cases.into_iter().enumerate() {
        let xs = samples(t, 40 + k as u64);
        assert!(xs.iter().all(|x| x[0].is_finite() && x[1].is_finite()));
        check(t, "E x0", &xs.iter().map(|x| x[0]).collect::<Vec<_>>(), m0);
        check(t, "E x1", &xs.iter().map(|x| x[1]).collect::<Vec<_>>(), m1);
        check(
            t,
            "E|x|²",
            &xs.iter()
                .map(|x| x[0] * x[0] + x[1] * x[1])
                .collect::<Vec<_>>(),
            r2,
        );
    }
}

#[test]
fn sampling_is_deterministic_per_seed() {
    for t in ToyDensity::ALL {
        let a = t.sample(100, &mut HostRng::seed_from_u64(7));
        assert_eq!(a, t.sample(100, &mut HostRng::seed_from_u64(7)), "{t}");
        assert_ne!(a, t.sample(100, &mut HostRng::seed_from_u64(8)), "{t}");
    }
}

#[test]
fn names_round_trip_and_unknown_names_are_errors() {
    for t in ToyDensity::ALL {
        assert_eq!(t.name().parse::<ToyDensity>().unwrap(), t);
        assert_eq!(t.to_string(), t.name());
    }
    assert_eq!(
        "Two-Moons".parse::<ToyDensity>().unwrap(),
        ToyDensity::TwoMoons
    );
    assert_eq!(
        "swiss_roll".parse::<ToyDensity>().unwrap(),
        ToyDensity::SwissRoll
    );
    let err = "banana".parse::<ToyDensity>().unwrap_err();
    assert!(matches!(err, DataError::UnknownName { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("banana") && msg.contains("8gaussians") && msg.contains("swissroll"),
        "{msg}"
    );
}

// Degrees of freedom of the grids above (cells expecting ≥ 5 samples, plus
// the pooled bin when it expects ≥ 1, minus one) and
// scipy.stats.chi2.ppf(0.999, df) (SciPy 1.17.1). Checkerboard: 200 cells lie
// on black squares, the pool expects 0 samples.
const DF_8G: usize = 241;
const CRIT_8G: f64 = 314.577744046206;
const DF_CB: usize = 199;
const CRIT_CB: f64 = 266.38589537626206;
const DF_RINGS: usize = 228;
const CRIT_RINGS: f64 = 299.723318082718;
