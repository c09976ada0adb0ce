//! `Categorical`: log-mass, entropy and KL against SciPy, NaN-freedom with zero
//! probabilities, gradients, and the Gumbel-max sampler (the "reparameterisation"
//! construction: argmax of logits plus Gumbel noise) against softmax frequencies.

use burn::tensor::{Device, Int, Tensor, TensorData};
use deepgen_distributions::{
    Categorical, Distribution, DistributionError, Entropy, KlDivergence, noise,
};
use deepgen_tensor::numerics::host;
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

fn idx(v: &[i64], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("f64 data")
}

fn ints(t: Tensor<1, Int>) -> Vec<i64> {
    t.into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .expect("i64 data")
}

const NEG_INF: f64 = f64::NEG_INFINITY;

/// The test logits (rows are batch elements). Row 2 has a `−∞` logit and one of
/// `−1e30` (its probability underflows to 0 in f32 and f64).
#[rustfmt::skip]
const LOGITS: [f64; 15] = [
    0.5, -1.25, 2.0, 0.0, -0.75,
    3.0, 3.0, -2.5, 1.5, 0.25,
    1.0, NEG_INF, 0.5, -1e30, -0.5,
];

/// Row `r` of [`LOGITS`] on the host.
fn row(r: usize) -> &'static [f64] {
    &LOGITS[r * 5..r * 5 + 5]
}

/// f64 host log-softmax (the reference for gradients and Monte Carlo).
fn host_log_softmax(l: &[f64]) -> Vec<f64> {
    let lse = host::logsumexp(l);
    l.iter().map(|x| x - lse).collect()
}

#[test]
fn log_prob_matches_scipy_log_softmax() {
    // scipy.special.log_softmax(rows) with SciPy 1.17.1, rows = LOGITS rounded to
    // float32 then to float64 (so −1e30 is −1.0000000150474662e30):
    //   rows = np.array(LOGITS, dtype=np.float32).astype(np.float64).reshape(3, 5)
    //   log_softmax(r) for r in rows
    #[rustfmt::skip]
    let want: [f64; 15] = [
        -1.8792357822011794, -3.6292357822011794, -0.37923578220117937, -2.3792357822011794, -3.1292357822011794,
        -0.8290516021698707, -0.8290516021698707, -6.329051602169871, -2.3290516021698706, -3.5790516021698706,
        -0.6041306053367284, NEG_INF, -1.1041306053367284, -1.0000000150474662e+30, -2.1041306053367284,
    ];
    for device in devices() {
        let d = Categorical::new(t2(&LOGITS, [3, 5], &device)).unwrap();
        assert_eq!(d.shape().batch, vec![3]);
        assert!(d.shape().event.is_empty());
        assert_eq!(d.num_categories(), 5);
        let all = floats(d.log_probs());
        for k in 0..5 {
            let got = floats(d.log_prob(idx(&[k, k, k], &device)));
            for r in 0..3 {
                let w = want[r * 5 + k as usize];
                for g in [got[r], all[r * 5 + k as usize]] {
                    // f32: ≤ 1e-6 · max(1, |value|) (a few ulps of the row's logsumexp;
                    // measured worst 6.6e-8)
                    let ok = if w.is_infinite() {
                        g == w
                    } else {
                        (g - w).abs() <= 1e-6 * w.abs().max(1.0)
                    };
                    assert!(ok, "row {r}, k {k}: got {g}, want {w}");
                }
            }
        }
        // probs = exp(log_probs) sums to 1 per row, with exact zeros where masked.
        let p = floats(d.probs());
        for r in 0..3 {
            let s: f64 = p[r * 5..r * 5 + 5].iter().sum();
            assert!((s - 1.0).abs() < 1e-6, "row {r} sums to {s}");
        }
        assert_eq!(p[11], 0.0);
        assert_eq!(p[13], 0.0);
        assert_eq!(ints(d.mode()), vec![2, 0, 0]);
    }
}

