//! Every distribution computes the same values, samples and gradients on every compiled
//! backend: flex vs ndarray always, flex vs wgpu (Mesa lavapipe in CI) in the wgpu lane
//! (`-- --ignored`).
//!
//! One function evaluates log_prob, entropy, KL, a seeded sample and the gradient of a
//! log_prob/rsample expression w.r.t. the parameters for each distribution on a given device;
//! the results are compared with flex's. Noise is host-drawn, so equal seeds give equal noise
//! on every backend and differences come only from the device arithmetic (f32 summation order,
//! transcendental implementations): tolerance 1e-4 relative to max(1, |value|) — a wrong
//! formula or a backend-specific NaN would be off by far more.

use burn::tensor::{Device, Int, Tensor, TensorData};
use deepgen_distributions::{
    Bernoulli, Categorical, ContinuousBernoulli, DiagGaussian, DiscretizedLogisticMixture,
    Distribution, Entropy, GumbelSoftmax, KlDivergence, PowerSpherical, Rsample, UniformSphere,
    VonMisesFisher,
};
use deepgen_tensor::{BackendKind, HostRng};

fn t2(v: &[f32], cols: usize, dev: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len() / cols, cols]), dev)
}

fn flat<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

/// Named outputs of every distribution on `device` (an autodiff device).
fn evaluate(device: &Device) -> Vec<(String, Vec<f64>)> {
    let mut out = Vec::new();
    let mut push = |name: &str, v: Vec<f64>| out.push((name.to_string(), v));

    // Diagonal Gaussian: log_prob, entropy, KL, rsample and its gradient.
    let mean = t2(&[0.3, -1.0, 0.5, 2.0], 2, device).require_grad();
    let log_std = t2(&[0.1, -0.4, 0.7, 0.0], 2, device).require_grad();
    let g = DiagGaussian::new(mean.clone(), log_std.clone()).unwrap();
    let x = t2(&[0.0, 1.0, -0.5, 2.5], 2, device);
    push("gaussian.log_prob", flat(g.log_prob(x.clone())));
    push("gaussian.entropy", flat(g.entropy()));
    let z = g.rsample(&mut HostRng::seed_from_u64(1));
    push("gaussian.rsample", flat(z.clone()));
    let grads = (g.log_prob(z).sum()).backward();
    push("gaussian.dmean", flat(mean.grad(&grads).unwrap()));
    push("gaussian.dlog_std", flat(log_std.grad(&grads).unwrap()));

    // Bernoulli and continuous Bernoulli.
    let logits = t2(&[2.0, -1.0, 0.0, 0.3, -6.0, 1e-3], 3, device);
    let bits = t2(&[1.0, 0.0, 0.5, 0.2, 1.0, 0.9], 3, device);
    let b = Bernoulli::new(logits.clone()).unwrap();
    push("bernoulli.log_prob", flat(b.log_prob(bits.clone())));
    push("bernoulli.entropy", flat(b.entropy()));
    push(
        "bernoulli.sample",
        flat(b.sample(&mut HostRng::seed_from_u64(2))),
    );
    let cb = ContinuousBernoulli::new(logits.clone()).unwrap();
    push("cb.log_prob", flat(cb.log_prob(bits.clone())));
    push("cb.entropy", flat(cb.entropy()));
    push(
        "cb.kl",
        flat(cb.kl_divergence(&ContinuousBernoulli::new(logits.clone() * 0.5).unwrap())),
    );
    push(
        "cb.rsample",
        flat(cb.rsample(&mut HostRng::seed_from_u64(3))),
    );

    // Discretized logistic mixture: K = 2 components over 3 sub-pixels.
    let p = |v: [f32; 6]| Tensor::<3>::from_data(TensorData::new(v.to_vec(), [1, 2, 3]), device);
    let dl = DiscretizedLogisticMixture::new(
        p([0.2, -0.3, 1.0, 0.0, 0.5, -1.0]),
        p([-0.9, 0.1, 0.95, 0.3, -0.2, 0.6]),
        p([-3.0, -2.0, -4.0, -1.5, -7.5, -2.5]),
    )
    .unwrap();
    push(
        "dl.log_prob",
        flat(dl.log_prob(t2(&[-1.0, 0.0 + 1.0 / 255.0, 1.0], 3, device))),
    );
    push("dl.mean", flat(dl.mean()));

    // Categorical (Gumbel-max sampling) and Concrete.
    let cl = t2(&[0.5, -1.0, 2.0, 0.0, 0.1, 0.2, -0.3, 1.5], 4, device);
    let c = Categorical::new(cl.clone()).unwrap();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64, 3], [2]), device);
    push("categorical.log_prob", flat(c.log_prob(idx)));
    push("categorical.entropy", flat(c.entropy()));
    push(
        "categorical.kl",
        flat(c.kl_divergence(&Categorical::new(cl.clone().flip([1])).unwrap())),
    );
    push(
        "categorical.sample",
        flat(c.sample(&mut HostRng::seed_from_u64(4)).float()),
    );
    let gs = GumbelSoftmax::new(cl, 0.5).unwrap();
    let y = gs.rsample(&mut HostRng::seed_from_u64(5));
    push("concrete.rsample", flat(y.clone()));
    push("concrete.log_prob", flat(gs.log_prob(y)));

    // Sphere: vMF, power spherical, uniform.
    let s = 1.0f32 / 3.0f32.sqrt();
    let loc = t2(&[s, s, s, 1.0, 0.0, 0.0], 3, device);
    let kappa_raw =
        Tensor::<1>::from_data(TensorData::new(vec![2.0f32, 50.0], [2]), device).require_grad();
    let uniform = UniformSphere::new(2, 3, device).unwrap();
    let v = VonMisesFisher::new(loc.clone(), kappa_raw.clone()).unwrap();
    let zv = v.rsample(&mut HostRng::seed_from_u64(6));
    push("vmf.rsample", flat(zv.clone()));
    push("vmf.log_prob", flat(v.log_prob(zv.clone())));
    push("vmf.entropy", flat(v.entropy()));
    push("vmf.kl_uniform", flat(v.kl_divergence(&uniform)));
    let grads = (zv.clone().slice([0..2, 0..1]).sum() + v.kl_divergence(&uniform).sum()).backward();
    push("vmf.dkappa", flat(kappa_raw.grad(&grads).unwrap()));
    let ps = PowerSpherical::new(loc, kappa_raw.clone()).unwrap();
    let zp = ps.rsample(&mut HostRng::seed_from_u64(7));
    push("ps.rsample", flat(zp.clone()));
    push("ps.log_prob", flat(ps.log_prob(zp)));
    push("ps.kl_uniform", flat(ps.kl_divergence(&uniform)));
    push("uniform.log_prob", flat(uniform.log_prob(zv)));
    out
}

