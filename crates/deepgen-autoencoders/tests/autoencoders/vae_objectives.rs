//! The VAE objectives: β, free bits, capacity control, IWAE; BN-VAE's KL floor; the
//! likelihoods' values against textbook formulas.

use std::collections::BTreeMap;

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use deepgen_autoencoders::WithBody as _;
use deepgen_autoencoders::importance::iwae_bound;
use deepgen_autoencoders::{KlControl, LikelihoodConfig, Vae, VaeConfig, VaeObjective};
use deepgen_tensor::numerics::host::log_mean_exp;
use deepgen_tensor::{HostRng, Validate};
use deepgen_train::{StepContext, StepOutput};

/// Deterministic parameter fill (tests never depend on the device RNG).
struct Fill(u32);
impl burn::module::ModuleMapper for Fill {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        p.map(|t| {
            let n: usize = t.dims().iter().product();
            let v: Vec<f32> = (0..n)
                .map(|j| {
                    self.0 += 1;
                    ((self.0 as f32 * 0.37 + j as f32 * 0.91).sin()) * 0.6
                })
                .collect();
            let fresh = Tensor::from_data(TensorData::new(v, t.dims()), &t.device());
            if t.device().is_autodiff() {
                fresh.require_grad()
            } else {
                fresh
            }
        })
    }
}

fn model(cfg: VaeConfig, dev: &Device) -> Vae {
    cfg.init(dev).map(&mut Fill(0))
}

fn small() -> VaeConfig {
    VaeConfig::new()
        .with_input_dim(6)
        .with_hidden(vec![5])
        .with_latent_dim(3)
}

fn data(b: usize, d: usize, dev: &Device) -> Tensor<2> {
    let v: Vec<f32> = (0..b * d)
        .map(|i| ((i * 7 + 3) % 5 < 2) as u8 as f32)
        .collect();
    Tensor::from_data(TensorData::new(v, [b, d]), dev)
}

fn ctx(weights: &[(&str, f64)]) -> StepContext {
    StepContext {
        epoch: 0,
        step: 0,
        weights: weights
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()[0]
}

fn metric(out: &StepOutput, name: &str) -> f64 {
    scalar(
        out.metrics
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("metric {name} missing"))
            .1
            .clone(),
    )
}

fn host2(t: Tensor<2>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

#[test]
fn beta_free_bits_and_capacity_losses_match_hand_computation() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let vae = model(small(), &dev);
    let x = data(4, 6, &dev);
    let eps =
        deepgen_distributions::noise::standard_normal(&mut HostRng::seed_from_u64(1), [4, 3], &dev);
    let terms = vae.elbo_terms_with_noise(x.clone(), eps.clone());
    let recon = host2(terms.recon_nll.clone().unsqueeze_dim(1))
        .iter()
        .sum::<f64>()
        / 4.0;
    let kl_dim = host2(terms.kl_per_dim.clone());
    let kl = kl_dim.iter().sum::<f64>() / 4.0;

    // β-VAE: recon + β·KL.
    let plain = vae.objective_step(
        &VaeObjective::default(),
        x.clone(),
        eps.clone(),
        &ctx(&[("beta", 4.0)]),
    );
    assert!((scalar(plain.loss.clone()) - (recon + 4.0 * kl)).abs() < 1e-4);
    assert!((metric(&plain, "neg_elbo") - (recon + kl)).abs() < 1e-4);

    // Free bits λ: recon + Σ_j max(λ, mean_b KL_bj), λ between the per-dim averages.
    let per_dim: Vec<f64> = (0..3)
        .map(|j| (0..4).map(|b| kl_dim[b * 3 + j]).sum::<f64>() / 4.0)
        .collect();
    let mut sorted = per_dim.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let lambda = 0.5 * (sorted[0] + sorted[1]);
    let fb_expected: f64 = per_dim.iter().map(|v| v.max(lambda)).sum();
    let fb = VaeObjective {
        iw_samples: 1,
        kl: KlControl::FreeBits { lambda },
    };
    let out = vae.objective_step(&fb, x.clone(), eps.clone(), &ctx(&[]));
    assert!((scalar(out.loss.clone()) - (recon + fb_expected)).abs() < 1e-4);
    assert!((metric(&out, "kl_free_bits") - fb_expected).abs() < 1e-4);

    // Capacity: recon + γ·|KL − C|.
    let cap = VaeObjective {
        iw_samples: 1,
        kl: KlControl::Capacity { gamma: 10.0 },
    };
    let c = kl + 0.3;
    let out = vae.objective_step(&cap, x, eps, &ctx(&[("capacity", c)]));
    assert!((scalar(out.loss.clone()) - (recon + 10.0 * 0.3)).abs() < 1e-3);
    assert!((metric(&out, "capacity") - c).abs() < 1e-6);
}