#[test]
fn from_probs_checks_values_and_names_probs() {
    for device in devices() {
        let probs = [0.1, 0.2, 0.3, 0.4, 0.5, 0.0, 0.25, 0.25];
        let d = Categorical::from_probs(t2(&probs, [2, 4], &device)).unwrap();
        let got = floats(d.log_probs());
        for (g, p) in got.iter().zip(probs) {
            if p == 0.0 {
                assert_eq!(*g, NEG_INF);
            } else {
                // ln of the f32-rounded probability, f32 accuracy
                assert!((g - (p as f32 as f64).ln()).abs() < 1e-6, "{g} vs ln {p}");
            }
        }
        // ln 2 − (1/2)·... : entropy of (0.5, 0, 0.25, 0.25) = 1.5 ln 2, no NaN.
        let h = floats(d.entropy());
        assert!((h[1] - 1.5 * std::f64::consts::LN_2).abs() < 1e-6, "{h:?}");

        for (bad, why) in [
            (vec![0.5, 0.6, -0.1], "negative"),
            (vec![0.5, 0.4, 0.0], "sums to 0.9"),
            (vec![0.5, f64::NAN, 0.5], "NaN"),
            (vec![0.5, f64::INFINITY, 0.5], "inf"),
        ] {
            match Categorical::from_probs(t2(&bad, [1, 3], &device)) {
                Err(DistributionError::InvalidParameter { argument, .. }) => {
                    assert_eq!(argument, "probs", "{why}")
                }
                other => panic!("{why}: expected an InvalidParameter error, got {other:?}"),
            }
        }
        let empty = Tensor::<2>::zeros([2, 0], &device);
        match Categorical::new(empty) {
            Err(DistributionError::Shape { argument, .. }) => assert_eq!(argument, "logits"),
            other => panic!("expected a Shape error, got {other:?}"),
        }
    }
}

#[test]
fn entropy_matches_scipy_and_has_no_nan_with_zero_probabilities() {
    // scipy.stats.entropy(scipy.special.softmax(r)) with SciPy 1.17.1, r as above.
    let want = [1.0000979302808135, 1.0616750937663078, 0.9528075640133673];
    for device in devices() {
        let h = floats(
            Categorical::new(t2(&LOGITS, [3, 5], &device))
                .unwrap()
                .entropy(),
        );
        for (g, w) in h.iter().zip(want) {
            // f32, measured worst 6e-8
            assert!((g - w).abs() <= 5e-7, "entropy {g} vs scipy {w}");
        }
        // A row with a single finite logit is a point mass: entropy exactly 0.
        let point = [NEG_INF, 3.0, NEG_INF];
        let h = floats(
            Categorical::new(t2(&point, [1, 3], &device))
                .unwrap()
                .entropy(),
        );
        assert_eq!(h, vec![0.0]);
    }
    // Gradient of the entropy with −∞ / −1e30 logits: finite everywhere, 0 for the
    // masked categories, and equal to the f64 analytic −p_k (ln p_k + H) elsewhere.
    for device in devices() {
        let device = device.autodiff();
        let l = t2(&LOGITS, [3, 5], &device).require_grad();
        let grads = Categorical::new(l.clone())
            .unwrap()
            .entropy()
            .sum()
            .backward();
        let g = floats(l.grad(&grads).expect("logits require grad"));
        for r in 0..3 {
            let lp = host_log_softmax(&row(r).iter().map(|&x| x as f32 as f64).collect::<Vec<_>>());
            let h: f64 = lp
                .iter()
                .filter(|x| x.exp() > 0.0)
                .map(|x| -x.exp() * x)
                .sum();
            for k in 0..5 {
                let p = lp[k].exp();
                let want = if p > 0.0 { -p * (lp[k] + h) } else { 0.0 };
                let got = g[r * 5 + k];
                assert!(got.is_finite(), "row {r} k {k}: gradient {got}");
                assert!((got - want).abs() < 1e-6, "row {r} k {k}: {got} vs {want}");
            }
        }
    }
}

