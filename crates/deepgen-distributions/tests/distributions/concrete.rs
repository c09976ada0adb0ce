//! `GumbelSoftmax` / `Concrete`: the exact density against PyTorch's
//! `RelaxedOneHotCategorical`, normalisation for K = 2, the log-space path at small
//! temperature, the Gumbel-max property of the sampler at every temperature, the
//! straight-through hard sample, and pathwise gradients against finite differences.

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_distributions::{
    Concrete, Distribution, DistributionError, GumbelSoftmax, Rsample, noise,
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

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("f64 data")
}

/// f64 host Concrete log-density (Maddison et al. 2017, Def. 1) from ln y:
/// ln Γ(K) + (K−1) ln τ + Σ_k (a_k − logsumexp(a)) − Σ_k ln y_k, a = ℓ − τ ln y.
/// Anchored to PyTorch in `log_prob_matches_pytorch`.
fn host_log_density(l: &[f64], tau: f64, log_y: &[f64]) -> f64 {
    let k = l.len() as f64;
    let a: Vec<f64> = l.iter().zip(log_y).map(|(l, ly)| l - tau * ly).collect();
    let lse = host::logsumexp(&a);
    host::lgamma(k) + (k - 1.0) * tau.ln() + a.iter().map(|a| a - lse).sum::<f64>()
        - log_y.iter().sum::<f64>()
}

/// f64 host softmax((ℓ + g)/τ).
fn host_sample(l: &[f64], tau: f64, g: &[f64]) -> Vec<f64> {
    let z: Vec<f64> = l.iter().zip(g).map(|(l, g)| (l + g) / tau).collect();
    let lse = host::logsumexp(&z);
    z.iter().map(|z| (z - lse).exp()).collect()
}

const TAUS: [f64; 4] = [0.1, 0.5, 1.0, 2.0];

/// PyTorch references: (logits, [(y, [log_prob at τ = 0.1, 0.5, 1, 2])]).
///
/// Computed once with PyTorch 2.15.0 (CPU), float64:
/// ```python
/// torch.set_default_dtype(torch.float64)
/// y64 = np.array(y, dtype=np.float32).astype(np.float64)   # the f32 values below
/// RelaxedOneHotCategorical(torch.tensor(tau), logits=torch.tensor(l),
///                          validate_args=False).log_prob(torch.tensor(y64)).item()
/// ```
#[allow(clippy::type_complexity)]
fn torch_cases() -> Vec<(Vec<f64>, Vec<(Vec<f64>, [f64; 4])>)> {
    vec![
        (
            vec![0.3, -0.8],
            vec![
                (
                    vec![0.30000001192092896, 0.699999988079071],
                    [
                        -2.4603430319618886,
                        -1.0504295821762728,
                        -0.653366160208221,
                        -0.6594875392578459,
                    ],
                ),
                (
                    vec![0.949999988079071, 0.05000000074505806],
                    [
                        -0.7998784943697435,
                        0.9331453134265422,
                        0.909000964397634,
                        -1.0652798669095627,
                    ],
                ),
            ],
        ),
        (
            vec![1.0, -0.5, 0.2],
            vec![
                (
                    vec![0.20000000298023224, 0.5, 0.30000001192092896],
                    [
                        -4.312694525302022,
                        -1.379811046828773,
                        -0.4073811755791157,
                        0.008297009923492471,
                    ],
                ),
                (
                    vec![
                        0.009999999776482582,
                        0.8999999761581421,
                        0.09000000357627869,
                    ],
                    [
                        -0.9855831843564715,
                        0.29736057016890616,
                        -1.338643904000703,
                        -6.512828757019628,
                    ],
                ),
            ],
        ),
        (
            vec![0.5, -1.25, 2.0, 0.0, -0.75],
            vec![
                (
                    vec![
                        0.10000000149011612,
                        0.20000000298023224,
                        0.30000001192092896,
                        0.25,
                        0.15000000596046448,
                    ],
                    [
                        -8.908097315131515,
                        -2.077311969707962,
                        0.9469465758068267,
                        3.280033036081095,
                    ],
                ),
                (
                    vec![
                        0.6000000238418579,
                        0.05000000074505806,
                        0.20000000298023224,
                        0.10000000149011612,
                        0.05000000074505806,
                    ],
                    [
                        -6.783494192652174,
                        0.39133100823735845,
                        3.644709310721435,
                        5.768835016789758,
                    ],
                ),
            ],
        ),
    ]
}