#[test]
fn free_bits_stops_the_kl_gradient_of_dimensions_below_lambda() {
    let _serial = crate::serial();
    // With λ above every dimension's KL the KL term is constant: the encoder's log σ head
    // (which the reconstruction reaches only through z) gets the same gradient as with β = 0.
    let ad = Device::flex().autodiff();
    let x = data(4, 6, &ad);
    let eps = Tensor::<2>::zeros([4, 3], &ad); // z = μ: log σ affects only the KL
    let grad_of = |obj: VaeObjective, w: &[(&str, f64)]| {
        let vae = model(small(), &ad);
        let out = vae.objective_step(&obj, x.clone(), eps.clone(), &ctx(w));
        let g = out.loss.backward();
        let last = vae.encoder.as_mlp().unwrap().layers.last().unwrap();
        host2(last.weight.grad(&g).unwrap())
    };
    let free = grad_of(
        VaeObjective {
            iw_samples: 1,
            kl: KlControl::FreeBits { lambda: 1e3 },
        },
        &[],
    );
    let no_kl = grad_of(VaeObjective::default(), &[("beta", 0.0)]);
    let with_kl = grad_of(VaeObjective::default(), &[("beta", 1.0)]);
    let diff = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    };
    assert!(
        diff(&free, &no_kl) < 1e-6,
        "free bits above every KL must cut the KL gradient"
    );
    assert!(
        diff(&with_kl, &no_kl) > 1e-3,
        "the KL gradient itself is not zero"
    );
}

#[test]
fn iwae_loss_is_the_negative_bound_of_the_same_samples() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let vae = model(small(), &dev);
    let x = data(3, 6, &dev);
    let k = 7;
    let eps = deepgen_distributions::noise::standard_normal(
        &mut HostRng::seed_from_u64(9),
        [3 * k, 3],
        &dev,
    );
    let obj = VaeObjective {
        iw_samples: k,
        kl: KlControl::Plain,
    };
    let out = vae.objective_step(&obj, x.clone(), eps.clone(), &ctx(&[]));
    let lw = host2(vae.log_weights_with_noise(x.clone(), eps.clone(), k));
    let expected: f64 = -(0..3)
        .map(|b| log_mean_exp(&lw[b * k..(b + 1) * k]))
        .sum::<f64>()
        / 3.0;
    assert!((scalar(out.loss.clone()) - expected).abs() < 1e-4);
    let bound = iwae_bound(vae.log_weights_with_noise(x.clone(), eps.clone(), k));
    assert!((scalar(bound.mean().neg()) - expected).abs() < 1e-4);
    // Sample j of example b uses noise row b·k + j: the log-weight of (b, j) equals the
    // single-sample weight of example b with that noise row.
    let single = host2(vae.log_weights_with_noise(
        x.clone().narrow(0, 1, 1),
        eps.clone().narrow(0, k + 2, 1),
        1,
    ));
    assert!((single[0] - lw[k + 2]).abs() < 1e-4);
    // Invalid combinations are refused with a message naming the setting.
    let bad = VaeObjective {
        iw_samples: 5,
        kl: KlControl::FreeBits { lambda: 0.1 },
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("iw-samples")
    );
}

#[test]
fn bn_vae_bounds_the_batch_kl_from_below() {
    let _serial = crate::serial();
    // In training mode the BN'd means have batch variance γ², so the batch-average KL per
    // dimension is ≥ ½γ² (σ² − 1 − ln σ² ≥ 0). Checked on an encoder driven to collapse:
    // every mean ≈ the same value.
    let ad = Device::flex().autodiff();
    let gamma = 0.6;
    let vae = model(small().with_bn_gamma(Some(gamma)), &ad);
    let x = data(16, 6, &ad);
    let q = vae.encode(x);
    let kl = host2(q.kl_standard_normal_per_dim());
    for j in 0..3 {
        let avg = (0..16).map(|b| kl[b * 3 + j]).sum::<f64>() / 16.0;
        assert!(avg >= 0.5 * gamma * gamma - 1e-4, "dim {j}: batch KL {avg}");
    }
    let mu = host2(q.mean);
    for j in 0..3 {
        let m = (0..16).map(|b| mu[b * 3 + j]).sum::<f64>() / 16.0;
        let v = (0..16).map(|b| (mu[b * 3 + j] - m).powi(2)).sum::<f64>() / 16.0;
        assert!(
            (v - gamma * gamma).abs() < 1e-3,
            "dim {j}: batch variance {v}"
        );
    }
}

