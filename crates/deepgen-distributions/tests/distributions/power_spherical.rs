//! The power spherical distribution: density and normalisation, entropy and KL,
//! the sampler's law, and the reparameterisation gradients in κ and μ.
//!
//! Reference values come from the Python snippets quoted at each use (the
//! authors' `power_spherical` package is not installed, so the
//! references implement the paper's formulas — De Cao & Aziz 2020,
//! arXiv:2006.04437 — directly in NumPy/SciPy f64, cross-checked with mpmath).
//! Statistical tests use fixed seeds with ~5 standard-error (or DKW, δ = 1e-6)
//! tolerances; each was also run locally with three other seeds (the
//! committed seed + 1000, 2000 and 3000) to check it is not flaky.

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_distributions::gamma::{beta_from_log_gammas, gamma_cdf};
use deepgen_distributions::sphere::{log_sphere_surface_area, uniform_directions};
use deepgen_distributions::{
    Distribution, DistributionError, Entropy, KlDivergence, PowerSpherical, PowerSphericalNoise,
    Rsample, UniformSphere,
};
use deepgen_tensor::numerics::host::{digamma, lgamma};
use deepgen_tensor::rng::HostRng;

fn devices() -> Vec<Device> {
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    vec![Device::flex(), ndarray]
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

fn tensor1(v: &[f64], device: &Device) -> Tensor<1> {
    let v32: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v32, [v.len()]), device)
}

fn tensor2(v: &[f64], shape: [usize; 2], device: &Device) -> Tensor<2> {
    let v32: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v32, shape), device)
}