#[test]
fn log_prob_matches_pytorch() {
    let mut worst: f64 = 0.0;
    for (l, ys) in torch_cases() {
        let k = l.len();
        // The f64 host formula reproduces PyTorch to rounding.
        for (y, want) in &ys {
            let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
            for (tau, w) in TAUS.iter().zip(want) {
                let h = host_log_density(&l, *tau, &ly);
                assert!(
                    (h - w).abs() < 1e-12 * w.abs().max(1.0),
                    "host {h} vs torch {w}"
                );
            }
        }
        for device in devices() {
            let logits: Vec<f64> = ys.iter().flat_map(|_| l.clone()).collect();
            let y: Vec<f64> = ys.iter().flat_map(|c| c.0.clone()).collect();
            for (i, &tau) in TAUS.iter().enumerate() {
                let d = Concrete::new(t2(&logits, [ys.len(), k], &device), tau).unwrap();
                let got = floats(d.log_prob(t2(&y, [ys.len(), k], &device)));
                for (r, g) in got.iter().enumerate() {
                    let w = ys[r].1[i];
                    let err = (g - w).abs();
                    worst = worst.max(err);
                    // f32: the terms are O(10) (Σ ln y_k, τ ln y_k); 5e-6 absolute is
                    // ~5 ulps of the largest term (measured worst 4.5e-7).
                    assert!(err < 5e-6, "K={k} τ={tau} row {r}: {g} vs torch {w}");
                }
            }
        }
    }
    assert!(worst > 0.0, "f32 against f64 should not be exact");
}

#[test]
fn density_integrates_to_one_for_two_categories() {
    // For K = 2 the density is with respect to dy₁ on (0, 1). Substituting
    // y₁ = σ(t) (dy₁ = y₁y₂ dt) gives a smooth integrand on ℝ decaying like
    // e^{−τ|t|}; the trapezoid rule with step 0.05/τ over |t| ≤ 45/τ has
    // truncation and discretisation error far below 1e-8 (f64 check: the host
    // formula integrates to 1 within 1e-9; measured 7e-16). The device (f32)
    // density is integrated; tolerance 1e-5 covers the f32 error of ln p (measured
    // |∫p − 1| ≤ 2.9e-7, at τ = 0.1).
    let l = [0.3, -0.8];
    for device in devices() {
        for tau in TAUS {
            let h = 0.05 / tau;
            let n = (2.0 * 45.0 / tau / h) as usize + 1;
            let ts: Vec<f64> = (0..n).map(|i| -45.0 / tau + i as f64 * h).collect();
            let log_y: Vec<f64> = ts
                .iter()
                .flat_map(|&t| [host::log_sigmoid(t), host::log_sigmoid(-t)])
                .collect();
            let logits: Vec<f64> = (0..n).flat_map(|_| l).collect();
            let d = GumbelSoftmax::new(t2(&logits, [n, 2], &device), tau).unwrap();
            let lp = floats(d.log_prob_from_log(t2(&log_y, [n, 2], &device)));
            let mut integral = 0.0;
            let mut host_integral = 0.0;
            for i in 0..n {
                let jac = log_y[2 * i] + log_y[2 * i + 1];
                let wgt = if i == 0 || i == n - 1 { 0.5 * h } else { h };
                integral += wgt * (lp[i] + jac).exp();
                host_integral +=
                    wgt * (host_log_density(&l, tau, &log_y[2 * i..2 * i + 2]) + jac).exp();
            }
            assert!(
                (host_integral - 1.0).abs() < 1e-9,
                "τ={tau}: host {host_integral}"
            );
            assert!((integral - 1.0).abs() < 1e-5, "τ={tau}: ∫p = {integral}");
        }
    }
}

