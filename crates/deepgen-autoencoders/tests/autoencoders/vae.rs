//! VAE tests (MLP and convolutional bodies): loss terms against an independent f64 computation, finite-difference gradient
//! check, save/load round trip, overfitting one batch, and a short run through the shared loop
//! on the bundled MNIST.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Distribution, Tensor, TensorData};
use deepgen_autoencoders::WithBody as _;
use deepgen_autoencoders::vae_task::VaeTask;
use deepgen_autoencoders::{ConvBodyConfig, Vae, VaeConfig};
use deepgen_data::{Binarization, Mnist};
use deepgen_train::{Schedule, Trainer};

fn tiny(device: &Device) -> Vae {
    device.seed(5);
    VaeConfig::new()
        .with_input_dim(6)
        .with_hidden(vec![4])
        .with_latent_dim(2)
        .init(device)
}

fn host(t: Tensor<2>) -> Vec<f64> {
    t.into_data()
        .try_to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

fn batch(device: &Device) -> (Tensor<2>, Tensor<2>) {
    let x = vec![
        1.0f32, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0,
    ];
    let eps = vec![0.3f32, -1.2, 1.5, 0.1];
    (
        Tensor::from_data(TensorData::new(x, [2, 6]), device),
        Tensor::from_data(TensorData::new(eps, [2, 2]), device),
    )
}

/// Recomputes the ELBO terms of `vae` (latent 2, Bernoulli) on a `[B, d]` batch from its
/// encoder/decoder outputs with textbook f64 formulas and compares.
fn check_elbo_terms(vae: &Vae, x: Tensor<2>, eps: Tensor<2>) {
    let dev = x.device();
    let [n, d] = x.dims();
    let terms = vae.elbo_terms_with_noise(x.clone(), eps.clone());
    let recon: Vec<f32> = terms.recon_nll.into_data().try_to_vec().unwrap();
    let kl: Vec<f32> = terms.kl.into_data().try_to_vec().unwrap();

    let h = host(vae.encoder.forward(x.clone()));
    let (xs, es) = (host(x), host(eps));
    for b in 0..n {
        let (mu, ls) = (&h[b * 4..b * 4 + 2], &h[b * 4 + 2..b * 4 + 4]);
        let kl_ref: f64 = (0..2)
            .map(|j| 0.5 * (mu[j] * mu[j] + (2.0 * ls[j]).exp() - 1.0) - ls[j])
            .sum();
        let z: Vec<f32> = (0..2)
            .map(|j| (mu[j] + ls[j].exp() * es[b * 2 + j]) as f32)
            .collect();
        let logits = host(
            vae.decoder
                .forward(Tensor::from_data(TensorData::new(z, [1, 2]), &dev)),
        );
        assert_eq!(logits.len(), d);
        let recon_ref: f64 = (0..d)
            .map(|i| {
                let (l, t) = (logits[i], xs[b * d + i]);
                let p = 1.0 / (1.0 + (-l).exp());
                -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
            })
            .sum();
        assert!(
            (kl[b] as f64 - kl_ref).abs() < 1e-5,
            "kl[{b}] {} vs {kl_ref}",
            kl[b]
        );
        assert!(
            (recon[b] as f64 - recon_ref).abs() < 1e-4 * recon_ref.max(1.0),
            "recon[{b}] {} vs {recon_ref}",
            recon[b]
        );
    }
}

#[test]
fn elbo_terms_match_an_independent_f64_computation() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let vae = tiny(&dev);
    let (x, eps) = batch(&dev);
    check_elbo_terms(&vae, x, eps);
}

/// A conv VAE on 1×7×5 images (odd sides), one 3-channel block, latent 2.
fn tiny_conv(device: &Device) -> Vae {
    device.seed(6);
    VaeConfig::new()
        .with_input_dim(35)
        .with_conv(Some(ConvBodyConfig::new([1, 7, 5], vec![3])))
        .with_latent_dim(2)
        .init(device)
}

fn conv_batch(device: &Device) -> (Tensor<2>, Tensor<2>) {
    let x: Vec<f32> = (0..70)
        .map(|i| ((i * 7 + 3) % 5 < 2) as u8 as f32)
        .collect();
    let eps = vec![0.3f32, -1.2, 1.5, 0.1];
    (
        Tensor::from_data(TensorData::new(x, [2, 35]), device),
        Tensor::from_data(TensorData::new(eps, [2, 2]), device),
    )
}