#[test]
fn gaussian_likelihoods_match_the_formula_and_parse() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let out = Tensor::<2>::from_data(TensorData::new(vec![0.2f32, 0.9, -3.0, 1.0], [1, 4]), &dev);
    let x = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0], [1, 2]), &dev);
    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    // Fixed σ = 0.1 on the first two outputs as means.
    let fixed = LikelihoodConfig::GaussianFixed { std: 0.1 };
    let lp = scalar(fixed.log_prob(out.clone().slice([0..1, 0..2]), x.clone()));
    let exp: f64 = [(0.0, 0.2), (1.0, 0.9)]
        .iter()
        .map(|(x, m)| -0.5 * ((x - m) / 0.1f64).powi(2) - 0.1f64.ln() - 0.5 * ln2pi)
        .sum();
    assert!((lp - exp).abs() < 1e-4, "{lp} vs {exp}");
    // Learned σ: ln σ = ln 0.01 + softplus(raw − ln 0.01).
    let learned = LikelihoodConfig::GaussianLearned;
    let lp = scalar(learned.log_prob(out, x));
    let floor = 0.01f64.ln();
    let exp: f64 = [(0.0, 0.2, -3.0), (1.0, 0.9, 1.0)]
        .iter()
        .map(|(x, m, r)| {
            let ls = floor + (1.0 + (r - floor).exp()).ln();
            -0.5 * ((x - m) / ls.exp()).powi(2) - ls - 0.5 * ln2pi
        })
        .sum();
    assert!((lp - exp).abs() < 1e-4, "{lp} vs {exp}");
    assert_eq!("gaussian:0.1".parse::<LikelihoodConfig>().unwrap(), fixed);
    assert_eq!(
        "gaussian-learned".parse::<LikelihoodConfig>().unwrap(),
        learned
    );
    assert!(
        "gaussian:-1"
            .parse::<LikelihoodConfig>()
            .unwrap_err()
            .contains("σ")
    );
    assert!(
        "poisson"
            .parse::<LikelihoodConfig>()
            .unwrap_err()
            .contains("poisson")
    );
    assert_eq!(fixed.label().parse::<LikelihoodConfig>().unwrap(), fixed);
}

#[test]
fn grey_level_likelihoods_are_the_distributions_and_parse() {
    let _serial = crate::serial();
    // The likelihood adapters must be exactly the distributions of deepgen-distributions
    // on the right domain: CB on [0, 1]; the logistic mixture on the level grid 2v/255 − 1
    // with channel-major parameters (logits, means, log-scales).
    use deepgen_distributions::{ContinuousBernoulli, DiscretizedLogisticMixture, Distribution};
    let dev = Device::flex();
    let d = 3;
    let x = Tensor::<2>::from_data(
        TensorData::new(vec![0.0f32, 128.0 / 255.0, 1.0], [1, d]),
        &dev,
    );
    let out = Tensor::<2>::from_data(TensorData::new(vec![0.3f32, -2.0, 4.0], [1, d]), &dev);
    let cb = LikelihoodConfig::ContinuousBernoulli;
    let a = scalar(cb.log_prob(out.clone(), x.clone()));
    let b = scalar(
        ContinuousBernoulli::new(out.clone())
            .unwrap()
            .log_prob(x.clone()),
    );
    assert_eq!(a, b);
    let k = 2;
    let params: Vec<f32> = (0..3 * k * d)
        .map(|i| ((i as f32) * 0.7).sin() * 0.8)
        .collect();
    let out = Tensor::<2>::from_data(TensorData::new(params.clone(), [1, 3 * k * d]), &dev);
    let dl = LikelihoodConfig::DiscretizedLogistic { components: k };
    let a = scalar(dl.log_prob(out, x));
    let mix = DiscretizedLogisticMixture::from_channels(
        Tensor::<3>::from_data(TensorData::new(params, [1, 3 * k, d]), &dev),
        k,
    )
    .unwrap();
    let grid = Tensor::<2>::from_data(
        TensorData::new(vec![-1.0f32, 1.0 / 255.0, 1.0], [1, d]),
        &dev,
    );
    let b = scalar(mix.log_prob(grid));
    assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    assert!(a < 0.0, "a probability: {a}");
    assert_eq!(
        "continuous-bernoulli".parse::<LikelihoodConfig>().unwrap(),
        cb
    );
    assert_eq!("logistic:2".parse::<LikelihoodConfig>().unwrap(), dl);
    assert!(
        "logistic:0"
            .parse::<LikelihoodConfig>()
            .unwrap_err()
            .contains("component")
    );
    assert_eq!(dl.params_per_dim(), 6);
}