#[test]
fn small_temperature_density_from_log_samples() {
    // τ = 0.05: coordinates of y underflow in f32, so log_prob(y) is not finite,
    // while log_prob_from_log(log_rsample_from_noise(g)) is, and it matches the f64
    // host density at the f64 ln y computed from the same noise.
    // Tolerance: ln y_k ~ −(ℓ+g)/τ is O(100), Σ_k ln y_k O(500); 2e-6 relative to
    // Σ_k |ln y_k| (≈ 16 f32 ulps; measured worst ratio 1.4e-7).
    let tau = 0.05;
    let l = [0.5, -1.25, 2.0, 0.0, -0.75];
    let b = 64;
    for device in devices() {
        let logits: Vec<f64> = (0..b).flat_map(|_| l).collect();
        let d = GumbelSoftmax::new(t2(&logits, [b, 5], &device), tau).unwrap();
        let g = noise::standard_gumbel(&mut HostRng::seed_from_u64(5), [b, 5], &device);
        let gh = floats(g.clone());
        let log_y = d.log_rsample_from_noise(g.clone());
        let lp = floats(d.log_prob_from_log(log_y.clone()));
        let naive = floats(d.log_prob(d.rsample_from_noise(g)));
        let ly = floats(log_y);
        let mut underflows = 0;
        for r in 0..b {
            let z: Vec<f64> = (0..5)
                .map(|k| (l[k] as f32 as f64 + gh[r * 5 + k]) / tau)
                .collect();
            let lse = host::logsumexp(&z);
            let ly_host: Vec<f64> = z.iter().map(|z| z - lse).collect();
            for k in 0..5 {
                assert!((ly[r * 5 + k] - ly_host[k]).abs() < 1e-5 * ly_host[k].abs().max(1.0));
            }
            let l32: Vec<f64> = l.iter().map(|&v| v as f32 as f64).collect();
            let want = host_log_density(&l32, tau, &ly_host);
            let scale: f64 = ly_host.iter().map(|v| v.abs()).sum::<f64>().max(1.0);
            assert!(lp[r].is_finite(), "row {r}");
            assert!(
                (lp[r] - want).abs() < 2e-6 * scale,
                "row {r}: {} vs {want}",
                lp[r]
            );
            if ly_host.iter().any(|&v| v < -104.0) {
                // exp(v) < f32's smallest subnormal: y_k = 0, ln y_k = −∞
                underflows += 1;
                assert!(!naive[r].is_finite(), "row {r}: {}", naive[r]);
            }
        }
        assert!(underflows > 0, "the test should exercise f32 underflow");
    }
}

#[test]
fn rsample_is_the_softmax_of_perturbed_logits() {
    let l = [1.0, -0.5, 0.2];
    for device in devices() {
        for tau in TAUS {
            let d = GumbelSoftmax::new(t2(&[l, l].concat(), [2, 3], &device), tau).unwrap();
            assert_eq!(d.shape().event, vec![3]);
            let g = d.sample_noise(&mut HostRng::seed_from_u64(9));
            let gh = floats(g.clone());
            let y = floats(d.rsample_from_noise(g));
            for r in 0..2 {
                let l32: Vec<f64> = l.iter().map(|&v| v as f32 as f64).collect();
                let want = host_sample(&l32, tau, &gh[r * 3..r * 3 + 3]);
                let s: f64 = y[r * 3..r * 3 + 3].iter().sum();
                assert!((s - 1.0).abs() < 1e-6);
                for k in 0..3 {
                    assert!(y[r * 3 + k] >= 0.0);
                    assert!((y[r * 3 + k] - want[k]).abs() < 1e-6, "{y:?} vs {want:?}");
                }
            }
            // sample(rng) is the detached rsample with the same noise stream.
            let s = floats(d.sample(&mut HostRng::seed_from_u64(9)));
            assert_eq!(s, y);
        }
    }
}

#[test]
fn argmax_of_sample_is_categorical_at_every_temperature() {
    // Gumbel-max: argmax_k y_k = argmax_k (ℓ_k + g_k) ~ Categorical(softmax ℓ) for
    // every τ. N = 100_000 per τ, K = 5: chi-square below the p = 1e-6 critical
    // value for 4 dof, scipy.stats.chi2.isf(1e-6, 4) = 33.37684158171984 (SciPy
    // 1.17.1), and every per-category z-score below 5.
    // As τ → 0 the sample itself becomes one-hot: at τ = 0.01, E[max_k y_k] ≈ 0.9965
    // (NumPy Monte Carlo, 400k draws) — asserted > 0.99 — and E[y] → softmax(ℓ):
    // |mean y_k − p_k| < 5 SE + 2e-3 (an allowance for the O(τ) bias; at τ = 0.5 the
    // gap is 0.049 and would fail).
    let n = 100_000;
    let l = [0.5, -1.25, 2.0, 0.0, -0.75];
    let l32: Vec<f64> = l.iter().map(|&v| v as f32 as f64).collect();
    let lse = host::logsumexp(&l32);
    let p: Vec<f64> = l32.iter().map(|v| (v - lse).exp()).collect();
    let logits: Vec<f64> = (0..n).flat_map(|_| l).collect();
    let device = Device::flex();
    for (i, tau) in [0.01, 0.5, 2.0].into_iter().enumerate() {
        let d = GumbelSoftmax::new(t2(&logits, [n, 5], &device), tau).unwrap();
        let y = floats(d.sample(&mut HostRng::seed_from_u64(100 + i as u64)));
        let mut counts = [0f64; 5];
        let mut mean_max = 0.0;
        let mut mean_y = [0f64; 5];
        for r in 0..n {
            let row = &y[r * 5..r * 5 + 5];
            let (kmax, &m) = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.partial_cmp(b.1).unwrap())
                .unwrap();
            counts[kmax] += 1.0;
            mean_max += m / n as f64;
            for k in 0..5 {
                mean_y[k] += row[k] / n as f64;
            }
        }
        let mut chi2 = 0.0;
        for k in 0..5 {
            let e = n as f64 * p[k];
            chi2 += (counts[k] - e).powi(2) / e;
            let z = (counts[k] - e) / (e * (1.0 - p[k])).sqrt();
            assert!(z.abs() < 5.0, "τ={tau} k={k}: z = {z}");
        }
        assert!(
            chi2 < 33.37684158171984,
            "τ={tau}: chi2 = {chi2}, {counts:?}"
        );
        if tau == 0.01 {
            assert!(mean_max > 0.99, "mean max coordinate {mean_max}");
            for k in 0..5 {
                let se = (p[k] * (1.0 - p[k]) / n as f64).sqrt();
                assert!(
                    (mean_y[k] - p[k]).abs() < 5.0 * se + 2e-3,
                    "k={k}: E[y] {} vs p {}",
                    mean_y[k],
                    p[k]
                );
            }
        }
    }
}