#[test]
fn conv_vae_elbo_terms_match_an_independent_f64_computation() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let vae = tiny_conv(&dev);
    assert!(vae.encoder.as_mlp().is_none() && vae.decoder.as_mlp().is_none());
    let (x, eps) = conv_batch(&dev);
    check_elbo_terms(&vae, x, eps);
}

#[test]
fn conv_vae_gaussian_learned_decoder_emits_mean_and_scale_channels() {
    let _serial = crate::serial();
    // P = 2 parameters per pixel: the decoder's output has 2 channels, flattened to
    // [means of all pixels | scales of all pixels], and the log-likelihood is finite.
    let dev = Device::flex();
    dev.seed(1);
    let vae = VaeConfig::new()
        .with_input_dim(2 * 6 * 6)
        .with_conv(Some(ConvBodyConfig::new([2, 6, 6], vec![4]).with_kernel(3)))
        .with_latent_dim(3)
        .with_likelihood(deepgen_autoencoders::LikelihoodConfig::GaussianLearned)
        .init(&dev);
    let z = Tensor::<2>::zeros([5, 3], &dev);
    assert_eq!(vae.decode(z.clone()).dims(), [5, 144]);
    assert_eq!(vae.decode_means(z).dims(), [5, 72]);
    let x = Tensor::<2>::random([5, 72], Distribution::Uniform(0.0, 1.0), &dev);
    let eps = Tensor::<2>::zeros([5, 3], &dev);
    let t = vae.elbo_terms_with_noise(x, eps);
    let r: Vec<f32> = t.recon_nll.into_data().try_to_vec().unwrap();
    assert!(r.iter().all(|v| v.is_finite()), "{r:?}");
}

#[test]
fn conv_shape_that_does_not_match_input_dim_is_rejected() {
    let _serial = crate::serial();
    let err = VaeConfig::new()
        .with_conv(Some(ConvBodyConfig::new([3, 28, 28], vec![8])))
        .try_init(&Device::flex())
        .unwrap_err();
    assert_eq!(
        (err.config, err.field.as_str()),
        ("VaeConfig", "body.conv.shape")
    );
    assert!(err.reason.contains("`input_dim` is 784"), "{err}");
}

#[test]
#[should_panic(expected = "VaeConfig.body.conv.shape")]
fn init_panics_with_the_field_path() {
    let _serial = crate::serial();
    VaeConfig::new()
        .with_conv(Some(ConvBodyConfig::new([3, 28, 28], vec![8])))
        .init(&Device::flex());
}

/// Every VAE-style config checks the shared body the same way and names the field from the
/// outer config; the model-specific fields are checked beside it.
#[test]
fn every_vae_config_validates_its_body_and_own_fields() {
    let _serial = crate::serial();
    use deepgen_autoencoders::{CvaeConfig, IafVaeConfig, SphericalVaeConfig};
    use deepgen_tensor::Validate;
    let field = |r: Result<(), deepgen_tensor::ConfigError>| {
        let e = r.unwrap_err();
        format!("{}.{}", e.config, e.field)
    };
    let zero_width = vec![16, 0];
    assert_eq!(
        field(VaeConfig::new().with_hidden(zero_width.clone()).validate()),
        "VaeConfig.body.hidden[1]"
    );
    assert_eq!(
        field(
            SphericalVaeConfig::new()
                .with_hidden(zero_width.clone())
                .validate()
        ),
        "SphericalVaeConfig.body.hidden[1]"
    );
    assert_eq!(
        field(IafVaeConfig::new().with_input_dim(0).validate()),
        "IafVaeConfig.body.input_dim"
    );
    assert_eq!(
        field(CvaeConfig::new().with_hidden(zero_width).validate()),
        "CvaeConfig.body.hidden[1]"
    );
    assert_eq!(
        field(VaeConfig::new().with_bn_gamma(Some(-1.0)).validate()),
        "VaeConfig.bn_gamma"
    );
    assert_eq!(
        field(SphericalVaeConfig::new().with_latent_dim(1).validate()),
        "SphericalVaeConfig.latent_dim"
    );
    assert_eq!(
        field(
            CvaeConfig::new()
                .with_conv(Some(ConvBodyConfig::new([1, 28, 28], vec![8])))
                .validate()
        ),
        "CvaeConfig.body.conv"
    );
    assert_eq!(
        field(
            VaeConfig::new()
                .with_likelihood(deepgen_autoencoders::LikelihoodConfig::GaussianFixed { std: 0.0 })
                .validate()
        ),
        "VaeConfig.body.likelihood.std"
    );
    // The defaults are valid, and the spherical VAE keeps its own default widths.
    VaeConfig::new().validate().unwrap();
    CvaeConfig::new().validate().unwrap();
    IafVaeConfig::new().validate().unwrap();
    assert_eq!(SphericalVaeConfig::new().body.hidden, vec![256, 128]);
    assert_eq!(VaeConfig::new().body.hidden, vec![512, 256]);
}