fn r32(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&x| x as f32 as f64).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn normalised(v: &[f64]) -> Vec<f64> {
    let n = dot(v, v).sqrt();
    v.iter().map(|x| x / n).collect()
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    (
        m,
        (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt(),
    )
}

/// `n` copies of one distribution: loc rows all `mu`, κ all `kappa`.
fn replicated(mu: &[f64], kappa: f64, n: usize, device: &Device) -> PowerSpherical {
    let m = mu.len();
    let loc: Vec<f64> = (0..n).flat_map(|_| mu.iter().copied()).collect();
    PowerSpherical::new(
        tensor2(&loc, [n, m], device),
        tensor1(&vec![kappa; n], device),
    )
    .unwrap()
}

fn e1(m: usize, sign: f64) -> Vec<f64> {
    let mut e = vec![0.0; m];
    e[0] = sign;
    e
}

/// f64 host version of the documented Householder map (see the `sphere` module).
fn householder_host(mu: &[f64], x: &[f64]) -> Vec<f64> {
    let s = if mu[0] > 0.0 { -1.0 } else { 1.0 };
    let mut u: Vec<f64> = mu.iter().map(|m| -s * m).collect();
    u[0] += 1.0;
    let c = 2.0 * dot(&u, x) / dot(&u, &u);
    x.iter().zip(&u).map(|(xi, ui)| s * (xi - c * ui)).collect()
}

/// f64 host version of the sampler's map from noise to x.
fn host_sample(mu: &[f64], log_x: f64, log_y: f64, v: &[f64]) -> Vec<f64> {
    let (z, zc) = beta_from_log_gammas(log_x, log_y);
    let mut y = vec![z - zc];
    let s = 2.0 * (z * zc).sqrt();
    y.extend(v.iter().map(|vi| s * vi));
    householder_host(mu, &y)
}

/// The paper's formulas in f64: (ln N, H) for dimension m and concentration κ.
fn host_log_norm_entropy(kappa: f64, m: usize) -> (f64, f64) {
    let b = (m as f64 - 1.0) / 2.0;
    let a = b + kappa;
    let ln2 = std::f64::consts::LN_2;
    let ln_n = -((a + b) * ln2 + b * std::f64::consts::PI.ln() + lgamma(a) - lgamma(a + b));
    (ln_n, -ln_n - kappa * (ln2 + digamma(a) - digamma(a + b)))
}

/// Gamma(α) quantile by bisection on `gamma_cdf` (to f64 resolution).
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

/// (μ, four points x flattened, [(κ, expected log_prob at each x)]).
type LogProbCase<'a> = (&'a [f64], Vec<f64>, &'a [(f64, [f64; 4]); 5]);

#[test]
fn log_prob_matches_paper_formula() {
    // NumPy 2.4.6 / SciPy 1.17.1, float64, inputs rounded to float32 first:
    //   def log_norm(k, m):
    //       a = (m-1)/2 + k; b = (m-1)/2
    //       return -((a+b)*np.log(2) + b*np.log(np.pi) + gammaln(a) - gammaln(a+b))
    //   def log_prob(x, mu, k): return log_norm(k, len(mu)) + k*np.log1p(np.dot(mu, x))
    //   rng = np.random.default_rng(0); for m in [3, 10]: mu = normalised N(0, I)
    //   draw, xs = 4 normalised draws with xs[0] = mu (the mode), all float32.
    let mu3 = [0.1888171136379242, -0.19839031994342804, 0.9617636799812317];
    let xs3 = [
        [0.1888171136379242, -0.19839031994342804, 0.9617636799812317],
        [0.7415052056312561, 0.5385470986366272, -0.4001712501049042],
        [
            -0.8967022895812988,
            -0.4416643977165222,
            0.029284393414855003,
        ],
        [
            -0.8784069418907166,
            -0.08266045898199081,
            -0.4707106649875641,
        ],
    ];
    let want3: [(f64, [f64; 4]); 5] = [
        (0.0, [-2.5310242469692907; 4]),
        (
            0.5,
            [
                -2.1255591394659126,
                -2.688836548475093,
                -2.499638687493789,
                -2.933000052991662,
            ],
        ),
        (
            3.0,
            [
                -1.1447298894781204,
                -4.524394343533204,
                -3.3892071776453783,
                -5.989375370632616,
            ],
        ),
        (
            50.0,
            [
                1.4008013252764044,
                -54.926939575641654,
                -36.00715347751123,
                -79.34329002729852,
            ],
        ),
        (
            1000.0,
            [
                4.37772932277278,
                -1122.1770886955883,
                -743.7813667329799,
                -1610.5040977287258,
            ],
        ),
    ];
    let mu10 = [
        -0.31353089213371277,
        -0.23303237557411194,
        -0.1354285031557083,
        0.1762455850839615,
        0.44636720418930054,
        -0.05503397807478905,
        0.5850711464881897,
        -0.2848127484321594,
        0.15050412714481354,
        0.3868338465690613,
    ];
    let xs10 = [
        mu10,
        [
            0.11360946297645569,
            -0.2090231329202652,
            -0.04143631458282471,
            0.25062990188598633,
            0.47743651270866394,
            -0.40251192450523376,
            0.48398780822753906,
            0.43026426434516907,
            0.24977822601795197,
            0.08454408496618271,
        ],
        [
            -0.0818190649151802,
            0.3800102770328522,
            0.5109106302261353,
            0.4695679247379303,
            0.34276121854782104,
            0.09314560890197754,
            -0.314929336309433,
            -0.0011609001085162163,
            0.17109991610050201,
            -0.3357912302017212,
        ],
        [
            0.14328975975513458,
            0.15588870644569397,
            0.2524176836013794,
            -0.42941662669181824,
            -0.2399643510580063,
            -0.15827186405658722,
            -0.42422497272491455,
            0.6307762861251831,
            -0.17984046041965485,
            0.11929979920387268,
        ],
    ];
    let want10: [(f64, [f64; 4]); 5] = [
        (0.0, [-3.2387427794590007; 4]),
        (
            0.5,
            [
                -2.8783295261383617,
                -3.012577603877671,
                -3.329975368244381,
                -3.824055148552101,
            ],
        ),
        (
            3.0,
            [
                -1.4216655336019182,
                -2.2271540000377725,
                -4.131540586238034,
                -7.096019268084355,
            ],
        ),
        (
            50.0,
            [
                6.743376325423085,
                -6.681431448507819,
                -38.421207885178845,
                -87.82918591595086,
            ],
        ),
        (
            1000.0,
            [
                19.723313101499457,
                -248.77284237711865,
                -883.5683711105391,
                -1871.7279317259793,
            ],
        ),
    ];
    let mut worst = 0.0f64;
    for device in devices() {
        let cases: [LogProbCase; 2] = [
            (&mu3, xs3.concat(), &want3),
            (&mu10, xs10.concat(), &want10),
        ];
        for (mu, xs, wants) in cases {
            let m = mu.len();
            for (kappa, want) in wants {
                let d = replicated(mu, *kappa, 4, &device);
                let got = values(d.log_prob(tensor2(&xs, [4, m], &device)));
                for (g, w) in got.iter().zip(want) {
                    // f32: the sum ln N + κ·ln(1 + μᵀx) rounds on the scale of its
                    // terms, |ln N| ≈ κ ln 2 for large κ, hence the κ in the scale.
                    let err = (g - w).abs() / (1.0 + w.abs() + kappa);
                    worst = worst.max(err);
                    assert!(err < 5e-7, "m={m} κ={kappa}: {g} vs {w}");
                }
            }
        }
    }
    eprintln!("worst relative log_prob error: {worst:e}");
}

/// Composite Simpson rule on `[0, π]` with `n` (even) intervals.
fn simpson(f: &[f64]) -> f64 {
    let n = f.len() - 1;
    let h = std::f64::consts::PI / n as f64;
    let mut s = f[0] + f[n];
    for (i, v) in f.iter().enumerate().take(n).skip(1) {
        s += if i % 2 == 1 { 4.0 * v } else { 2.0 * v };
    }
    s * h / 3.0
}

#[test]
fn density_integrates_to_one() {
    // ∫_{S^{m−1}} p dx = |S^{m−2}|·∫₀^π p(cos θ)·sin^{m−2}θ dθ, with p evaluated by
    // our own (f32) log_prob at x(θ) = cos θ·μ + sin θ·w (w ⊥ μ), Simpson's rule
    // with 2000 intervals (the integrand is smooth in θ for every κ ≥ 0).
    let n = 2000;
    let mut rng = HostRng::seed_from_u64(11);
    let device = Device::flex();
    for m in [2, 3, 5, 10] {
        let mu = uniform_directions(&mut rng, 1, m);
        let g = uniform_directions(&mut rng, 1, m);
        let w = normalised(
            &g.iter()
                .zip(&mu)
                .map(|(gi, mi)| gi - dot(&g, &mu) * mi)
                .collect::<Vec<_>>(),
        );
        let mut xs = Vec::with_capacity((n + 1) * m);
        let thetas: Vec<f64> = (0..=n)
            .map(|i| std::f64::consts::PI * i as f64 / n as f64)
            .collect();
        for th in &thetas {
            xs.extend(mu.iter().zip(&w).map(|(a, b)| th.cos() * a + th.sin() * b));
        }
        for kappa in [0.0, 0.5, 3.0, 20.0, 200.0] {
            let d = replicated(&mu, kappa, n + 1, &device);
            let lp = values(d.log_prob(tensor2(&xs, [n + 1, m], &device)));
            let f: Vec<f64> = lp
                .iter()
                .zip(&thetas)
                .map(|(l, th)| l.exp() * th.sin().powi(m as i32 - 2))
                .collect();
            let total = log_sphere_surface_area(m - 1).exp() * simpson(&f);
            assert!((total - 1.0).abs() < 1e-4, "m={m} κ={kappa}: ∫p = {total}");
        }
    }
}

#[test]
fn entropy_and_log_normalizer_match_reference() {
    // mpmath 1.4.1, mp.dps = 50 (SciPy f64 agrees to ≤ 1e-11 relative):
    //   k = mp.mpf(k); a = mp.mpf(m-1)/2 + k; b = mp.mpf(m-1)/2
    //   lnN = -((a+b)*mp.log(2) + b*mp.log(mp.pi) + mp.loggamma(a) - mp.loggamma(a+b))
    //   H = -lnN - k*(mp.log(2) + mp.digamma(a) - mp.digamma(a+b))
    let cases = [
        (2, 0.0, -1.8378770664093455, 1.8378770664093455),
        (2, 0.5, -1.7328679513998633, 1.6931471805599453),
        (3, 1.0, -2.5310242469692908, 2.3378770664093455),
        (3, 10.0, -7.064600779770373, 1.0422198832618293),
        (10, 2.5, -3.4097277982045315, 2.9904968328979544),
        (100, 1000.0, -472.9810955333895, -174.0578049338029),
        (3, 1e5, -69305.73614477658, -7.981921217850939),
    ];
    for device in devices() {
        for (m, kappa, ln_n, h) in cases {
            let d = replicated(&e1(m, 1.0), kappa, 2, &device);
            let got_n = values(d.log_normalizer());
            let got_h = values(d.entropy());
            let got_kl = values(d.kl_divergence(&UniformSphere::new(2, m, &device).unwrap()));
            let kl = -h + log_sphere_surface_area(m);
            for i in 0..2 {
                assert!(
                    (got_n[i] - ln_n).abs() < 1e-6 * (1.0 + ln_n.abs()),
                    "m={m} κ={kappa}"
                );
                assert!(
                    (got_h[i] - h).abs() < 1e-6 * (1.0 + h.abs()),
                    "m={m} κ={kappa}"
                );
                assert!(
                    (got_kl[i] - kl).abs() < 1e-6 * (1.0 + kl.abs()),
                    "m={m} κ={kappa}"
                );
            }
            if kappa == 0.0 {
                assert!(
                    got_kl.iter().all(|k| k.abs() < 1e-6),
                    "κ = 0 is uniform: {got_kl:?}"
                );
            }
        }
    }
}

#[test]
fn entropy_and_kl_match_monte_carlo() {
    // H = −E[log p(x)] and KL(p‖U) = E[log p(x)] + ln|S^{m−1}| estimated with n
    // samples; SE = sd(log p)/√n; tolerance 5 SE. This checks the sign and the
    // derivation of the closed forms independently of the paper.
    let n = 20_000;
    let device = Device::flex();
    let mut rng = HostRng::seed_from_u64(12);
    for (m, kappa) in [(2, 0.7), (3, 2.0), (10, 25.0), (5, 300.0)] {
        let mu = uniform_directions(&mut rng, 1, m);
        let d = replicated(&mu, kappa, n, &device);
        let x = d.sample(&mut rng);
        let lp = values(d.log_prob(x));
        let (mean_lp, sd) = mean_sd(&lp);
        let se = sd / (n as f64).sqrt();
        let h = values(d.entropy())[0];
        let kl = values(d.kl_divergence(&UniformSphere::new(n, m, &device).unwrap()))[0];
        assert!(
            (h + mean_lp).abs() < 5.0 * se,
            "m={m} κ={kappa}: H {h} vs MC {}",
            -mean_lp
        );
        let kl_mc = mean_lp + log_sphere_surface_area(m);
        assert!(
            (kl - kl_mc).abs() < 5.0 * se,
            "m={m} κ={kappa}: KL {kl} vs MC {kl_mc}"
        );
    }
}

#[test]
fn moments_match_closed_forms() {
    // E[μᵀx] = (α−β)/(α+β) = κ/(κ+m−1); E[x] = E[μᵀx]·μ; and
    // E[xxᵀ] = E[t²]μμᵀ + (1 − E[t²])/(m−1)·(I − μμᵀ), t = μᵀx = 2z − 1 with
    // z ~ Beta(α, β), Var t = 4αβ/((α+β)²(α+β+1)). Tolerance 5 SE from the
    // sample standard deviations, n = 20000.
    let n = 20_000;
    let mut rng = HostRng::seed_from_u64(13);
    for device in devices() {
        for (m, kappa, mu) in [
            (4, 3.0, uniform_directions(&mut rng, 1, 4)),
            (3, 0.0, e1(3, 1.0)),
            (2, 1.5, e1(2, -1.0)),
            (10, 40.0, uniform_directions(&mut rng, 1, 10)),
        ] {
            let mu = r32(&mu);
            let d = replicated(&mu, kappa, n, &device);
            let rho = values(d.mean_resultant_length())[0];
            let mf = m as f64;
            assert!((rho - kappa / (kappa + mf - 1.0)).abs() < 1e-6);
            let mean_dir = values(d.mean());
            assert!((0..m).all(|j| (mean_dir[j] - rho * mu[j]).abs() < 1e-6));
            let x = values(d.sample(&mut rng));
            let (a, b) = ((mf - 1.0) / 2.0 + kappa, (mf - 1.0) / 2.0);
            let var_t = 4.0 * a * b / ((a + b).powi(2) * (a + b + 1.0));
            let et2 = var_t + rho * rho;
            for row in x.chunks(m) {
                assert!((dot(row, row) - 1.0).abs() < 1e-5);
            }
            let t: Vec<f64> = x.chunks(m).map(|r| dot(r, &mu)).collect();
            let (mt, sd) = mean_sd(&t);
            assert!(
                (mt - rho).abs() < 5.0 * sd / (n as f64).sqrt(),
                "m={m} κ={kappa}: E[μᵀx] {mt} vs {rho}"
            );
            for i in 0..m {
                let xi: Vec<f64> = x.chunks(m).map(|r| r[i]).collect();
                let (mx, sdx) = mean_sd(&xi);
                assert!(
                    (mx - rho * mu[i]).abs() < 5.0 * sdx / (n as f64).sqrt() + 1e-7,
                    "E[x{i}]"
                );
                for j in 0..m {
                    let xij: Vec<f64> = x.chunks(m).map(|r| r[i] * r[j]).collect();
                    let (mij, sdij) = mean_sd(&xij);
                    let delta = if i == j { 1.0 } else { 0.0 };
                    let want =
                        et2 * mu[i] * mu[j] + (1.0 - et2) / (mf - 1.0) * (delta - mu[i] * mu[j]);
                    assert!(
                        (mij - want).abs() < 5.0 * sdij / (n as f64).sqrt() + 1e-7,
                        "m={m} κ={kappa}: E[x{i}x{j}] {mij} vs {want}"
                    );
                }
            }
        }
    }
}

/// Max over the 9 probabilities 0.1..0.9 of |empirical CDF(x_q) − q|.
fn max_cdf_gap(mut draws: Vec<f64>, quantiles: &[f64]) -> f64 {
    draws.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = draws.len() as f64;
    quantiles
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let below = draws.partition_point(|d| d <= x) as f64;
            (below / n - 0.1 * (i + 1) as f64).abs()
        })
        .fold(0.0, f64::max)
}