#[test]
fn kl_matches_scipy_and_handles_zeros() {
    // scipy.stats.entropy(P[i], P[j]) with SciPy 1.17.1, P = softmax(rows, axis=1):
    // (i, j) -> KL(P_i || P_j); scipy gives inf for (0, 2).
    let pairs = [
        (0, 1, 3.852314780857913),
        (1, 0, 1.6622671231884474),
        (2, 0, 0.581619342938836),
        (2, 1, 2.034855364340761),
        (0, 2, f64::INFINITY),
        (2, 2, 0.0),
    ];
    for device in devices() {
        let p_rows: Vec<f64> = pairs
            .iter()
            .flat_map(|&(i, _, _)| row(i).to_vec())
            .collect();
        let q_rows: Vec<f64> = pairs
            .iter()
            .flat_map(|&(_, j, _)| row(j).to_vec())
            .collect();
        let n = pairs.len();
        let p = Categorical::new(t2(&p_rows, [n, 5], &device)).unwrap();
        let q = Categorical::new(t2(&q_rows, [n, 5], &device)).unwrap();
        let kl = floats(p.kl_divergence(&q));
        for (&(i, j, w), g) in pairs.iter().zip(&kl) {
            let ok = if w.is_infinite() {
                *g == w
            } else {
                // f32, measured worst 7.9e-7 (on 3.85)
                (g - w).abs() <= 2e-6 * w.max(1.0)
            };
            assert!(ok, "KL({i} || {j}) = {g}, scipy {w}");
        }
    }
    // Gradients through zeros of p (and of q at the same place) stay finite.
    for device in devices() {
        let device = device.autodiff();
        let lp = t2(row(2), [1, 5], &device).require_grad();
        let lq = t2(row(2), [1, 5], &device).require_grad().mul_scalar(0.5);
        let kl = Categorical::new(lp.clone())
            .unwrap()
            .kl_divergence(&Categorical::new(lq).unwrap());
        let grads = kl.sum().backward();
        let g = floats(lp.grad(&grads).expect("grad"));
        assert!(g.iter().all(|x| x.is_finite()), "{g:?}");
        assert_eq!(g[1], 0.0);
    }
}

#[test]
fn kl_matches_monte_carlo_estimate() {
    // KL(p ‖ q) = E_p[ln p(x) − ln q(x)] estimated with N = 100_000 Gumbel-max draws
    // from p. Categorical is not reparameterisable, so this samples directly.
    // Standard error = sd(ln p − ln q)/√N (≈ 0.0099 here); tolerance 5 SE.
    let n = 100_000;
    let device = Device::flex();
    let rep = |r: usize| -> Vec<f64> { (0..n).flat_map(|_| row(r).to_vec()).collect() };
    let p = Categorical::new(t2(&rep(0), [n, 5], &device)).unwrap();
    let q = Categorical::new(t2(&rep(1), [n, 5], &device)).unwrap();
    let mut rng = HostRng::seed_from_u64(2024);
    let x = p.sample(&mut rng);
    let d = floats(p.log_prob(x.clone()) - q.log_prob(x));
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let se = (var / n as f64).sqrt();
    let exact = floats(p.kl_divergence(&q))[0];
    assert!((exact - 3.852314780857913).abs() < 1e-5);
    assert!(
        (mean - exact).abs() < 5.0 * se,
        "MC {mean} vs exact {exact}, SE {se}"
    );
}

