//! `Gumbel`: log-density, entropy and moments against SciPy's `gumbel_r`, sampled
//! moments and a Kolmogorov–Smirnov (DKW) test of the sampler, gradients.

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_distributions::{
    Distribution, DistributionError, EULER_GAMMA, Entropy, Gumbel, Rsample,
};
use deepgen_tensor::rng::HostRng;

fn devices() -> Vec<Device> {
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    vec![Device::flex(), ndarray]
}

fn t2(v: &[f64], shape: [usize; 2], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("f64 data")
}

/// (loc, scale) of the three test rows.
const PARAMS: [(f64, f64); 3] = [(0.0, 1.0), (1.5, 0.5), (-2.0, 3.0)];
const XS: [f64; 6] = [-3.0, -0.5, 0.0, 0.7, 2.5, 10.0];

/// Builds the `[3, 6]` distribution of PARAMS (each row's parameters repeated) via
/// `from_scale`, and the same via `new` with ln β.
fn rows(device: &Device) -> (Gumbel, Gumbel) {
    let loc: Vec<f64> = PARAMS.iter().flat_map(|p| [p.0; 6]).collect();
    let scale: Vec<f64> = PARAMS.iter().flat_map(|p| [p.1; 6]).collect();
    let log_scale: Vec<f64> = scale.iter().map(|s| s.ln()).collect();
    (
        Gumbel::from_scale(t2(&loc, [3, 6], device), t2(&scale, [3, 6], device)).unwrap(),
        Gumbel::new(t2(&loc, [3, 6], device), t2(&log_scale, [3, 6], device)).unwrap(),
    )
}

#[test]
fn log_prob_matches_scipy_gumbel_r() {
    // scipy.stats.gumbel_r.logpdf(XS, loc, scale) with SciPy 1.17.1, one row per
    // (loc, scale) in PARAMS.
    #[rustfmt::skip]
    let want: [f64; 18] = [
        -17.085536923187668, -1.1487212707001282, -1.0, -1.1965853037914096, -2.5820849986238987, -10.000045399929762,
        -8093.390780394824, -49.90500285258429, -16.392389742627724, -2.6598852438351694, -1.4421881026766674, -16.306852860839435,
        -2.160891380420866, -2.205142948380743, -2.2786960743673683, -2.4051819484087087, -2.82174244881654, -5.116927927556844,
    ];
    for device in devices() {
        let x: Vec<f64> = (0..3).flat_map(|_| XS).collect();
        for d in [rows(&device).0, rows(&device).1] {
            let got = floats(d.log_prob_per_dim(t2(&x, [3, 6], &device)));
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                // f32: z = (x−μ)/β carries ~1e-7 relative error, amplified by |z| in
                // e^{−z}; 1e-6 · max(1, |value|) covers z up to 9 (row 1, x = −3;
                // measured worst 6.1e-8).
                assert!(
                    (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                    "element {i}: {g} vs scipy {w}"
                );
            }
            let summed = floats(d.log_prob(t2(&x, [3, 6], &device)));
            for r in 0..3 {
                let w: f64 = want[r * 6..r * 6 + 6].iter().sum();
                assert!((summed[r] - w).abs() <= 1e-6 * w.abs().max(1.0));
            }
            // CDF exp(−e^{−z}) against the f64 closed form.
            let cdf = floats(d.cdf(t2(&x, [3, 6], &device)));
            for (i, c) in cdf.iter().enumerate() {
                let (m, s) = PARAMS[i / 6];
                let w = (-(-(XS[i % 6] - m) / s).exp()).exp();
                assert!((c - w).abs() < 1e-6, "cdf element {i}: {c} vs {w}");
            }
        }
    }
}