#[test]
fn sampled_cosine_follows_the_beta_law() {
    // z = (1 + μᵀx)/2 ~ Beta(α, β): empirical CDF at the Beta quantiles of
    // 0.1..0.9 vs the DKW bound ε = √(ln(2/δ)/(2n)), δ = 1e-6 (n = 50000: 0.0120).
    // Quantiles: SciPy 1.17.1 scipy.stats.beta.ppf([0.1, ..., 0.9], a, b).
    let n = 50_000;
    let eps = ((2.0f64 / 1e-6).ln() / (2.0 * n as f64)).sqrt();
    let mut rng = HostRng::seed_from_u64(14);
    let device = Device::flex();
    // m = 10, κ = 2: Beta(6.5, 4.5); random μ.
    let q_10 = [
        0.40031561850318675,
        0.4671049026449318,
        0.5161134912633114,
        0.5579508791195473,
        0.596607519549893,
        0.6344693530768275,
        0.6737173500744131,
        0.7175037197928574,
        0.7734832070102853,
    ];
    // m = 2, κ = 0.5: Beta(1, 0.5) (ppf 1 − (1−q)²); μ = e₁ exactly.
    let q_2 = [0.19, 0.36, 0.51, 0.64, 0.75, 0.84, 0.91, 0.96, 0.99];
    // m = 3, κ = 5: Beta(6, 1), CDF z⁶, ppf q^{1/6}; μ = −e₁ exactly.
    let q_3: Vec<f64> = (1..10).map(|i| (0.1 * i as f64).powf(1.0 / 6.0)).collect();
    let mu10 = r32(&uniform_directions(&mut rng, 1, 10));
    for (m, kappa, mu, q) in [
        (10, 2.0, mu10, q_10.to_vec()),
        (2, 0.5, e1(2, 1.0), q_2.to_vec()),
        (3, 5.0, e1(3, -1.0), q_3),
    ] {
        let d = replicated(&mu, kappa, n, &device);
        let x = values(d.sample(&mut rng));
        let z: Vec<f64> = x.chunks(m).map(|r| 0.5 * (1.0 + dot(r, &mu))).collect();
        let gap = max_cdf_gap(z, &q);
        assert!(gap < eps, "m={m} κ={kappa}: gap {gap} ≥ {eps}");
    }
    // m = 5, κ = 1e4 (concentrated): 1 − z ~ Beta(2, 10002), computed from the
    // sample as ‖x − μ‖²/4 (no cancellation); μ = e₁.
    let q_conc = [
        5.316645556385002e-05,
        8.241483018925729e-05,
        0.00010970147673690245,
        0.00013759826501427111,
        0.0001677786747245295,
        0.00020216034260401385,
        0.00024383095210993503,
        0.0002993111939130358,
        0.0003887991973983796,
    ];
    let mu = e1(5, 1.0);
    let d = replicated(&mu, 1e4, n, &device);
    let x = values(d.sample(&mut rng));
    let one_minus_z: Vec<f64> = x
        .chunks(5)
        .map(|r| r.iter().zip(&mu).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / 4.0)
        .collect();
    let gap = max_cdf_gap(one_minus_z, &q_conc);
    assert!(gap < eps, "κ = 1e4: gap {gap} ≥ {eps}");
}

