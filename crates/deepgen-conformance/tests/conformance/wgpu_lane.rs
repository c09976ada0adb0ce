//! wgpu lane (needs a Vulkan driver — CI installs Mesa's lavapipe — so `#[ignore]`d in the plain
//! test run; `-- --ignored` runs it): the VAE's negative-ELBO terms on wgpu equal flex's for
//! identical parameters, inputs and noise, and a few Adam steps on wgpu lower the loss.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Distribution, Tensor, TensorData};
use deepgen_autoencoders::VaeConfig;
use deepgen_autoencoders::WithBody as _;
use deepgen_tensor::BackendKind;

fn input(device: &Device) -> (Tensor<2>, Tensor<2>) {
    let x: Vec<f32> = (0..16 * 784)
        .map(|i| ((i * 7919) % 3 == 0) as u8 as f32)
        .collect();
    let eps: Vec<f32> = (0..16 * 8)
        .map(|i| ((i * 37 % 17) as f32 - 8.0) / 5.0)
        .collect();
    (
        Tensor::from_data(TensorData::new(x, [16, 784]), device),
        Tensor::from_data(TensorData::new(eps, [16, 8]), device),
    )
}

#[test]
#[ignore = "wgpu lane: needs a Vulkan driver; run with -- --ignored"]
fn vae_terms_match_flex() {
    let config = VaeConfig::new().with_hidden(vec![64]).with_latent_dim(8);
    let flex = Device::flex();
    flex.seed(1);
    let reference = config.init(&flex);
    let bytes = reference
        .clone()
        .into_record()
        .into_bytes()
        .unwrap()
        .to_vec();
    let gpu = BackendKind::Wgpu.device().unwrap();
    let on_gpu = config
        .init(&gpu)
        .load_record(ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).unwrap());

    let (x, eps) = input(&flex);
    let a = reference.elbo_terms_with_noise(x, eps);
    let (x, eps) = input(&gpu);
    let b = on_gpu.elbo_terms_with_noise(x, eps);
    for (name, ta, tb) in [("recon", a.recon_nll, b.recon_nll), ("kl", a.kl, b.kl)] {
        let va: Vec<f32> = ta.into_data().try_to_vec().unwrap();
        let vb: Vec<f32> = tb.into_data().try_to_vec().unwrap();
        for (p, q) in va.iter().zip(&vb) {
            // Values are ~550 nats (recon) and ~1 (kl); f32 summation order differs.
            assert!(
                (p - q).abs() <= 1e-3 * p.abs().max(1.0),
                "{name}: flex {p} vs wgpu {q}"
            );
        }
    }
}

#[test]
#[ignore = "wgpu lane: needs a Vulkan driver; run with -- --ignored"]
fn adam_steps_on_wgpu_lower_the_loss() {
    let gpu = BackendKind::Wgpu.device().unwrap().autodiff();
    gpu.seed(3);
    let mut model = VaeConfig::new()
        .with_hidden(vec![64])
        .with_latent_dim(8)
        .init(&gpu);
    let mut optim = AdamConfig::new().init();
    let x = Tensor::<2>::random([32, 784], Distribution::Bernoulli(0.2), &gpu);
    let eps = Tensor::<2>::zeros([32, 8], &gpu);
    let first = model
        .elbo_terms_with_noise(x.clone(), eps.clone())
        .loss(1.0)
        .into_scalar::<f32>();
    for _ in 0..20 {
        let loss = model
            .elbo_terms_with_noise(x.clone(), eps.clone())
            .loss(1.0);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model, grads);
    }
    let last = model
        .elbo_terms_with_noise(x, eps)
        .loss(1.0)
        .into_scalar::<f32>();
    assert!(
        last.is_finite() && last < first - 10.0,
        "loss {first} → {last}"
    );
}