#[test]
fn entropy_mean_variance_match_scipy() {
    // scipy.stats.gumbel_r.entropy / mean / var (loc, scale) with SciPy 1.17.1.
    let entropy = [1.5772156649015328, 0.8840684843415875, 2.6758279535696428];
    let mean = [0.5772156649015329, 1.7886078324507664, -0.2683530052954013];
    let var = [1.6449340668482264, 0.4112335167120566, 14.804406601634037];
    for device in devices() {
        let (d, _) = rows(&device);
        let h = floats(d.entropy());
        let m = floats(d.mean());
        let v = floats(d.variance());
        for r in 0..3 {
            // entropy sums 6 identical dimensions
            assert!(
                (h[r] - 6.0 * entropy[r]).abs() < 1e-5,
                "{} vs {}",
                h[r],
                entropy[r]
            );
            assert!((m[r * 6] - mean[r]).abs() < 1e-6 * mean[r].abs().max(1.0));
            assert!((v[r * 6] - var[r]).abs() < 1e-6 * var[r]);
        }
    }
}

/// `n` samples of Gumbel(loc, scale) per row, `[2, n]`, returned per row on the host.
fn samples(device: &Device, seed: u64, n: usize) -> Vec<Vec<f64>> {
    let params = [(1.5, 0.5), (-2.0, 3.0)];
    let loc: Vec<f64> = params.iter().flat_map(|p| vec![p.0; n]).collect();
    let scale: Vec<f64> = params.iter().flat_map(|p| vec![p.1; n]).collect();
    let d = Gumbel::from_scale(t2(&loc, [2, n], device), t2(&scale, [2, n], device)).unwrap();
    let x = floats(d.sample(&mut HostRng::seed_from_u64(seed)));
    vec![x[..n].to_vec(), x[n..].to_vec()]
}

#[test]
fn sample_moments_match() {
    // n = 200_000 per row. SE(mean) = σ/√n with σ² = π²β²/6; SE(variance) =
    // σ²·√((κ − 1)/n) with kurtosis κ = 3 + 12/5 = 5.4 for the Gumbel distribution.
    // Tolerance 5 SE.
    let n = 200_000;
    let params = [(1.5, 0.5), (-2.0, 3.0)];
    let x = samples(&Device::flex(), 11, n);
    for (r, &(mu, beta)) in params.iter().enumerate() {
        let var_true = std::f64::consts::PI.powi(2) * beta * beta / 6.0;
        let m = x[r].iter().sum::<f64>() / n as f64;
        let v = x[r].iter().map(|a| (a - m).powi(2)).sum::<f64>() / (n - 1) as f64;
        let se_m = (var_true / n as f64).sqrt();
        let se_v = var_true * (4.4 / n as f64).sqrt();
        let m_true = mu + EULER_GAMMA * beta;
        assert!(
            (m - m_true).abs() < 5.0 * se_m,
            "row {r}: mean {m} vs {m_true}"
        );
        assert!(
            (v - var_true).abs() < 5.0 * se_v,
            "row {r}: var {v} vs {var_true}"
        );
    }
}

#[test]
fn samples_pass_a_kolmogorov_smirnov_test() {
    // sup_x |F_n(x) − F(x)| ≤ ε with probability ≥ 1 − 2e^{−2nε²} (Dvoretzky–Kiefer–
    // Wolfowitz, Massart's constant); ε = √(ln(2/1e-6)/(2n)) ≈ 0.0060 for n = 200_000,
    // i.e. a false alarm probability of 1e-6. F is the f64 closed-form CDF.
    let n = 200_000;
    let eps = ((2.0f64 / 1e-6).ln() / (2.0 * n as f64)).sqrt();
    let params = [(1.5, 0.5), (-2.0, 3.0)];
    let mut per_device = Vec::new();
    for device in devices() {
        let x = samples(&device, 12, n);
        for (r, &(mu, beta)) in params.iter().enumerate() {
            let mut s = x[r].clone();
            s.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let mut d: f64 = 0.0;
            for (i, &xi) in s.iter().enumerate() {
                let f = (-(-(xi - mu) / beta).exp()).exp();
                d = d.max((f - i as f64 / n as f64).abs());
                d = d.max(((i + 1) as f64 / n as f64 - f).abs());
            }
            assert!(d < eps, "row {r}: KS distance {d} ≥ {eps}");
        }
        per_device.push(x);
    }
    // Same host noise on both backends: the samples agree to f32 rounding.
    for (ra, rb) in per_device[0].iter().zip(&per_device[1]) {
        for (a, b) in ra.iter().zip(rb) {
            assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "{a} vs {b}");
        }
    }
}