/// f(x) = cᵀx + (dᵀx)², the test function of the gradient tests.
fn test_fn(x: &[f64], c: &[f64], d: &[f64]) -> f64 {
    dot(c, x) + dot(d, x).powi(2)
}

fn test_fn_tensor(
    x: Tensor<2>,
    c: &[f64],
    d: &[f64],
    shape: [usize; 2],
    device: &Device,
) -> Tensor<1> {
    let lin = (x.clone() * tensor2(c, shape, device))
        .sum_dim(1)
        .squeeze_dim::<1>(1);
    let quad = (x * tensor2(d, shape, device))
        .sum_dim(1)
        .squeeze_dim::<1>(1)
        .square();
    lin + quad
}

#[test]
fn kappa_gradient_matches_common_random_number_finite_differences() {
    // Common random numbers: X_b = F⁻¹_Γ(u_b; α_b) (Gamma quantile of a fixed
    // uniform), Y_b and v_b fixed. The implicit gradient is the derivative of
    // this coupling, so the autodiff gradient of Σ_b f(x_b) in κ_b must equal the
    // central f64 finite difference of the f64 host sampler at κ_b ± h
    // (h = 1e-4·max(κ, 1); truncation ~h², quantile resolution ~1e-16/h).
    let m = 5;
    let kappas = [0.05, 0.3, 1.0, 2.0, 7.5, 30.0, 150.0, 1000.0];
    let b = kappas.len();
    let beta = (m as f64 - 1.0) / 2.0;
    let mut rng = HostRng::seed_from_u64(15);
    let mu = r32(&uniform_directions(&mut rng, 1, m));
    let u: Vec<f64> = (0..b).map(|_| rng.uniform_open()).collect();
    let log_y: Vec<f64> = (0..b)
        .map(|_| deepgen_distributions::gamma::gamma_log(&mut rng, beta))
        .collect();
    let v = r32(&uniform_directions(&mut rng, b, m - 1));
    let c: Vec<f64> = r32(&(0..b * m).map(|_| rng.normal()).collect::<Vec<_>>());
    let dv: Vec<f64> = r32(&(0..b * m).map(|_| rng.normal()).collect::<Vec<_>>());
    let f_host = |row: usize, kappa: f64| {
        let lx = gamma_quantile(u[row], beta + kappa).ln();
        let x = host_sample(&mu, lx, log_y[row], &v[row * (m - 1)..(row + 1) * (m - 1)]);
        test_fn(&x, &c[row * m..(row + 1) * m], &dv[row * m..(row + 1) * m])
    };
    let mut worst = 0.0f64;
    for device in devices() {
        let ad = device.clone().autodiff();
        let kappa = tensor1(&kappas, &ad).require_grad();
        let loc: Vec<f64> = (0..b).flat_map(|_| mu.iter().copied()).collect();
        let d = PowerSpherical::new(tensor2(&loc, [b, m], &ad), kappa.clone()).unwrap();
        let noise = PowerSphericalNoise {
            log_gamma_alpha: (0..b)
                .map(|i| gamma_quantile(u[i], beta + kappas[i]).ln())
                .collect(),
            log_gamma_beta: log_y.clone(),
            direction: tensor2(&v, [b, m - 1], &ad),
        };
        let x = d.rsample_from_noise(noise);
        // The forward pass agrees with the f64 host sampler.
        let xv = values(x.clone());
        for i in 0..b {
            let want = host_sample(
                &mu,
                gamma_quantile(u[i], beta + kappas[i]).ln(),
                log_y[i],
                &v[i * (m - 1)..(i + 1) * (m - 1)],
            );
            for j in 0..m {
                assert!(
                    (xv[i * m + j] - want[j]).abs() < 1e-6,
                    "row {i}: x {:?} vs {want:?}",
                    &xv[i * m..(i + 1) * m]
                );
            }
        }
        let loss = test_fn_tensor(x, &c, &dv, [b, m], &ad).sum();
        let g = values(kappa.grad(&loss.backward()).unwrap());
        for (i, &k) in kappas.iter().enumerate() {
            let h = 1e-4 * k.max(1.0);
            let fd = (f_host(i, k + h) - f_host(i, k - h)) / (2.0 * h);
            let err = (g[i] - fd).abs() / (fd.abs() + 1e-3);
            worst = worst.max(err);
            assert!(
                err < 1e-3,
                "κ={k}: autodiff {} vs finite difference {fd}",
                g[i]
            );
        }
    }
    eprintln!("worst relative κ-gradient error: {worst:e}");
}