/// Trains `vae` with Adam at `lr` for 300 steps on one fixed batch and noise; returns the
/// trained model and the negative ELBO before and after.
fn overfit(mut vae: Vae, x: &Tensor<2>, eps: &Tensor<2>, lr: f64) -> (Vae, f32, f32) {
    let loss = |v: &Vae| v.elbo_terms_with_noise(x.clone(), eps.clone()).loss(1.0);
    let mut optim = AdamConfig::new().init();
    let first = loss(&vae).into_scalar::<f32>();
    for _ in 0..300 {
        let grads = GradientsParams::from_grads(loss(&vae).backward(), &vae);
        vae = optim.step(lr, vae, grads);
    }
    let last = loss(&vae).into_scalar::<f32>();
    (vae, first, last)
}

#[test]
fn conv_vae_save_load_round_trip_and_overfit() {
    let _serial = crate::serial();
    let ad = Device::flex().autodiff();
    let (x, eps) = conv_batch(&ad);
    let (vae, first, last) = overfit(tiny_conv(&ad), &x, &eps, 1e-2);
    // Start ≈ 35·ln 2 = 24.3 nats; two fixed 35-pixel images are memorised to a few nats.
    assert!(first > 20.0 && last < 8.0, "negative ELBO {first} → {last}");

    let dir = std::env::temp_dir().join(format!("deepgen-convvae-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vae.bpk");
    let trained = vae.valid();
    trained.clone().save_file(&path).unwrap();
    let plain = Device::flex();
    let loaded = tiny_conv(&plain).try_load_file(&path).unwrap();
    let (xp, ep) = conv_batch(&plain);
    let a: Vec<f32> = trained
        .elbo_terms_with_noise(xp.clone(), ep.clone())
        .recon_nll
        .into_data()
        .try_to_vec()
        .unwrap();
    let b: Vec<f32> = loaded
        .elbo_terms_with_noise(xp, ep)
        .recon_nll
        .into_data()
        .try_to_vec()
        .unwrap();
    assert_eq!(a, b);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn gradient_matches_finite_differences() {
    let _serial = crate::serial();
    // d loss / d (decoder output bias) by autodiff vs central differences (h = 1e-2; the loss is
    // smooth and O(10), so the f32 truncation error of the difference is ≈ 1e-4).
    let ad = Device::flex().autodiff();
    let vae = tiny(&ad);
    let (x, eps) = batch(&ad);
    let loss = vae.elbo_terms_with_noise(x.clone(), eps.clone()).loss(0.7);
    let grads = loss.backward();
    let bias = vae.decoder.as_mlp().unwrap().layers[1]
        .bias
        .as_ref()
        .unwrap();
    let g: Vec<f32> = bias
        .val()
        .grad(&grads)
        .unwrap()
        .into_data()
        .try_to_vec()
        .unwrap();

    let plain = Device::flex();
    let base = vae.valid();
    let bytes = base.clone().into_record().into_bytes().unwrap().to_vec();
    let (xp, ep) = batch(&plain);
    for d in 0..6 {
        let eval = |delta: f32| -> f64 {
            let m = tiny(&plain).load_record(
                ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.clone())).unwrap(),
            );
            let b = m.decoder.as_mlp().unwrap().layers[1].bias.clone().unwrap();
            let mut v: Vec<f32> = b.val().into_data().try_to_vec().unwrap();
            v[d] += delta;
            let mut m = m;
            m.decoder.as_mlp_mut().unwrap().layers[1].bias =
                Some(b.map(|_| Tensor::from_data(TensorData::new(v, [6]), &plain)));
            m.elbo_terms_with_noise(xp.clone(), ep.clone())
                .loss(0.7)
                .into_scalar::<f32>() as f64
        };
        let h = 1e-2;
        let fd = (eval(h) - eval(-h)) / (2.0 * h as f64);
        assert!(
            (fd - g[d] as f64).abs() < 1e-3,
            "bias[{d}]: autodiff {} vs fd {fd}",
            g[d]
        );
    }
}