#[test]
fn gradients_match_finite_differences() {
    // d/dμ and d/d(ln β) of Σ log_prob(x) (x fixed) and of Σ w·rsample(g) (g fixed),
    // against central differences (h = 1e-6) of the f64 formulas; tolerance
    // 5e-6 · max(1, |value|) (f32; measured worst 4.9e-7).
    let host_lp = |x: f64, mu: f64, s: f64| {
        let z = (x - mu) * (-s).exp();
        -z - (-z).exp() - s
    };
    let (mu, s) = (0.3f32 as f64, -0.4f32 as f64);
    let xs = [-1.0, 0.2, 0.9, 3.0];
    let gs = [-0.7, 0.1, 1.3, 2.2];
    let w = [0.5, -1.0, 2.0, 0.25];
    for device in devices() {
        let device = device.autodiff();
        let loc = t2(&[mu; 4], [1, 4], &device).require_grad();
        let ls = t2(&[s; 4], [1, 4], &device).require_grad();
        let d = Gumbel::new(loc.clone(), ls.clone()).unwrap();
        let grads = d.log_prob(t2(&xs, [1, 4], &device)).sum().backward();
        let (gl, gs_) = (
            floats(loc.grad(&grads).unwrap()),
            floats(ls.grad(&grads).unwrap()),
        );
        let h = 1e-6;
        for (i, &x) in xs.iter().enumerate() {
            let x = x as f32 as f64;
            let fd_mu = (host_lp(x, mu + h, s) - host_lp(x, mu - h, s)) / (2.0 * h);
            let fd_s = (host_lp(x, mu, s + h) - host_lp(x, mu, s - h)) / (2.0 * h);
            assert!(
                (gl[i] - fd_mu).abs() < 5e-6 * fd_mu.abs().max(1.0),
                "{} vs {fd_mu}",
                gl[i]
            );
            assert!(
                (gs_[i] - fd_s).abs() < 5e-6 * fd_s.abs().max(1.0),
                "{} vs {fd_s}",
                gs_[i]
            );
        }
        let y = d.rsample_from_noise(t2(&gs, [1, 4], &device)) * t2(&w, [1, 4], &device);
        let grads = y.sum().backward();
        let (gl, gs_) = (
            floats(loc.grad(&grads).unwrap()),
            floats(ls.grad(&grads).unwrap()),
        );
        for i in 0..4 {
            // x = μ + e^{s} g: dx/dμ = 1, dx/ds = e^{s} g
            let want_s = w[i] * s.exp() * (gs[i] as f32 as f64);
            assert!((gl[i] - w[i]).abs() < 1e-7);
            assert!((gs_[i] - want_s).abs() < 1e-6, "{} vs {want_s}", gs_[i]);
        }
    }
}

#[test]
fn constructors_name_the_bad_argument() {
    let device = Device::flex();
    let loc = t2(&[0.0, 1.0], [1, 2], &device);
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        match Gumbel::from_scale(loc.clone(), t2(&[1.0, bad], [1, 2], &device)) {
            Err(DistributionError::InvalidParameter { argument, .. }) => {
                assert_eq!(argument, "scale")
            }
            other => panic!("scale {bad}: expected InvalidParameter, got {other:?}"),
        }
    }
    match Gumbel::new(loc, t2(&[0.0; 3], [1, 3], &device)) {
        Err(DistributionError::Shape { argument, .. }) => assert_eq!(argument, "log_scale"),
        other => panic!("expected Shape, got {other:?}"),
    }
    let std = Gumbel::standard([2, 3], &device)
        .with_event_shape(vec![3, 1])
        .unwrap();
    assert_eq!(std.shape().event, vec![3, 1]);
    assert!(
        Gumbel::standard([2, 3], &device)
            .with_event_shape(vec![2])
            .is_err()
    );
}
