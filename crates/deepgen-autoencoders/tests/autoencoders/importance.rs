//! Importance sampling: the k-sample estimate of ln p(x) against the exact marginal of a
//! model where it is known, the bound ordering ELBO ≤ IWAE_k ≤ ln p(x), and chunking.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use deepgen_autoencoders::WithBody as _;
use deepgen_autoencoders::importance::{
    ImportanceSampled, IwSettings, MeanSe, iwae_bound, log_likelihood,
};
use deepgen_autoencoders::{Vae, VaeConfig};
use deepgen_tensor::HostRng;
use deepgen_tensor::numerics::host::logsumexp;

/// A 2-pixel, 1-latent VAE with a deterministic, non-trivial parameter fill, so the exact
/// marginal p(x) = ∫ p(x|z) N(z) dz can be computed by quadrature on the host.
fn tiny_vae(dev: &Device) -> Vae {
    let vae = VaeConfig::new()
        .with_input_dim(2)
        .with_latent_dim(1)
        .with_hidden(vec![3])
        .init(dev);
    let mut i = 0u32;
    vae.map(&mut FillMapper(&mut i))
}

struct FillMapper<'a>(&'a mut u32);
impl burn::module::ModuleMapper for FillMapper<'_> {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        p.map(|t| {
            let n: usize = t.dims().iter().product();
            let v: Vec<f32> = (0..n)
                .map(|j| {
                    *self.0 += 1;
                    (((*self.0 as f32) * 0.7 + j as f32 * 1.3).sin()) * 0.8
                })
                .collect();
            Tensor::from_data(TensorData::new(v, t.dims()), &t.device())
        })
    }
}

/// ln p(x) by trapezoidal quadrature over z ∈ [−12, 12] in f64 on the host, evaluating the
/// decoder (f32) on a grid of 20 001 points.
fn exact_log_marginal(vae: &Vae, x: [f32; 2], dev: &Device) -> f64 {
    let n = 20_001;
    let (lo, hi) = (-12.0f64, 12.0f64);
    let h = (hi - lo) / (n - 1) as f64;
    let zs: Vec<f32> = (0..n).map(|i| (lo + i as f64 * h) as f32).collect();
    let z = Tensor::<2>::from_data(TensorData::new(zs.clone(), [n, 1]), dev);
    let logits: Vec<f64> = vae
        .decoder
        .forward(z)
        .into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .unwrap();
    let terms: Vec<f64> = (0..n)
        .map(|i| {
            let zi = zs[i] as f64;
            let lpz = -0.5 * zi * zi - 0.5 * (2.0 * std::f64::consts::PI).ln();
            let lpx: f64 = (0..2)
                .map(|j| {
                    let l = logits[i * 2 + j];
                    x[j] as f64 * l - (l.max(0.0) + (-l.abs()).exp().ln_1p())
                })
                .sum();
            let w = if i == 0 || i == n - 1 { 0.5 } else { 1.0 };
            lpz + lpx + (w * h).ln()
        })
        .collect();
    logsumexp(&terms)
}

#[test]
fn iw_estimate_converges_to_the_exact_marginal_and_bounds_are_ordered() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let vae = tiny_vae(&dev);
    let xs = [[1.0f32, 0.0], [0.0, 0.0], [1.0, 1.0]];
    let x = Tensor::<2>::from_data(
        TensorData::new(xs.iter().flatten().copied().collect::<Vec<_>>(), [3, 2]),
        &dev,
    );
    let mut rng = HostRng::seed_from_u64(1);
    // k = 200 000 in chunks of 3 rows × 700 samples (exercises the chunked path).
    let k = 200_000;
    let settings = IwSettings {
        k,
        max_rows_times_samples: 2100,
    };
    let est = log_likelihood(&vae, x.clone(), settings, &mut rng);
    // Tolerance: the estimator's standard error by the delta method,
    // SE[ln p̂] ≈ sd(w) / (mean(w)·√k), measured from an independent draw of k weights,
    // times 5, plus 1e-4 for the f32 forward pass.
    let lw = vae.log_weights(x.clone(), k, &mut rng);
    let lw: Vec<f64> = lw.into_data().convert::<f64>().try_to_vec::<f64>().unwrap();
    for (r, xr) in xs.iter().enumerate() {
        let exact = exact_log_marginal(&vae, *xr, &dev);
        let row = &lw[r * k..(r + 1) * k];
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
        let mean = w.iter().sum::<f64>() / k as f64;
        let sd = (w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1) as f64).sqrt();
        let se = sd / (mean * (k as f64).sqrt());
        assert!(
            (est[r] - exact).abs() < 5.0 * se + 1e-4,
            "row {r}: IW {} vs quadrature {exact} (SE {se})",
            est[r]
        );
        assert!(
            se < 0.004,
            "row {r}: SE {se} too large for a meaningful check"
        );
    }
    // E[ELBO] ≤ E[IWAE_10] ≤ ln p(x): averages over 2000 draws (SE ≈ 0.01).
    let rows = 2000;
    let xb = x.clone().narrow(0, 0, 1).repeat_dim(0, rows);
    let elbo = MeanSe::of(&host(iwae_bound(vae.log_weights(xb.clone(), 1, &mut rng))));
    let iw10 = MeanSe::of(&host(iwae_bound(vae.log_weights(xb, 10, &mut rng))));
    let exact = exact_log_marginal(&vae, xs[0], &dev);
    assert!(
        elbo.mean + 4.0 * elbo.se < iw10.mean + 4.0 * iw10.se && iw10.mean < exact + 4.0 * iw10.se,
        "ELBO {elbo:?} IWAE10 {iw10:?} exact {exact}"
    );
    assert!(elbo.mean < iw10.mean, "ELBO {elbo:?} IWAE10 {iw10:?}");
}

fn host(t: Tensor<1>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}