#[test]
fn hard_sample_is_one_hot_with_the_soft_gradient() {
    let b = 32;
    let k = 4;
    let l = [0.2, -0.3, 1.1, 0.0];
    let mut rng = HostRng::seed_from_u64(21);
    let w: Vec<f64> = (0..b * k).map(|_| rng.normal()).collect();
    for device in devices() {
        let device = device.autodiff();
        let d = GumbelSoftmax::new(t2(&l, [1, k], &device).repeat_dim(0, b), 0.7).unwrap();
        let g = d.sample_noise(&mut HostRng::seed_from_u64(22));
        let hv = floats(d.hard_from_noise(g.clone()));
        let sv = floats(d.rsample_from_noise(g));
        for r in 0..b {
            let row = &hv[r * k..r * k + k];
            assert!(row.iter().all(|&v| v == 0.0 || v == 1.0), "{row:?}");
            assert_eq!(row.iter().filter(|&&v| v == 1.0).count(), 1, "{row:?}");
            let srow = &sv[r * k..r * k + k];
            let smax = srow.iter().cloned().fold(f64::MIN, f64::max);
            let khot = row.iter().position(|&v| v == 1.0).unwrap();
            assert_eq!(srow[khot], smax, "one-hot at the argmax of the soft sample");
        }
        // Burn consumes the tape on backward: one forward pass per loss, with the
        // same leaf and the same noise.
        let wt = t2(&w, [b, k], &device);
        let grad_of = |hard: bool| {
            let logits = t2(&l, [1, k], &device).require_grad();
            let d = GumbelSoftmax::new(logits.clone().repeat_dim(0, b), 0.7).unwrap();
            let g = d.sample_noise(&mut HostRng::seed_from_u64(22));
            let y = if hard {
                d.hard_from_noise(g)
            } else {
                d.rsample_from_noise(g)
            };
            floats(logits.grad(&(y * wt.clone()).sum().backward()).unwrap())
        };
        let (gh, gs) = (grad_of(true), grad_of(false));
        // The hard sample is y_hard + (y_soft − stopgrad(y_soft)): its backward pass
        // is the soft sample's, operation for operation, so the gradients are
        // bitwise equal.
        assert_eq!(gh, gs);
        assert!(gs.iter().any(|v| v.abs() > 1e-3), "non-trivial gradient");
    }
    // rsample_hard with a seed = hard_from_noise with that seed's noise.
    let device = Device::flex();
    let d = GumbelSoftmax::new(t2(&l, [1, k], &device), 0.3).unwrap();
    let a = floats(d.rsample_hard(&mut HostRng::seed_from_u64(5)));
    let b_ = floats(d.hard_from_noise(d.sample_noise(&mut HostRng::seed_from_u64(5))));
    assert_eq!(a, b_);
}