#[test]
fn kappa_gradient_is_unbiased() {
    // With the sampler's own noise: d/dκ E[μᵀx] = d/dκ κ/(κ+m−1) = (m−1)/(κ+m−1)².
    // Per-row pathwise derivatives are i.i.d.; tolerance 5 SE of their mean.
    let n = 20_000;
    let mut rng = HostRng::seed_from_u64(16);
    for (m, k0) in [(3, 1.0), (10, 20.0), (2, 0.2)] {
        let ad = Device::flex().autodiff();
        let mu = r32(&uniform_directions(&mut rng, 1, m));
        let kappa = tensor1(&vec![k0; n], &ad).require_grad();
        let loc: Vec<f64> = (0..n).flat_map(|_| mu.iter().copied()).collect();
        let loc_t = tensor2(&loc, [n, m], &ad);
        let d = PowerSpherical::new(loc_t.clone(), kappa.clone()).unwrap();
        let x = d.rsample(&mut rng);
        let loss = (x * loc_t).sum();
        let g = values(kappa.grad(&loss.backward()).unwrap());
        let (mg, sd) = mean_sd(&g);
        let mf = m as f64;
        let want = (mf - 1.0) / (k0 + mf - 1.0).powi(2);
        assert!(g.iter().all(|x| x.is_finite()));
        assert!(
            (mg - want).abs() < 5.0 * sd / (n as f64).sqrt(),
            "m={m} κ={k0}: {mg} vs {want}"
        );
    }
}

