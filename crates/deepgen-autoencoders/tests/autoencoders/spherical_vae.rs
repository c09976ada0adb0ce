//! Hyperspherical VAEs: KL terms against host f64 formulas (mpmath-checked Bessel functions in
//! deepgen-tensor), the fixed-κ KL constant, importance weights, objective checks, save/load and
//! overfitting one batch.

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use deepgen_autoencoders::WithBody as _;
use deepgen_autoencoders::importance::{ImportanceSampled, iwae_bound};
use deepgen_autoencoders::vae_task::VariationalModel;
use deepgen_autoencoders::{KlControl, SphericalPosterior, SphericalVaeConfig, VaeObjective};
use deepgen_distributions::sphere::log_sphere_surface_area;
use deepgen_tensor::HostRng;
use deepgen_tensor::numerics::host::{vmf_log_normalizer, vmf_mean_resultant_length};

struct Fill(u32);
impl burn::module::ModuleMapper for Fill {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        p.map(|t| {
            let n: usize = t.dims().iter().product();
            let v: Vec<f32> = (0..n)
                .map(|j| {
                    self.0 += 1;
                    ((self.0 as f32 * 0.37 + j as f32 * 0.91).sin()) * 0.5
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

fn small(posterior: SphericalPosterior, fixed: Option<f64>) -> SphericalVaeConfig {
    SphericalVaeConfig::new()
        .with_input_dim(12)
        .with_hidden(vec![8])
        .with_latent_dim(4)
        .with_posterior(posterior)
        .with_fixed_kappa(fixed)
}

fn data(b: usize, dev: &Device) -> Tensor<2> {
    let v: Vec<f32> = (0..b * 12)
        .map(|i| ((i * 7 + 3) % 5 < 2) as u8 as f32)
        .collect();
    Tensor::from_data(TensorData::new(v, [b, 12]), dev)
}

fn host1(t: Tensor<1>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

#[test]
fn vmf_kl_matches_the_host_formula_and_fixed_kappa_kl_is_constant() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let vae = small(SphericalPosterior::VonMisesFisher, None)
        .init(&dev)
        .map(&mut Fill(0));
    let x = data(5, &dev);
    let (_, kappa) = vae.encode_params(x.clone());
    let (_, kl) = vae.elbo_terms(x.clone(), &mut HostRng::seed_from_u64(1));
    let m = 4;
    for (k, kl) in host1(kappa).iter().zip(host1(kl)) {
        assert!(*k > 1.0, "learned κ = softplus + 1 > 1: {k}");
        // KL(vMF ‖ U) = ln C_m(κ) + κ A_m(κ) + ln |S^{m−1}|.
        let expected = vmf_log_normalizer(m, *k)
            + k * vmf_mean_resultant_length(m, *k)
            + log_sphere_surface_area(m);
        assert!(
            (kl - expected).abs() < 1e-4 * (1.0 + expected),
            "{kl} vs {expected}"
        );
    }
    let fixed = small(SphericalPosterior::VonMisesFisher, Some(30.0))
        .init(&dev)
        .map(&mut Fill(0));
    let (_, kl) = fixed.elbo_terms(x, &mut HostRng::seed_from_u64(2));
    let expected = vmf_log_normalizer(m, 30.0)
        + 30.0 * vmf_mean_resultant_length(m, 30.0)
        + log_sphere_surface_area(m);
    for v in host1(kl) {
        assert!((v - expected).abs() < 1e-4 * expected, "{v} vs {expected}");
    }
}

#[test]
fn recon_term_is_the_likelihood_at_the_posterior_sample() {
    let _serial = crate::serial();
    // Same seed → same z: the ELBO's recon equals −ln p(x|z) at q.rsample with that seed.
    let dev = Device::flex();
    for posterior in [
        SphericalPosterior::VonMisesFisher,
        SphericalPosterior::PowerSpherical,
    ] {
        let vae = small(posterior, None).init(&dev).map(&mut Fill(3));
        let x = data(4, &dev);
        let (recon, _) = vae.elbo_terms(x.clone(), &mut HostRng::seed_from_u64(9));
        let z = vae
            .encode(x.clone())
            .rsample(&mut HostRng::seed_from_u64(9));
        let norms: Vec<f64> = host1(z.clone().square().sum_dim(1).squeeze_dim(1));
        assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-5), "{norms:?}");
        let direct = host1(vae.log_likelihood(z, x).neg());
        for (a, b) in host1(recon).iter().zip(direct) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}

#[test]
fn importance_weights_bound_the_elbo_and_the_objective_is_checked() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let vae = small(SphericalPosterior::VonMisesFisher, None)
        .init(&dev)
        .map(&mut Fill(5));
    let rows = 400;
    let x = data(1, &dev).repeat_dim(0, rows);
    let mut rng = HostRng::seed_from_u64(4);
    let lw1 = host1(iwae_bound(vae.log_weights(x.clone(), 1, &mut rng)));
    let lw8 = host1(iwae_bound(vae.log_weights(x.clone(), 8, &mut rng)));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (recon, kl) = vae.elbo_terms(x, &mut rng);
    let elbo = -mean(&host1(recon + kl));
    // The single-sample log-weight is an unbiased ELBO estimate (analytic KL vs its MC
    // version): means agree within 5 SE; the 8-sample bound is higher.
    let sd = (lw1.iter().map(|v| (v - mean(&lw1)).powi(2)).sum::<f64>() / rows as f64).sqrt();
    assert!(
        (mean(&lw1) - elbo).abs() < 5.0 * sd / (rows as f64).sqrt() + 0.05,
        "{} vs {elbo}",
        mean(&lw1)
    );
    assert!(mean(&lw8) > mean(&lw1), "{} ≤ {}", mean(&lw8), mean(&lw1));
    let free_bits = VaeObjective {
        iw_samples: 1,
        kl: KlControl::FreeBits { lambda: 0.1 },
    };
    assert!(
        vae.check_objective(&free_bits)
            .unwrap_err()
            .to_string()
            .contains("free-bits")
    );
    assert!(vae.check_objective(&VaeObjective::default()).is_ok());
}

#[test]
fn save_load_round_trip_and_overfitting_one_batch() {
    let _serial = crate::serial();
    let ad = Device::flex().autodiff();
    let cfg = SphericalVaeConfig::new()
        .with_hidden(vec![64])
        .with_latent_dim(8);
    let x = data(16, &ad)
        .repeat_dim(1, 784 / 12 + 1)
        .slice([0..16, 0..784]);
    let ctx = deepgen_train::StepContext {
        epoch: 0,
        step: 0,
        weights: Default::default(),
    };
    let obj = VaeObjective::default();
    let train = |cfg: &SphericalVaeConfig, steps: usize| {
        let mut vae = cfg.init(&ad).map(&mut Fill(7));
        let mut optim = AdamConfig::new().init();
        let mut rng = HostRng::seed_from_u64(0);
        let first = host1(vae.train_step(&obj, x.clone(), &mut rng, &ctx).loss)[0];
        for _ in 0..steps {
            let out = vae.train_step(&obj, x.clone(), &mut rng, &ctx);
            let grads = GradientsParams::from_grads(out.loss.backward(), &vae);
            vae = optim.step(3e-3, vae, grads);
        }
        let last = host1(vae.train_step(&obj, x.clone(), &mut rng, &ctx).loss)[0];
        (vae, first, last)
    };
    // Overfitting at a fixed κ = 50. With κ learned, this batch of five distinct patterns falls
    // into the uniform-posterior collapse (the decoder ignores z: ≈ 520 nats) in 40–65 % of the
    // noise draws (24 and 40 seeds, measured 2026-12-07 with both the old and the blocked vMF
    // sampler), so an assertion on one seed tested the draw; at κ = 50 all 24 seeds ended at
    // 10–21 nats after 200 steps. Start ≈ 784·ln 2 = 543 nats plus the constant KL.
    let (_, first, last) = train(&cfg.clone().with_fixed_kappa(Some(50.0)), 200);
    assert!(
        first > 450.0 && last < 60.0,
        "negative ELBO {first} → {last}"
    );

    // Save and load the learned-κ model (κ head included) after a few optimizer steps.
    let (vae, _, _) = train(&cfg, 20);
    let dev = Device::flex();
    let trained = vae.valid();
    let bytes = trained.clone().into_record().into_bytes().unwrap().to_vec();
    let fresh = cfg.init(&dev).map(&mut Fill(99));
    let loaded = fresh.load_record(ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).unwrap());
    let xv = data(3, &dev)
        .repeat_dim(1, 784 / 12 + 1)
        .slice([0..3, 0..784]);
    let a = trained.log_weights(xv.clone(), 4, &mut HostRng::seed_from_u64(1));
    let b = loaded.log_weights(xv, 4, &mut HostRng::seed_from_u64(1));
    assert_eq!(
        a.into_data().try_to_vec::<f32>().unwrap(),
        b.into_data().try_to_vec::<f32>().unwrap()
    );
}

#[test]
fn trains_through_the_shared_loop_and_the_example_driver() {
    let _serial = crate::serial();
    use clap::Parser;
    use deepgen_autoencoders::cli::VaeFamilyArgs;
    use deepgen_data::Mnist;
    use deepgen_train::{CommonArgs, EvalReport, RunDefaults};

    /// The flags of the `svae` example that the driver reads.
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        family: VaeFamilyArgs,
    }
    let out = std::env::temp_dir().join(format!("deepgen-svae-loop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let cli = Cli::parse_from([
        "svae",
        "--device",
        "flex",
        "--epochs",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--nll-k",
        "20",
        "--fd-samples",
        "0",
    ]);
    let mut mnist = Mnist::load(None).expect("bundled MNIST");
    mnist.train = mnist.train.subset(2048);
    mnist.test = mnist.test.subset(300);
    let run = cli
        .family
        .start(
            &cli.common,
            RunDefaults {
                out_dir: "unused: --out is given",
                epochs: 3,
                batch_size: 32,
                ..RunDefaults::default()
            },
        )
        .unwrap();
    let model = SphericalVaeConfig::new()
        .with_hidden(vec![128])
        .with_latent_dim(5)
        .init(&run.device);
    let eval = cli.family.run(&run, model, &mnist, &[]).unwrap();
    let report = EvalReport::read(&out.join("eval.json")).unwrap();
    let field = |name: &str| -> f64 {
        report
            .get(name)
            .and_then(|v| v.as_f64())
            .unwrap_or_else(|| panic!("eval.json lacks a number `{name}`"))
    };
    let (elbo, nll) = (field("test_elbo"), field("test_nll"));
    let returned = eval.test_nll.unwrap().mean;
    assert!(
        (nll - returned).abs() <= 1e-9 * returned.abs(),
        "{nll} vs {returned}"
    );
    assert_eq!(field("nll_images"), 300.0);
    // 64 steps (--epochs 1 overrides the default 3; seeds 0–2 gave −241 … −258): far from the −543 nats of a uniform
    // model, far from converged; the 20-sample bound on the same 300 images is tighter than
    // the single-sample ELBO.
    assert!((-300.0..-150.0).contains(&elbo), "test ELBO {elbo}");
    assert!(
        nll < -elbo && nll > -elbo - 15.0,
        "NLL {nll} vs −ELBO {}",
        -elbo
    );
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 1, "one epoch recorded");
    std::fs::remove_dir_all(&out).ok();
}