#[test]
fn pathwise_gradient_matches_finite_differences() {
    // ∇_ℓ (1/M) Σ_m f(softmax((ℓ + g_m)/τ)), f(y) = Σ_k w_k y_k², with the noise g_m
    // fixed (common random numbers), against central differences (h = 1e-5) of the
    // same f64 host function with the same (f32-rounded) noise. Tolerance 1e-6
    // absolute (f32 autodiff; measured worst 7.4e-8).
    let m = 256;
    let k = 4;
    let tau = 0.5;
    let l = [0.2, -0.3, 1.1, 0.0];
    let w = [1.0, -2.0, 0.5, 3.0];
    let l32: Vec<f64> = l.iter().map(|&v| v as f32 as f64).collect();
    for device in devices() {
        let device = device.autodiff();
        let logits = t2(&l, [1, k], &device).require_grad();
        let d = GumbelSoftmax::new(logits.clone().repeat_dim(0, m), tau).unwrap();
        let g = d.sample_noise(&mut HostRng::seed_from_u64(31));
        let gh = floats(g.clone());
        let y = d.rsample_from_noise(g);
        let f = (y.clone() * y * t2(&w, [1, k], &device)).sum() / m as f64;
        let grad = floats(logits.grad(&f.backward()).unwrap());
        let host_f = |l: &[f64]| -> f64 {
            (0..m)
                .map(|r| {
                    let y = host_sample(l, tau, &gh[r * k..r * k + k]);
                    (0..k).map(|j| w[j] * y[j] * y[j]).sum::<f64>()
                })
                .sum::<f64>()
                / m as f64
        };
        for j in 0..k {
            let h = 1e-5;
            let (mut lp, mut lm) = (l32.clone(), l32.clone());
            lp[j] += h;
            lm[j] -= h;
            let fd = (host_f(&lp) - host_f(&lm)) / (2.0 * h);
            assert!(
                (grad[j] - fd).abs() < 1e-6,
                "d/dℓ_{j}: {} vs fd {fd}",
                grad[j]
            );
        }
    }
}

#[test]
fn log_prob_gradient_matches_finite_differences() {
    // d ln p(y)/dℓ (y fixed) against central differences (h = 1e-6) of the f64 host
    // density. Tolerance 2e-6 absolute (f32; measured worst 2.8e-7).
    let l = [1.0, -0.5, 0.2];
    let y = [0.2f32 as f64, 0.5, 0.3f32 as f64];
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let l32: Vec<f64> = l.iter().map(|&v| v as f32 as f64).collect();
    for device in devices() {
        let device = device.autodiff();
        for tau in TAUS {
            let logits = t2(&l, [1, 3], &device).require_grad();
            let d = GumbelSoftmax::new(logits.clone(), tau).unwrap();
            let lp = d.log_prob(t2(&y, [1, 3], &device));
            let grad = floats(logits.grad(&lp.sum().backward()).unwrap());
            for j in 0..3 {
                let h = 1e-6;
                let (mut a, mut b) = (l32.clone(), l32.clone());
                a[j] += h;
                b[j] -= h;
                let fd =
                    (host_log_density(&a, tau, &ly) - host_log_density(&b, tau, &ly)) / (2.0 * h);
                assert!(
                    (grad[j] - fd).abs() < 2e-6,
                    "τ={tau} j={j}: {} vs {fd}",
                    grad[j]
                );
            }
        }
    }
}

#[test]
fn temperature_must_be_positive_and_finite() {
    let device = Device::flex();
    let l = t2(&[0.0, 1.0], [1, 2], &device);
    for bad in [0.0, -0.5, f64::NAN, f64::INFINITY] {
        match GumbelSoftmax::new(l.clone(), bad) {
            Err(DistributionError::InvalidParameter { argument, .. }) => {
                assert_eq!(argument, "temperature")
            }
            other => panic!("τ = {bad}: expected InvalidParameter, got {other:?}"),
        }
    }
    let d = GumbelSoftmax::new(l.clone(), 1.0).unwrap();
    assert_eq!(
        d.clone().with_temperature(0.25).unwrap().temperature(),
        0.25
    );
    match d.with_temperature(0.0) {
        Err(DistributionError::InvalidParameter { argument, .. }) => {
            assert_eq!(argument, "temperature")
        }
        other => panic!("expected InvalidParameter, got {other:?}"),
    }
    match GumbelSoftmax::new(Tensor::zeros([0, 3], &device), 1.0) {
        Err(DistributionError::Shape { argument, .. }) => assert_eq!(argument, "logits"),
        other => panic!("expected Shape, got {other:?}"),
    }
}

#[test]
fn single_category_is_a_point_mass() {
    // K = 1: y = (1) always; the density w.r.t. the 0-dimensional counting measure is 1.
    for device in devices() {
        let d = GumbelSoftmax::new(t2(&[0.7, -2.0], [2, 1], &device), 0.3).unwrap();
        let mut rng = HostRng::seed_from_u64(1);
        assert_eq!(floats(d.rsample(&mut rng)), vec![1.0, 1.0]);
        assert_eq!(floats(d.rsample_hard(&mut rng)), vec![1.0, 1.0]);
        assert_eq!(
            floats(d.log_prob(t2(&[1.0, 1.0], [2, 1], &device))),
            vec![0.0, 0.0]
        );
    }
}