#[test]
fn loc_gradient_matches_finite_differences() {
    // μ = p/‖p‖ inside the graph; noise fixed (μ enters only through H(μ)).
    // Autodiff gradient in p vs central f64 finite differences (h = 1e-6) of the
    // f64 host sampler. Rows: p = ±e₁ exactly and random p with |μ₁| > 0.05.
    let m = 4;
    let mut rng = HostRng::seed_from_u64(17);
    let mut ps = vec![e1(m, 1.0), e1(m, -1.0)];
    while ps.len() < 8 {
        let p: Vec<f64> = (0..m).map(|_| rng.normal()).collect();
        if (p[0] / dot(&p, &p).sqrt()).abs() > 0.05 {
            ps.push(r32(&p));
        }
    }
    let b = ps.len();
    let kappas = [0.5, 3.0, 10.0, 0.0, 1.0, 50.0, 2.0, 7.0];
    let beta = (m as f64 - 1.0) / 2.0;
    let log_x: Vec<f64> = kappas
        .iter()
        .map(|k| deepgen_distributions::gamma::gamma_log(&mut rng, beta + k))
        .collect();
    let log_y: Vec<f64> = (0..b)
        .map(|_| deepgen_distributions::gamma::gamma_log(&mut rng, beta))
        .collect();
    let v = r32(&uniform_directions(&mut rng, b, m - 1));
    let c = r32(&(0..b * m).map(|_| rng.normal()).collect::<Vec<_>>());
    let dv = r32(&(0..b * m).map(|_| rng.normal()).collect::<Vec<_>>());
    let f_host = |row: usize, p: &[f64]| {
        let mu = normalised(p);
        let x = host_sample(
            &mu,
            log_x[row],
            log_y[row],
            &v[row * (m - 1)..(row + 1) * (m - 1)],
        );
        test_fn(&x, &c[row * m..(row + 1) * m], &dv[row * m..(row + 1) * m])
    };
    for device in devices() {
        let ad = device.clone().autodiff();
        let p = tensor2(&ps.concat(), [b, m], &ad).require_grad();
        let loc = p.clone() / p.clone().square().sum_dim(1).sqrt();
        let d = PowerSpherical::new(loc, tensor1(&kappas, &ad)).unwrap();
        let noise = PowerSphericalNoise {
            log_gamma_alpha: log_x.clone(),
            log_gamma_beta: log_y.clone(),
            direction: tensor2(&v, [b, m - 1], &ad),
        };
        let loss = test_fn_tensor(d.rsample_from_noise(noise), &c, &dv, [b, m], &ad).sum();
        let g = values(p.grad(&loss.backward()).unwrap());
        assert!(g.iter().all(|x| x.is_finite()));
        for (row, p0) in ps.iter().enumerate() {
            for j in 0..m {
                let h = 1e-6;
                let (mut pp, mut pm) = (p0.clone(), p0.clone());
                pp[j] += h;
                pm[j] -= h;
                let fd = (f_host(row, &pp) - f_host(row, &pm)) / (2.0 * h);
                assert!(
                    (g[row * m + j] - fd).abs() < 1e-4 * (1.0 + fd.abs()),
                    "row {row} ∂/∂p[{j}]: autodiff {} vs finite difference {fd}",
                    g[row * m + j]
                );
            }
        }
    }
}