fn compare(a: &[(String, Vec<f64>)], b: &[(String, Vec<f64>)], backend: &str) {
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(b) {
        assert_eq!(x.len(), y.len(), "{name}");
        for (i, (u, v)) in x.iter().zip(y).enumerate() {
            assert!(
                u.is_finite() && v.is_finite(),
                "{name}[{i}] not finite on {backend}: {u} {v}"
            );
            assert!(
                (u - v).abs() <= 1e-4 * u.abs().max(1.0),
                "{name}[{i}]: flex {u} vs {backend} {v}"
            );
        }
    }
}

#[test]
fn every_distribution_agrees_on_flex_and_ndarray() {
    let reference = evaluate(&BackendKind::Flex.device().unwrap().autodiff());
    let device = BackendKind::NdArray.device().unwrap().autodiff();
    compare(&reference, &evaluate(&device), "ndarray");
}

#[test]
#[ignore = "wgpu lane: needs a Vulkan driver; run with -- --ignored"]
fn every_distribution_agrees_on_flex_and_wgpu() {
    let reference = evaluate(&BackendKind::Flex.device().unwrap().autodiff());
    // Both wgpu kinds resolve to lavapipe on a machine without a GPU; one is enough.
    let device = BackendKind::WgpuCpu.device().unwrap().autodiff();
    compare(&reference, &evaluate(&device), "wgpu-cpu");
}
