//! Diagonal Gaussian, standard normal and Bernoulli: values against SciPy, KLs
//! against quadrature and Monte Carlo, gradients against finite differences,
//! checked constructors, samplers against their moments.

#![allow(deprecated)] // Device::ndarray: the deprecated backend is still one we support and test

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_distributions::{
    Bernoulli, DiagGaussian, DistShape, Distribution, DistributionError, Entropy, KlDivergence,
    Rsample, StandardNormal, monte_carlo_kl,
};
use deepgen_tensor::rng::HostRng;

fn devices() -> [Device; 2] {
    [Device::flex(), Device::ndarray()]
}

fn t2(v: &[f64], d: usize, dev: &Device) -> Tensor<2> {
    let v: Vec<f32> = v.iter().map(|x| *x as f32).collect();
    Tensor::from_data(TensorData::new(v.clone(), [v.len() / d, d]), dev)
}

fn host(t: Tensor<1>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

fn host2(t: Tensor<2>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

#[test]
fn gaussian_log_prob_entropy_kl_match_scipy() {
    for dev in devices() {
        // SciPy 1.17.1: norm.logpdf(1.0, 0.5, exp(0.2)) + norm.logpdf(0.0, -1.0, exp(-0.3))
        //   = -2.7327264723590545
        let g = DiagGaussian::new(t2(&[0.5, -1.0], 2, &dev), t2(&[0.2, -0.3], 2, &dev)).unwrap();
        let lp = host(g.log_prob(t2(&[1.0, 0.0], 2, &dev)))[0];
        assert!((lp - -2.7327264723590545).abs() < 1e-5, "{lp}");

        // μ₁ = [0.3, −1.2, 2.0], ln σ₁ = [−0.4, 0.1, 0.7]; μ₂ = [1, 0, −0.5], ln σ₂ = [0.2, −0.5, 0].
        // KL by quadrature of p·(log p − log q) per dimension (scipy.integrate.quad on
        // [−40, 40], epsrel 1e-13, SciPy 1.17.1) = 6.884646878515957;
        // entropy Σ norm(scale=exp(ln σ₁)).entropy() = 4.656815599614019.
        let p = DiagGaussian::new(
            t2(&[0.3, -1.2, 2.0], 3, &dev),
            t2(&[-0.4, 0.1, 0.7], 3, &dev),
        )
        .unwrap();
        let q = DiagGaussian::new(
            t2(&[1.0, 0.0, -0.5], 3, &dev),
            t2(&[0.2, -0.5, 0.0], 3, &dev),
        )
        .unwrap();
        let kl = host(p.kl_divergence(&q))[0];
        assert!((kl - 6.884646878515957).abs() < 2e-5, "{kl}");
        let h = host(p.entropy())[0];
        assert!((h - 4.656815599614019).abs() < 1e-5, "{h}");

        // KL to the standard normal: the StandardNormal impl, the per-dim sum and the
        // general Gaussian pair agree.
        let std = StandardNormal::new(1, 3, &dev).unwrap();
        let a = host(p.kl_divergence(&std))[0];
        let b = host(p.kl_divergence(&DiagGaussian::standard([1, 3], &dev)))[0];
        let c: f64 = host2(p.kl_standard_normal_per_dim()).iter().sum();
        assert!((a - b).abs() < 1e-5 && (a - c).abs() < 1e-5, "{a} {b} {c}");
        // Entropy of N(0, I₃) = 1.5·ln(2πe) = 4.256815599614018.
        let hs = host(std.entropy())[0];
        assert!((hs - 4.256815599614018).abs() < 1e-5, "{hs}");
    }
}

#[test]
fn gaussian_parameterisations_agree() {
    let dev = Device::flex();
    let mean = t2(&[0.1, 0.2], 2, &dev);
    let a = DiagGaussian::new(mean.clone(), t2(&[0.3, -0.7], 2, &dev)).unwrap();
    let b = DiagGaussian::from_log_var(mean.clone(), t2(&[0.6, -1.4], 2, &dev)).unwrap();
    let c = DiagGaussian::from_scale(mean, t2(&[0.3f64.exp(), (-0.7f64).exp()], 2, &dev)).unwrap();
    for other in [b, c] {
        let d: Vec<f64> = host2(a.log_std.clone() - other.log_std.clone());
        assert!(d.iter().all(|x| x.abs() < 1e-6), "{d:?}");
    }
}

#[test]
fn checked_constructors_name_the_bad_argument() {
    let dev = Device::flex();
    let err =
        DiagGaussian::new(t2(&[0.0, 0.0], 2, &dev), t2(&[0.0, 0.0, 0.0], 3, &dev)).unwrap_err();
    assert!(
        matches!(
            &err,
            DistributionError::Shape {
                argument: "log_std",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("log_std"), "{err}");
    let err =
        DiagGaussian::from_scale(t2(&[0.0, 0.0], 2, &dev), t2(&[1.0, -0.5], 2, &dev)).unwrap_err();
    assert!(
        matches!(
            &err,
            DistributionError::InvalidParameter {
                argument: "scale",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("-0.5"), "{err}");
    let err = StandardNormal::new(4, 0, &dev).unwrap_err();
    assert!(err.to_string().contains("`dim`"), "{err}");
    let err = Bernoulli::new(Tensor::<2>::zeros([0, 3], &dev)).unwrap_err();
    assert!(err.to_string().contains("logits"), "{err}");
    // Event shapes must multiply out to the parameter width.
    let g = DiagGaussian::standard([2, 784], &dev);
    assert!(g.clone().with_event_shape(vec![1, 28, 28]).is_ok());
    let err = g.with_event_shape(vec![1, 28, 27]).unwrap_err();
    assert!(err.to_string().contains("event_shape"), "{err}");
}

#[test]
fn shapes_are_reported() {
    let dev = Device::flex();
    let g = DiagGaussian::standard([4, 784], &dev)
        .with_event_shape(vec![1, 28, 28])
        .unwrap();
    assert_eq!(
        g.shape(),
        DistShape {
            batch: vec![4],
            event: vec![1, 28, 28]
        }
    );
    assert_eq!(g.shape().event_numel(), 784);
    let b = Bernoulli::new(Tensor::zeros([3, 5], &dev)).unwrap();
    assert_eq!(b.shape(), DistShape::vector(3, 5));
    assert_eq!(g.log_prob(Tensor::zeros([4, 784], &dev)).dims(), [4]);
}

#[test]
fn gaussian_log_prob_gradient_matches_finite_differences() {
    // d/dμ and d/d ln σ of Σ log N(x; μ, σ²) against central differences of the f64
    // formula (h = 1e-5); tolerance 1e-4 covers the f32 forward pass.
    let dev = Device::flex().autodiff();
    let (mu, ls, x) = ([0.3, -0.8], [0.2, -0.6], [1.1, -0.2]);
    let m = t2(&mu, 2, &dev).require_grad();
    let l = t2(&ls, 2, &dev).require_grad();
    let g = DiagGaussian::new(m.clone(), l.clone()).unwrap();
    let grads = g.log_prob(t2(&x, 2, &dev)).sum().backward();
    let gm = host2(m.grad(&grads).unwrap());
    let gl = host2(l.grad(&grads).unwrap());
    let f = |mu: f64, ls: f64, x: f64| {
        -0.5 * ((x - mu) / ls.exp()).powi(2) - ls - 0.5 * (2.0 * std::f64::consts::PI).ln()
    };
    let h = 1e-5;
    for i in 0..2 {
        let dm = (f(mu[i] + h, ls[i], x[i]) - f(mu[i] - h, ls[i], x[i])) / (2.0 * h);
        let dl = (f(mu[i], ls[i] + h, x[i]) - f(mu[i], ls[i] - h, x[i])) / (2.0 * h);
        assert!((gm[i] - dm).abs() < 1e-4, "dμ {} vs {dm}", gm[i]);
        assert!((gl[i] - dl).abs() < 1e-4, "dlnσ {} vs {dl}", gl[i]);
    }
}

#[test]
fn rsample_gradient_is_pathwise() {
    // z = μ + σ ε with the caller's ε: dz/dμ = 1, dz/d ln σ = σ ε.
    let dev = Device::flex().autodiff();
    let m = t2(&[0.5, -1.0], 2, &dev).require_grad();
    let l = t2(&[0.3, -0.2], 2, &dev).require_grad();
    let g = DiagGaussian::new(m.clone(), l.clone()).unwrap();
    let eps = [0.7, -1.3];
    let z = g.rsample_from_noise(t2(&eps, 2, &dev));
    let grads = z.sum().backward();
    let gm = host2(m.grad(&grads).unwrap());
    let gl = host2(l.grad(&grads).unwrap());
    for (i, ls) in [0.3f64, -0.2].iter().enumerate() {
        assert!((gm[i] - 1.0).abs() < 1e-6);
        assert!((gl[i] - ls.exp() * eps[i]).abs() < 1e-5, "{}", gl[i]);
    }
}

#[test]
fn gaussian_samples_have_the_right_moments_and_are_seeded() {
    // 100k draws of N(1.5, 0.5²): SE of the mean 0.5/√1e5 = 0.0016 (tolerance 0.008 = 5 SE);
    // SE of the variance ≈ σ²·√(2/n) = 0.0011 (tolerance 0.006).
    let dev = Device::flex();
    let n = 100_000;
    let g = DiagGaussian::new(
        Tensor::full([n, 1], 1.5, &dev),
        Tensor::full([n, 1], 0.5f64.ln(), &dev),
    )
    .unwrap();
    let mut rng = HostRng::seed_from_u64(7);
    let s = host2(g.sample(&mut rng));
    let mean = s.iter().sum::<f64>() / n as f64;
    let var = s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    assert!((mean - 1.5).abs() < 0.008, "{mean}");
    assert!((var - 0.25).abs() < 0.006, "{var}");
    // Same seed → same sample, on every backend.
    let a = host2(g.sample(&mut HostRng::seed_from_u64(3)).narrow(0, 0, 10));
    let small = DiagGaussian::new(
        Tensor::full([n, 1], 1.5, &Device::ndarray()),
        Tensor::full([n, 1], 0.5f64.ln(), &Device::ndarray()),
    )
    .unwrap();
    let b = host2(
        small
            .sample(&mut HostRng::seed_from_u64(3))
            .narrow(0, 0, 10),
    );
    assert_eq!(a, b);
}

#[test]
fn gaussian_kl_matches_monte_carlo() {
    // E_p[log p − log q] with 4 000 rows × 50 samples = 200k draws; per-draw std of the
    // integrand ≈ 1.3 → SE ≈ 0.003; tolerance 0.015 (5 SE).
    let dev = Device::flex();
    let n = 4000;
    let p = DiagGaussian::new(
        Tensor::full([n, 2], 0.4, &dev),
        Tensor::full([n, 2], -0.3, &dev),
    )
    .unwrap();
    let q = DiagGaussian::new(
        Tensor::full([n, 2], -0.2, &dev),
        Tensor::full([n, 2], 0.1, &dev),
    )
    .unwrap();
    let mut rng = HostRng::seed_from_u64(11);
    let mc = host(monte_carlo_kl(&p, &q, &mut rng, 50));
    let mc = mc.iter().sum::<f64>() / n as f64;
    let exact = host(p.kl_divergence(&q))[0];
    assert!((mc - exact).abs() < 0.015, "mc {mc} exact {exact}");
}

#[test]
fn bernoulli_log_prob_entropy_kl_match_scipy() {
    for dev in devices() {
        // Σ x·ℓ − log(1 + e^ℓ) for ℓ = [2, −1, 0, 40, −40], x = [1, 0, 0.3, 0, 0] with
        // NumPy 2.x: (x*l - np.logaddexp(0, l)).sum() = -41.13333687912114 (= −BCE-with-logits).
        let b = Bernoulli::new(t2(&[2.0, -1.0, 0.0, 40.0, -40.0], 5, &dev)).unwrap();
        let lp = host(b.log_prob(t2(&[1.0, 0.0, 0.3, 0.0, 0.0], 5, &dev)))[0];
        assert!((lp - -41.13333687912114).abs() < 1e-4, "{lp}");

        // ℓ_p = [2, −1, 0, 8], ℓ_q = [0.5, 1.5, −3, −2]; SciPy 1.17.1:
        // Σ bernoulli(expit(ℓ_p)).entropy() = 1.6437023519519978,
        // Σ scipy.stats.entropy([p, 1−p], [q, 1−q]) = 3.862821901522709.
        let p = Bernoulli::new(t2(&[2.0, -1.0, 0.0, 8.0], 4, &dev)).unwrap();
        let q = Bernoulli::new(t2(&[0.5, 1.5, -3.0, -2.0], 4, &dev)).unwrap();
        let h = host(p.entropy())[0];
        assert!((h - 1.6437023519519978).abs() < 1e-5, "{h}");
        let kl = host(p.kl_divergence(&q))[0];
        assert!((kl - 3.862821901522709).abs() < 1e-5, "{kl}");
        // Saturated logits stay finite.
        let s = Bernoulli::new(t2(&[80.0, -80.0], 2, &dev)).unwrap();
        let t = Bernoulli::new(t2(&[-80.0, 80.0], 2, &dev)).unwrap();
        let v = host(s.kl_divergence(&t))[0];
        assert!(
            v.is_finite() && (v - 160.0).abs() < 1e-2,
            "KL = 2 dims × 80 nats: {v}"
        );
        assert!(host(s.entropy())[0].abs() < 1e-6);
    }
}

#[test]
fn bernoulli_samples_match_probabilities() {
    // 50k rows of p = σ([−1, 0, 2]) = [0.269, 0.5, 0.881]: SE ≤ √(0.25/5e4) = 0.0022;
    // tolerance 0.011 (5 SE).
    let dev = Device::flex();
    let n = 50_000;
    let logits: Vec<f64> = (0..n).flat_map(|_| [-1.0, 0.0, 2.0]).collect();
    let b = Bernoulli::new(t2(&logits, 3, &dev)).unwrap();
    let s = host2(b.sample(&mut HostRng::seed_from_u64(5)));
    for (j, l) in [-1.0f64, 0.0, 2.0].iter().enumerate() {
        let f = (0..n).map(|i| s[i * 3 + j]).sum::<f64>() / n as f64;
        let p = 1.0 / (1.0 + (-l).exp());
        assert!((f - p).abs() < 0.011, "dim {j}: {f} vs {p}");
    }
    assert!(s.iter().all(|x| *x == 0.0 || *x == 1.0));
}