#[test]
fn loc_gradient_is_unbiased_on_both_householder_branches() {
    // E[cᵀx] = ρ·cᵀμ with μ = p/‖p‖, so ∇_p E = ρ·(I − μμᵀ)c/‖p‖. The pathwise
    // gradient through H(μ) (whose branch depends on the sign of μ₁) must be
    // unbiased on both sides. Tolerance 5 SE of the per-row gradients.
    let n = 20_000;
    let m = 3;
    let kappa = 4.0;
    let mut rng = HostRng::seed_from_u64(18);
    let c = [0.3, -1.2, 0.8];
    for p0 in [[0.6, -0.3, 0.5], [-0.6, 0.4, 0.2], [1.0, 0.0, 0.0]] {
        let ad = Device::flex().autodiff();
        let ps: Vec<f64> = (0..n).flat_map(|_| p0.iter().copied()).collect();
        let p = tensor2(&ps, [n, m], &ad).require_grad();
        let loc = p.clone() / p.clone().square().sum_dim(1).sqrt();
        let d = PowerSpherical::new(loc, tensor1(&vec![kappa; n], &ad)).unwrap();
        let x = d.rsample(&mut rng);
        let cs: Vec<f64> = (0..n).flat_map(|_| c.iter().copied()).collect();
        let loss = (x * tensor2(&cs, [n, m], &ad)).sum();
        let g = values(p.grad(&loss.backward()).unwrap());
        let p32 = r32(&p0);
        let norm = dot(&p32, &p32).sqrt();
        let mu = normalised(&p32);
        let rho = kappa / (kappa + m as f64 - 1.0);
        for j in 0..m {
            let want = rho * (c[j] - mu[j] * dot(&mu, &c)) / norm;
            let gj: Vec<f64> = g.chunks(m).map(|r| r[j]).collect();
            let (mg, sd) = mean_sd(&gj);
            assert!(
                (mg - want).abs() < 5.0 * sd / (n as f64).sqrt() + 1e-6,
                "p={p0:?} ∂/∂p[{j}]: {mg} vs {want}"
            );
        }
    }
}

#[test]
fn closed_form_gradients_in_kappa() {
    // Autodiff gradients of log_normalizer, entropy and log_prob in κ vs central
    // f64 finite differences of the paper's formulas (h = 1e-5·max(κ, 1)).
    let m = 6;
    let kappas = [0.0, 0.4, 2.0, 15.0, 300.0, 1e4];
    let b = kappas.len();
    let mut rng = HostRng::seed_from_u64(19);
    let mu = r32(&uniform_directions(&mut rng, 1, m));
    let xs = r32(&uniform_directions(&mut rng, b, m));
    for device in devices() {
        let ad = device.clone().autodiff();
        let loc: Vec<f64> = (0..b).flat_map(|_| mu.iter().copied()).collect();
        let grad_of = |which: usize| {
            let kappa = tensor1(&kappas, &ad).require_grad();
            let d = PowerSpherical::new(tensor2(&loc, [b, m], &ad), kappa.clone()).unwrap();
            let out = match which {
                0 => d.log_normalizer(),
                1 => d.entropy(),
                _ => d.log_prob(tensor2(&xs, [b, m], &ad)),
            };
            values(kappa.grad(&out.sum().backward()).unwrap())
        };
        for (which, name) in ["log_normalizer", "entropy", "log_prob"].iter().enumerate() {
            let g = grad_of(which);
            for (i, &k) in kappas.iter().enumerate() {
                let f = |kk: f64| {
                    let (ln_n, h) = host_log_norm_entropy(kk, m);
                    match which {
                        0 => ln_n,
                        1 => h,
                        _ => ln_n + kk * dot(&mu, &xs[i * m..(i + 1) * m]).ln_1p(),
                    }
                };
                let h = 1e-5 * k.max(1.0);
                // One-sided at κ = 0 (the parameter space ends there), O(h).
                let fd = if k == 0.0 {
                    (f(h) - f(0.0)) / h
                } else {
                    (f(k + h) - f(k - h)) / (2.0 * h)
                };
                let tol = if k == 0.0 { 1e-4 } else { 1e-5 };
                assert!(
                    (g[i] - fd).abs() < tol * (1.0 + fd.abs()),
                    "{name} κ={k}: autodiff {} vs finite difference {fd}",
                    g[i]
                );
            }
        }
    }
}