#[test]
fn save_load_round_trip_preserves_outputs() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let vae = tiny(&dev);
    let (x, eps) = batch(&dev);
    let before: Vec<f32> = vae
        .elbo_terms_with_noise(x.clone(), eps.clone())
        .recon_nll
        .into_data()
        .try_to_vec()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("deepgen-vae-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vae.bpk");
    vae.save_file(&path).unwrap();
    dev.seed(99);
    let fresh = VaeConfig::new()
        .with_input_dim(6)
        .with_hidden(vec![4])
        .with_latent_dim(2)
        .init(&dev);
    let loaded = fresh.try_load_file(&path).unwrap();
    let after: Vec<f32> = loaded
        .elbo_terms_with_noise(x, eps)
        .recon_nll
        .into_data()
        .try_to_vec()
        .unwrap();
    assert_eq!(before, after);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn overfits_one_batch() {
    let _serial = crate::serial();
    let ad = Device::flex().autodiff();
    ad.seed(2);
    let vae = VaeConfig::new()
        .with_hidden(vec![128])
        .with_latent_dim(8)
        .init(&ad);
    let x = Tensor::<2>::random([16, 784], Distribution::Bernoulli(0.2), &ad);
    let eps = Tensor::<2>::zeros([16, 8], &ad);
    let (_, first, last) = overfit(vae, &x, &eps, 3e-3);
    // Start: ≈ 784·ln 2 = 543 nats. Memorising 16 random images with a deterministic code
    // (ε = 0) drives the reconstruction far below the 784·H(0.2) = 392 nats of the best
    // pixel-independent model.
    assert!(
        first > 500.0 && last < 200.0,
        "negative ELBO {first} → {last}"
    );
}

#[test]
fn trains_through_the_shared_loop_on_real_mnist() {
    let _serial = crate::serial();
    let mnist = Mnist::load(None).expect("bundled MNIST");
    let ad = Device::flex().autodiff();
    ad.seed(0);
    let vae = VaeConfig::new()
        .with_hidden(vec![256])
        .with_latent_dim(16)
        .init(&ad);
    let mut task = VaeTask::new(
        mnist.train.subset(4096),
        mnist.test.subset(1000),
        64,
        Binarization::Dynamic,
        0,
    );
    let out = std::env::temp_dir().join(format!("deepgen-vae-loop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let report = Trainer::new(&out)
        .epochs(2)
        .lr(Schedule::Constant(1e-3))
        .num_samples(16)
        .progress(false)
        .weight_schedule("beta", Schedule::Constant(1.0))
        .fit(&mut task, vae, AdamConfig::new().init(), &ad)
        .unwrap();
    let last = report.last.unwrap();
    let elbo = last.get("test_elbo").unwrap();
    // 128 steps of a 784-256-16 VAE: the test ELBO is far above the −543 nats of a
    // uniform model and still far from converged (≈ −100).
    assert!((-250.0..-120.0).contains(&elbo), "test ELBO {elbo}");
    let (recon, kl) = (
        last.get("test_recon").unwrap(),
        last.get("test_kl").unwrap(),
    );
    assert!((elbo + recon + kl).abs() < 1e-6);
    let (shape, data) = deepgen_tensor::output::read_npy_f32(&out.join("samples.npy")).unwrap();
    assert_eq!(shape, vec![16, 1, 28, 28]);
    assert!(data.iter().all(|v| (0.0..=1.0).contains(v)));
    std::fs::remove_dir_all(&out).ok();
}