#[test]
fn gumbel_max_frequencies_match_softmax_probabilities() {
    // N = 200_000 draws of x = argmax(ℓ + g), ℓ = row 0, K = 5. Chi-square statistic
    // against N·softmax(ℓ) must stay below the p = 1e-6 critical value for 4 degrees
    // of freedom, scipy.stats.chi2.isf(1e-6, 4) = 33.37684158171984 (SciPy 1.17.1);
    // each per-category z-score (count − Np)/√(Np(1−p)) must be below 5.
    // Both backends see the same host noise, so their draws must agree exactly.
    let n = 200_000;
    let logits: Vec<f64> = (0..n).flat_map(|_| row(0).to_vec()).collect();
    let lp = host_log_softmax(&row(0).iter().map(|&x| x as f32 as f64).collect::<Vec<_>>());
    let mut first: Option<Vec<i64>> = None;
    for device in devices() {
        let d = Categorical::new(t2(&logits, [n, 5], &device)).unwrap();
        let x = ints(d.sample(&mut HostRng::seed_from_u64(7)));
        let mut counts = [0f64; 5];
        for &k in &x {
            counts[k as usize] += 1.0;
        }
        let mut chi2 = 0.0;
        for k in 0..5 {
            let p = lp[k].exp();
            let e = n as f64 * p;
            chi2 += (counts[k] - e).powi(2) / e;
            let z = (counts[k] - e) / (e * (1.0 - p)).sqrt();
            assert!(z.abs() < 5.0, "category {k}: z = {z}, counts {counts:?}");
        }
        assert!(chi2 < 33.37684158171984, "chi2 = {chi2}, counts {counts:?}");
        match &first {
            None => first = Some(x),
            Some(f) => assert!(f == &x, "flex and ndarray draws differ"),
        }
    }
}

#[test]
fn sample_with_noise_is_the_argmax_of_logits_plus_noise() {
    for device in devices() {
        let d = Categorical::new(t2(&[0.0, 1.0, 2.0, 0.0, 1.0, NEG_INF], [2, 3], &device)).unwrap();
        let g = t2(&[5.0, 0.0, 0.0, 0.0, -0.5, 100.0], [2, 3], &device);
        assert_eq!(ints(d.sample_with_noise(g)), vec![0, 1]);
        // Ties go to the first index.
        let g = t2(&[2.0, 1.0, 0.0, 1.0, 0.0, 0.0], [2, 3], &device);
        assert_eq!(ints(d.sample_with_noise(g)), vec![0, 0]);
        // The −∞ category is never drawn.
        let mut rng = HostRng::seed_from_u64(3);
        let many = Categorical::new(t2(
            &(0..1000)
                .flat_map(|_| [0.0, 0.0, NEG_INF])
                .collect::<Vec<_>>(),
            [1000, 3],
            &device,
        ))
        .unwrap();
        let g = noise::standard_gumbel(&mut rng, [1000, 3], &device);
        assert!(ints(many.sample_with_noise(g)).iter().all(|&k| k != 2));
    }
}

#[test]
fn log_prob_gradient_is_one_hot_minus_softmax() {
    // d ln p_x / dℓ_k = 1{k = x} − softmax(ℓ)_k; checked against that closed form
    // and against central finite differences (h = 1e-5) of the f64 host log-softmax.
    let x = [2i64, 0];
    for device in devices() {
        let device = device.autodiff();
        let l = t2(&LOGITS[..10], [2, 5], &device).require_grad();
        let lp = Categorical::new(l.clone())
            .unwrap()
            .log_prob(idx(&x, &device));
        let grads = lp.sum().backward();
        let g = floats(l.grad(&grads).expect("grad"));
        for r in 0..2 {
            let lr: Vec<f64> = row(r).iter().map(|&v| v as f32 as f64).collect();
            let p: Vec<f64> = host_log_softmax(&lr).iter().map(|v| v.exp()).collect();
            for k in 0..5 {
                let analytic = if k as i64 == x[r] { 1.0 } else { 0.0 } - p[k];
                let h = 1e-5;
                let f = |d: f64| {
                    let mut l2 = lr.clone();
                    l2[k] += d;
                    host_log_softmax(&l2)[x[r] as usize]
                };
                let fd = (f(h) - f(-h)) / (2.0 * h);
                let got = g[r * 5 + k];
                assert!((analytic - fd).abs() < 1e-9, "reference mismatch");
                assert!(
                    (got - analytic).abs() < 1e-6,
                    "[{r},{k}] {got} vs {analytic}"
                );
            }
        }
    }
}