#[test]
fn uniform_limit_pole_and_antipode() {
    for device in devices() {
        let m = 4;
        let mut rng = HostRng::seed_from_u64(20);
        // κ = 0 is the uniform distribution.
        let d = replicated(&e1(m, 1.0), 0.0, 3, &device);
        let x = uniform_sphere_rows(&mut rng, 3, m, &device);
        let lp = values(d.log_prob(x));
        assert!(
            lp.iter()
                .all(|l| (l + log_sphere_surface_area(m)).abs() < 1e-6)
        );
        // μ = e₁ exactly: finite unit samples with finite gradients.
        let ad = device.clone().autodiff();
        let kappa = tensor1(&[0.0, 1.0, 1e3], &ad).require_grad();
        let loc =
            tensor2(&[e1(m, 1.0), e1(m, 1.0), e1(m, 1.0)].concat(), [3, m], &ad).require_grad();
        let d = PowerSpherical::new(loc.clone(), kappa.clone()).unwrap();
        let x = d.rsample(&mut rng);
        let xv = values(x.clone());
        assert!(xv.iter().all(|v| v.is_finite()));
        for r in xv.chunks(m) {
            assert!((dot(r, r) - 1.0).abs() < 1e-5);
        }
        let grads = x.sum().backward();
        assert!(
            values(kappa.grad(&grads).unwrap())
                .iter()
                .all(|v| v.is_finite())
        );
        assert!(
            values(loc.grad(&grads).unwrap())
                .iter()
                .all(|v| v.is_finite())
        );
        // The antipode x = −μ: density 0 (log −inf) for κ > 0, uniform for κ = 0,
        // and no NaN in values or gradients.
        let kappa = tensor1(&[0.0, 2.0], &ad).require_grad();
        let d = PowerSpherical::new(
            tensor2(&[e1(m, 1.0), e1(m, 1.0)].concat(), [2, m], &ad),
            kappa.clone(),
        )
        .unwrap();
        let lp = d.log_prob(tensor2(&[e1(m, -1.0), e1(m, -1.0)].concat(), [2, m], &ad));
        let lpv = values(lp.clone());
        assert!(
            (lpv[0] + log_sphere_surface_area(m)).abs() < 1e-6,
            "{lpv:?}"
        );
        assert_eq!(lpv[1], f64::NEG_INFINITY);
        let g = values(kappa.grad(&lp.sum().backward()).unwrap());
        assert!(g.iter().all(|v| !v.is_nan()), "{g:?}");
    }
}

fn uniform_sphere_rows(rng: &mut HostRng, b: usize, m: usize, device: &Device) -> Tensor<2> {
    UniformSphere::new(b, m, device).unwrap().sample(rng)
}

#[test]
fn rsample_is_deterministic_and_backend_independent() {
    let m = 6;
    let mut outs = Vec::new();
    for device in devices() {
        let mut rng = HostRng::seed_from_u64(21);
        let mu = uniform_directions(&mut rng, 3, m);
        let d = PowerSpherical::new(
            tensor2(&mu, [3, m], &device),
            tensor1(&[0.5, 5.0, 80.0], &device),
        )
        .unwrap();
        let noise = d.sample_noise(&mut rng);
        let a = values(d.rsample_from_noise(noise.clone()));
        let b = values(d.rsample_from_noise(noise));
        assert_eq!(a, b);
        let mut r1 = HostRng::seed_from_u64(22);
        let mut r2 = HostRng::seed_from_u64(22);
        assert_eq!(values(d.sample(&mut r1)), values(d.rsample(&mut r2)));
        assert_eq!(d.shape().batch, vec![3]);
        assert_eq!(d.shape().event, vec![m]);
        assert_eq!(d.dim(), m);
        outs.push(a);
    }
    for (x, y) in outs[0].iter().zip(&outs[1]) {
        assert!((x - y).abs() < 1e-6, "flex {x} vs ndarray {y}");
    }
}

#[test]
fn constructor_rejects_bad_arguments() {
    let device = Device::flex();
    let unit = tensor2(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], [2, 3], &device);
    // κ < 0 or NaN.
    for bad in [-0.1, f64::NAN, f64::INFINITY] {
        match PowerSpherical::new(unit.clone(), tensor1(&[1.0, bad], &device)) {
            Err(DistributionError::InvalidParameter {
                argument: "concentration",
                ..
            }) => {}
            other => panic!("κ = {bad}: {other:?}"),
        }
    }
    // κ of the wrong length.
    match PowerSpherical::new(unit.clone(), tensor1(&[1.0, 1.0, 1.0], &device)) {
        Err(DistributionError::Shape {
            argument: "concentration",
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // Non-unit μ (beyond 1e-4), and NaN.
    for row in [[1.001, 0.0, 0.0], [0.5, 0.5, 0.0], [f64::NAN, 0.0, 0.0]] {
        let loc = tensor2(&[row, [0.0, 1.0, 0.0]].concat(), [2, 3], &device);
        match PowerSpherical::new(loc, tensor1(&[1.0, 1.0], &device)) {
            Err(DistributionError::InvalidParameter {
                argument: "loc", ..
            }) => {}
            other => panic!("{row:?}: {other:?}"),
        }
    }
    // Within tolerance is accepted.
    let loc = tensor2(&[1.00005, 0.0, 0.0], [1, 3], &device);
    assert!(PowerSpherical::new(loc, tensor1(&[1.0], &device)).is_ok());
    // m < 2 and empty batches.
    match PowerSpherical::new(
        tensor2(&[1.0, 1.0], [2, 1], &device),
        tensor1(&[1.0, 1.0], &device),
    ) {
        Err(DistributionError::Shape {
            argument: "loc", ..
        }) => {}
        other => panic!("{other:?}"),
    }
    match PowerSpherical::new(
        Tensor::<2>::zeros([0, 3], &device),
        Tensor::<1>::zeros([0], &device),
    ) {
        Err(DistributionError::Shape {
            argument: "loc", ..
        }) => {}
        other => panic!("{other:?}"),
    }
}
